"""``leanorm import`` of a LeanCloud console export into ``leanorm serve`` (issue 11): everything arrives,
the old passwords work (for leanorm and for the official SDK, unchanged), a second import changes nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
import requests

import leanorm
from leanorm.auth_context import acting_as
from leanorm.migrate import class_names
from leanorm.transfer.export_format import open_export
from leanorm.transfer.importer import import_export
from leanorm.transfer.verify import verify
from tests.served import Served, serve

from .console_export import (CREATED, LOCAL_BYTES, PRIVATE_SOURCES, REMOTE_BYTES, UPDATED, ConsoleExport, build,
                             file_host)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[ConsoleExport, Served, Any]]:
    """The export imported once with the command, into a fresh served database."""
    tag = uuid.uuid4().hex[:6]
    base = tmp_path_factory.mktemp("import")
    with file_host({f"remote-{tag}.txt": REMOTE_BYTES}) as host:
        export = build(base / "export", tag, host)
        with serve(base / "target.sqlite3") as served:
            done = subprocess.run([sys.executable, "-m", "leanorm.cli", "import", str(export.archive("tar.gz")),
                                   served.leanorm_url, "--no-progress",
                                   "--allow-private-file-urls"],  # the export's remote file is on loopback
                                  capture_output=True, text=True, timeout=300, cwd=ROOT,
                                  env={**os.environ, "XDG_CACHE_HOME": str(base)})
            yield export, served, done


@pytest.fixture
def target(imported: Tuple[ConsoleExport, Served, Any]) -> Iterator[leanorm.Client]:
    client = leanorm.connect(imported[1].leanorm_url, default=False)
    with leanorm.using(client):
        yield client
    client.close()


def _get(client: leanorm.Client, class_name: str, object_id: str) -> Dict[str, Any]:
    with leanorm.using_master():
        return client.request("GET", f"classes/{class_name}/{object_id}")


def _ids(client: leanorm.Client, class_name: str, where: Any = None) -> list:
    with leanorm.using_master():
        rows = client.request("GET", f"classes/{class_name}", {"where": where or {}, "limit": 1000})["results"]
    return sorted(r["objectId"] for r in rows)


def test_the_report_counts_every_class_and_names_the_bad_line(imported: Tuple[ConsoleExport, Served, Any]) -> None:
    export, _, done = imported
    out = done.stdout
    assert done.returncode == 1, done.stderr  # the unreadable line is a failure
    for line in ("_File: 2 copied, 0 failed", "_Role: 2 copied, 0 failed", "_User: 3 copied, 0 failed",
                 "_Installation: 1 copied, 0 failed", f"{export.post}: 3 copied, 1 failed",
                 f"{export.tag_class}: 2 copied, 0 failed", f"_Join:tags:{export.post}: 0 copied, 0 failed"):
        assert line in out, out
    assert f"failed {export.post}.jsonl:2: not a JSON object" in out
    assert "1 users have no password hash in the export" in out


def test_objects_keep_ids_dates_acls_pointers(imported: Tuple[ConsoleExport, Served, Any],
                                               target: leanorm.Client) -> None:
    export = imported[0]
    assert _ids(target, export.post) == [f"p{n}{export.tag}" for n in range(3)]
    assert _ids(target, "_User") == sorted([export.ids["alice"], export.ids["bob"], export.ids["carol"]])
    assert _ids(target, "_Installation") == [export.ids["installation"]]
    post = _get(target, export.post, f"p1{export.tag}")
    assert (post["title"], post["score"], post["published"]["iso"]) == ("post 1", 1, CREATED)
    assert (post["createdAt"], post["updatedAt"]) == (CREATED, UPDATED)  # relations added, updatedAt kept
    assert post["author"] == {"__type": "Pointer", "className": "_User", "objectId": export.ids["alice"]}
    assert post["ACL"] == {export.ids["alice"]: {"read": True, "write": True},
                           f"role:{export.name('admins')}": {"read": True}}


def test_relations_and_role_membership(imported: Tuple[ConsoleExport, Served, Any], target: leanorm.Client) -> None:
    export, ids = imported[0], imported[0].ids

    def related(owner_class: str, owner: str, key: str, member_class: str) -> list:
        return _ids(target, member_class, {"$relatedTo": {"object": {
            "__type": "Pointer", "className": owner_class, "objectId": owner}, "key": key}})

    assert related(export.post, f"p2{export.tag}", "tags", export.tag_class) == [f"t0{export.tag}", f"t1{export.tag}"]
    assert related("_Role", ids["admins"], "users", "_User") == [ids["alice"]]
    assert related("_Role", ids["staff"], "users", "_User") == [ids["bob"]]
    assert related("_Role", ids["staff"], "roles", "_Role") == [ids["admins"]]
    # the role grants what it did: alice reads the posts as a member of admins
    alice = leanorm.User.login(export.name("alice"), "password")
    with acting_as(alice, alice.session_token):
        assert len(target.request("GET", f"classes/{export.post}")["results"]) == 3


def test_file_bytes_arrive_and_references_point_at_the_copies(imported: Tuple[ConsoleExport, Served, Any],
                                                             target: leanorm.Client) -> None:
    export = imported[0]
    post = _get(target, export.post, f"p0{export.tag}")
    assert post["image"]["objectId"] != export.ids["local_file"]  # a file value comes back as its _File object
    assert requests.get(post["image"]["url"], timeout=10).content == LOCAL_BYTES
    attachment = _get(target, "_File", post["attachment"]["objectId"])
    assert requests.get(attachment["url"], timeout=10).content == REMOTE_BYTES
    assert len(_ids(target, "_File")) == 2


def test_old_passwords_log_in_with_leanorm(imported: Tuple[ConsoleExport, Served, Any],
                                           target: leanorm.Client) -> None:
    export = imported[0]
    assert leanorm.User.login(export.name("bob"), "bob-secret").id == export.ids["bob"]
    with pytest.raises(leanorm.errors.AuthenticationFailed):
        leanorm.User.login(export.name("bob"), "password")


def test_the_official_sdk_logs_in_with_the_old_password(imported: Tuple[ConsoleExport, Served, Any],
                                                        sdk_python: Path) -> None:
    export, served, _ = imported
    script = ("import json, sys, leancloud\n"
              "leancloud.init(sys.argv[1], sys.argv[2])\n"
              "user = leancloud.User()\n"
              "user.login(sys.argv[3], sys.argv[4])\n"
              "print(json.dumps({'id': user.id, 'token': bool(user.get_session_token())}))\n")
    env = {**os.environ, "LEANCLOUD_API_SERVER": served.base_url}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(sdk_python), "-c", script, served.app_id, served.app_key, export.name("alice"),
                          "password"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"id": export.ids["alice"], "token": True}


def test_a_second_import_changes_nothing(imported: Tuple[ConsoleExport, Served, Any], target: leanorm.Client,
                                         tmp_path: Path) -> None:
    export = imported[0]
    before = {c: [_get(target, c, i) for i in _ids(target, c)] for c in ("_User", "_File", export.post)}
    reports = import_export(export.archive("zip"), target, state=str(tmp_path / "state.jsonl"))
    assert sum(r.copied for r in reports.values()) == 0
    assert reports[export.post].skipped == 3 and reports["_User"].skipped == 3
    after = {c: [_get(target, c, i) for i in _ids(target, c)] for c in ("_User", "_File", export.post)}
    assert after == before


def test_verify_finds_no_difference_then_every_change(imported: Tuple[ConsoleExport, Served, Any],
                                                     target: leanorm.Client) -> None:
    export, served, _ = imported
    assert {name: c.differences for name, c in verify(open_export(export.folder), target,
                                                      fetch_policy=PRIVATE_SOURCES).items() if c.differences} == {}
    with leanorm.using_master():
        target.request("PUT", f"classes/{export.post}/p0{export.tag}", body={"title": "changed"})
        target.request("PUT", f"classes/{export.post}/p1{export.tag}", body={"tags": {"__op": "RemoveRelation",
                       "objects": [{"__type": "Pointer", "className": export.tag_class, "objectId": f"t0{export.tag}"}]}})
    done = subprocess.run([sys.executable, "-m", "leanorm.cli", "verify", str(export.folder), served.leanorm_url,
                           "--classes", export.post, "--allow-private-file-urls"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert f"p0{export.tag}: title, updatedAt differ" in done.stdout
    assert f"p1{export.tag}: relation tags lacks ['t0{export.tag}']" in done.stdout


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    with file_host({}) as host:
        export = build(tmp_path / "export", "dry", host)
    target = leanorm.connect("local://:memory:", default=False)
    reports = import_export(export.folder, target, dry_run=True)
    assert reports[export.post].copied == 3 and reports["_User"].copied == 3
    assert class_names(target) == []
    target.close()


def test_a_half_made_file_copy_is_never_taken_for_the_copy(tmp_path: Path) -> None:
    """The first upload's confirmation is lost (the connection resets): the retry uploads again; a later
    run without the progress log must find exactly one copy marked as the exported file's."""
    with file_host({}) as host:
        export = build(tmp_path / "export", "half", host)
    target = leanorm.connect("local://:memory:", default=False)
    send, lost = target._send, []

    def losing_the_first_callback(request, json_answer=True):  # type: ignore[no-untyped-def]
        if request.path.endswith("fileCallback") and not lost:
            lost.append(request.path)
            send(request, json_answer)  # the server got it: only the answer is lost
            raise leanorm.errors.TransportError("connection reset by peer")
        return send(request, json_answer)

    target._send = losing_the_first_callback  # type: ignore[method-assign]
    assert import_export(export.folder, target, classes=["_File"])["_File"].copied == 1  # the remote one fails
    assert lost
    with leanorm.using_master():
        marked = target.request("GET", "classes/_File", {"where": {
            "metaData.importedFrom": export.ids["local_file"]}})["results"]
    assert len(marked) == 1
    again = import_export(export.folder, target, classes=["_File"])["_File"]
    assert (again.copied, again.skipped) == (0, 1)
    target.close()


def test_original_timestamps_can_be_kept_in_fields(tmp_path: Path) -> None:
    """For Parse Server, which sets its own createdAt/updatedAt: the originals in two fields."""
    with file_host({}) as host:
        export = build(tmp_path / "export", "kept", host)
    target = leanorm.connect("local://:memory:", default=False)
    import_export(export.folder, target, classes=[export.tag_class], keep_timestamps_in=("lcCreatedAt", "lcUpdatedAt"))
    with leanorm.using_master():
        tag = target.request("GET", f"classes/{export.tag_class}/t0kept")
    assert (tag["lcCreatedAt"]["iso"], tag["lcUpdatedAt"]["iso"]) == (CREATED, UPDATED)
    target.close()
