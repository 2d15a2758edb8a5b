"""Issue 19: what moving a further real app found. Waline (the comment system many static blogs run on
LeanCloud) was moved from a console export to ``leanorm serve`` with its server unchanged (the npm
package, its ``leancloud-storage`` client pointed at the new address). Each test is one thing that app
relies on, in our own words."""
from __future__ import annotations

import json

from leanorm import connect, using, using_master
from leanorm.introspect import models_source
from leanorm.transfer.export_format import open_export
from leanorm.transfer.importer import import_export
from leanorm.transfer.verify import verify
from tests.migration.console_export import PRIVATE_SOURCES, file_host
from tests.security.raw_http import Raw, raw, refused  # noqa: F401  (the fixture)
from tests.served import served  # noqa: F401  (the fixture)


def test_a_field_name_starting_with_a_digit_is_kept_by_the_import(tmp_path):
    # Waline keeps a user's TOTP secret in the field ``2fa``: LeanCloud stores it, so an export has it
    row = {"objectId": "u2fa", "email": "guest@example.com", "2fa": "JBSWY3DPEHPK3PXP", "type": "guest"}
    (tmp_path / "Users.jsonl").write_text(json.dumps(row) + "\n")
    app = connect("local://:memory:")
    report = import_export(tmp_path, app)["Users"]
    assert report.copied == 1 and not report.failed, report.summary()
    assert verify(open_export(tmp_path), app)["Users"].differences == []


def test_the_leancloud_dialect_writes_and_queries_a_field_starting_with_a_digit(raw):
    created = raw.call("POST", "classes/Users", {"email": "owner@example.com"}, master=True)
    if raw.dialect == "parse":  # Parse Server's rule: a field name starts with a letter
        status, answer = raw.call("PUT", f"classes/Users/{created[1]['objectId']}", {"2fa": "S"}, master=True)
        refused((status, answer), 400, 105)
        return
    object_id = created[1]["objectId"]
    raw.ok("PUT", f"classes/Users/{object_id}", {"2fa": "JBSWY3DPEHPK3PXP"}, master=True)
    found = raw.ok("GET", "classes/Users", params={"where": {"2fa": "JBSWY3DPEHPK3PXP"}}, master=True)
    assert [r["objectId"] for r in found["results"]] == [object_id]
    assert raw.ok("GET", f"classes/Users/{object_id}", master=True)["2fa"] == "JBSWY3DPEHPK3PXP"
    ordered = raw.ok("GET", "classes/Users", params={"order": "-2fa", "keys": "2fa"}, master=True)
    assert ordered["results"][0]["2fa"] == "JBSWY3DPEHPK3PXP"


def test_verify_says_why_it_could_not_compare_a_file(tmp_path):
    # LeanTodo's attachment was on a private file server: imported with the opt-in, then verified without
    # it, the difference must name the reason, not read as a lost file
    with file_host({"plan.png": b"attachment bytes"}) as host:
        file_row = {"objectId": "f1", "name": "plan.png", "url": f"{host}/plan.png"}
        todo = {"objectId": "t1", "content": "plan", "attachment": {"__type": "File", "id": "f1", "name": "plan.png",
                                                                    "url": file_row["url"]}}
        (tmp_path / "_File.jsonl").write_text(json.dumps(file_row) + "\n")
        (tmp_path / "Todo.jsonl").write_text(json.dumps(todo) + "\n")
        app = connect("local://:memory:")
        import_export(tmp_path, app, fetch_policy=PRIVATE_SOURCES)
        assert verify(open_export(tmp_path), app, fetch_policy=PRIVATE_SOURCES)["Todo"].differences == []
        lines = verify(open_export(tmp_path), app)["Todo"].lines()
    assert any("not a public address" in line and "--allow-private-file-urls" in line for line in lines), lines


def test_inspect_writes_python_for_a_field_starting_with_a_digit():
    client = connect("local://:memory:", default=False)
    with using(client), using_master():
        client.request("POST", "classes/Users", body={"email": "owner@example.com", "2fa": "JBSWY3DPEHPK3PXP"})
        source = models_source(client)
        namespace: dict = {}
        exec(compile(source, "waline_models.py", "exec"), namespace)  # the generated module runs as written
        owner = namespace["Users"].objects.get(email="owner@example.com")
        assert owner.field_2fa == "JBSWY3DPEHPK3PXP"


def test_cql_orders_by_a_minus_prefixed_key(served):  # noqa: F811  (the fixture)
    # Valine loads a page's replies with "... where rid in (...) order by -createdAt,-createdAt", a form
    # LeanCloud's CQL takes (as its Java SDK's tests do): the replies never showed
    lc = Raw(served, "leancloud")
    for n in range(3):
        lc.ok("POST", "classes/ValineComment", {"rid": "r1", "n": n}, master=True)
    for order, expected in (("-n", [2, 1, 0]), ("+n", [0, 1, 2]), ("n desc", [2, 1, 0]), ("-n, +rid", [2, 1, 0])):
        answer = lc.ok("GET", "cloudQuery", params={
            "cql": f"select * from ValineComment where rid in ('r1') order by {order}"}, master=True)
        assert [r["n"] for r in answer["results"]] == expected, order
    valine = lc.ok("GET", "cloudQuery", params={
        "cql": 'select * from ValineComment where rid in ("r1") order by -createdAt,-createdAt'})
    assert sorted(r["n"] for r in valine["results"]) == [0, 1, 2]


def test_verify_compares_a_password_column_outside_user(tmp_path):
    # Waline keeps its users (and their password hashes) in a class of its own, ``Users``: there a
    # ``password`` or ``salt`` is the app's data, the only copy of its logins, and a changed one is a loss
    row = {"objectId": "w1", "email": "owner@example.com", "password": "$2a$08$Mx0vBQEjwLlDmOMEKvh8meYZAdba3PqMLk",
           "salt": "s1"}
    (tmp_path / "Users.jsonl").write_text(json.dumps(row) + "\n")
    app = connect("local://:memory:")
    import_export(tmp_path, app)
    with using(app), using_master():
        assert {k: v for k, v in app.request("GET", "classes/Users/w1").items() if k in row} == row
        assert verify(open_export(tmp_path), app)["Users"].differences == []
        app.request("PUT", "classes/Users/w1", body={"password": "lost", "salt": "s2"})
        assert verify(open_export(tmp_path), app, timestamps=False)["Users"].differences == ["w1: password, salt differ"]
