"""``verify`` takes the defaults a target adds for what they are (issue 19, item 5): a sparse export (no
ACLs, users without ``emailVerified``) imported whole reaches 0 differences, and a real change still shows."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import leanorm
from leanorm.transfer.export_format import open_export
from leanorm.transfer.importer import import_export
from leanorm.transfer.verify import verify
from tests.served import serve


def test_a_sparse_export_verifies_without_differences(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "_User.jsonl").write_text(json.dumps({"objectId": "u1", "username": "ann", "email": "ann@example.com",
                                                    "mobilePhoneNumber": "+8613800000000"}) + "\n")
    (export / "Note.jsonl").write_text(json.dumps({"objectId": "n1", "text": "hi"}) + "\n"
                                       + json.dumps({"objectId": "n2", "text": "kept", "ACL": {"u1": {"read": True}}})
                                       + "\n")
    with serve(tmp_path / "app.sqlite3") as served:
        target = leanorm.connect(served.leanorm_url, default=False)
        assert all(r.ok for r in import_export(export, target).values())
        assert {n: c.differences for n, c in verify(open_export(export), target).items()} == {"Note": [], "_User": []}

        with leanorm.using_master():  # what the target changes afterwards is still a difference
            target.request("PUT", "classes/_User/u1", body={"emailVerified": True})
            target.request("PUT", "classes/Note/n1", body={"ACL": {"u1": {"read": True, "write": True}}})
            target.request("PUT", "classes/Note/n2", body={"ACL": {"*": {"read": True, "write": True}}})
        found = {n: c.differences for n, c in verify(open_export(export), target, timestamps=False).items()}
        assert found == {"Note": ["n1: ACL differs", "n2: ACL differs"], "_User": ["u1: emailVerified differs"]}
        target.close()


def test_a_leancloud_phone_number_without_its_country_code_is_no_difference(tmp_path: Path) -> None:
    """LeanCloud keeps ``13800000001``; the embedded backend stores it as ``+8613800000001``: one number."""
    export = tmp_path / "export"
    export.mkdir()
    (export / "_User.jsonl").write_text(json.dumps({"objectId": "u1", "username": "ann",
                                                    "mobilePhoneNumber": "13800000001"}) + "\n")
    with serve(tmp_path / "app.sqlite3") as served:
        target = leanorm.connect(served.leanorm_url, default=False)
        assert all(r.ok for r in import_export(export, target).values())
        with leanorm.using_master():
            assert target.request("GET", "classes/_User/u1")["mobilePhoneNumber"] == "+8613800000001"
        assert verify(open_export(export), target)["_User"].differences == []
        with leanorm.using_master():
            target.request("PUT", "classes/_User/u1", body={"mobilePhoneNumber": "+8613800000002"})
        assert verify(open_export(export), target)["_User"].differences == ["u1: mobilePhoneNumber differs"]
        target.close()


def test_a_sparse_export_verifies_without_differences_on_parse_server(parse_with_engine: leanorm.Client,
                                                                      tmp_path: Path) -> None:
    """Parse Server gives a user written with the master key an ACL of its own: a default, not a loss."""
    tag = uuid.uuid4().hex[:6]
    export = tmp_path / "export"
    export.mkdir()
    (export / "_User.jsonl").write_text(json.dumps({"objectId": f"u{tag}", "username": f"sparse{tag}"}) + "\n")
    (export / f"Sparse{tag}.jsonl").write_text(json.dumps({"objectId": f"n{tag}", "text": "hi"}) + "\n")
    assert all(r.ok for r in import_export(export, parse_with_engine).values())
    found = verify(open_export(export), parse_with_engine, ["_User", f"Sparse{tag}"])
    assert found[f"Sparse{tag}"].differences == []
    # the shared server holds other tests' users: this export's user is what must match
    assert [d for d in found["_User"].differences if tag in d] == []
