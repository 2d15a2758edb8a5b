"""``leanorm import`` of a LeanCloud console export into the real Parse Server (issue 11): objects with
their ids, ACLs, pointers and relations, roles with their members, file bytes; old passwords log in
through ``leanorm.User.login``; a second import changes nothing."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

import leanorm
from leanorm import legacy_password
from leanorm.transfer.export_format import open_export
from leanorm.transfer.exporter import _Exporter, export_backend
from leanorm.transfer.importer import import_export
from leanorm.transfer.report import ClassReport
from leanorm.transfer.verify import verify

from .console_export import LOCAL_BYTES, PRIVATE_SOURCES, REMOTE_BYTES, ConsoleExport, build, file_host


@pytest.fixture(scope="module")
def imported(parse_with_engine: leanorm.Client, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Tuple[ConsoleExport, Dict[str, ClassReport], Path]]:
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp("parse-import")
    with file_host({f"remote-{tag}.txt": REMOTE_BYTES}) as host:
        export = build(base / "export", tag, host)
        reports = import_export(export.folder, parse_with_engine, state=str(base / "state.jsonl"),
                                fetch_policy=PRIVATE_SOURCES)
        yield export, reports, base


def _rows(client: leanorm.Client, class_name: str, where: Any) -> List[Dict[str, Any]]:
    with leanorm.using_master():
        rows = client.request("GET", f"classes/{class_name}", {"where": where, "limit": 1000})["results"]
    return sorted(rows, key=lambda r: r["objectId"])


def _ids(client: leanorm.Client, class_name: str, where: Any) -> List[str]:
    return [r["objectId"] for r in _rows(client, class_name, where)]


def test_every_object_arrives_with_its_id_acl_and_pointers(imported: Any, parse_with_engine: leanorm.Client) -> None:
    export, reports, _ = imported
    assert {name: (r.copied, len(r.failed)) for name, r in reports.items() if not name.startswith("_Join")} == {
        "_File": (2, 0), "_Role": (2, 0), "_User": (3, 0), "_Installation": (1, 0), export.post: (3, 1),
        export.tag_class: (2, 0)}
    assert reports[export.post].failed[0][0] == f"{export.post}.jsonl:2"
    ids = export.ids
    users = _rows(parse_with_engine, "_User", {"objectId": {"$in": [ids["alice"], ids["bob"], ids["carol"]]}})
    assert [u["username"] for u in users] == [export.name("alice"), export.name("bob"), export.name("carol")]
    assert all(legacy_password.FIELD not in parse_with_engine.request(
        "GET", f"classes/_User/{u['objectId']}") for u in users)  # hidden without the master key
    post = _rows(parse_with_engine, export.post, {"objectId": f"p1{export.tag}"})[0]
    assert (post["title"], post["score"]) == ("post 1", 1)
    assert post["author"] == {"__type": "Pointer", "className": "_User", "objectId": ids["alice"]}
    assert post["ACL"] == {ids["alice"]: {"read": True, "write": True}, f"role:{export.name('admins')}": {"read": True}}
    assert _ids(parse_with_engine, "_Installation", {"objectId": ids["installation"]}) == [ids["installation"]]


def test_relations_roles_and_files(imported: Any, parse_with_engine: leanorm.Client) -> None:
    export, _, _ = imported
    ids = export.ids

    def related(owner_class: str, owner: str, key: str, member_class: str) -> List[str]:
        return _ids(parse_with_engine, member_class, {"$relatedTo": {"object": {
            "__type": "Pointer", "className": owner_class, "objectId": owner}, "key": key}})

    assert related(export.post, f"p0{export.tag}", "tags", export.tag_class) == [f"t0{export.tag}", f"t1{export.tag}"]
    assert related("_Role", ids["admins"], "users", "_User") == [ids["alice"]]
    assert related("_Role", ids["staff"], "roles", "_Role") == [ids["admins"]]
    post = _rows(parse_with_engine, export.post, {"objectId": f"p0{export.tag}"})[0]
    assert requests.get(post["image"]["url"], timeout=10).content == LOCAL_BYTES
    assert post["attachment"]["__type"] == "File"  # a Pointer to _File: Parse keeps no file objects
    assert requests.get(post["attachment"]["url"], timeout=10).content == REMOTE_BYTES


def test_old_passwords_log_in_through_leanorm(imported: Any, parse_with_engine: leanorm.Client) -> None:
    export = imported[0]
    alice = leanorm.User.login(export.name("alice"), "password")
    assert alice.id == export.ids["alice"] and alice.session_token
    with pytest.raises(leanorm.errors.AuthenticationFailed):
        leanorm.User.login(export.name("bob"), "password")
    assert leanorm.User.login(export.name("bob"), "bob-secret").id == export.ids["bob"]


def test_a_second_import_changes_nothing(imported: Any, parse_with_engine: leanorm.Client) -> None:
    export, _, base = imported
    before = _rows(parse_with_engine, export.post, {"objectId": {"$exists": True}})
    for state in (str(base / "state.jsonl"), str(base / "fresh-state.jsonl")):  # resumed, and from nothing
        reports = import_export(export.folder, parse_with_engine, state=state, fetch_policy=PRIVATE_SOURCES)
        assert sum(r.copied for r in reports.values()) == 0, {n: r.lines() for n, r in reports.items()}
    assert _rows(parse_with_engine, export.post, {"objectId": {"$exists": True}}) == before


def test_verify_finds_no_difference(imported: Any, parse_with_engine: leanorm.Client) -> None:
    export = imported[0]
    # the shared server holds other tests' users and roles: compare the classes this export owns
    comparisons = verify(open_export(export.folder), parse_with_engine, [export.post, export.tag_class],
                         fetch_policy=PRIVATE_SOURCES)
    assert {n: (c.source, c.target, c.differences) for n, c in comparisons.items()} == {
        export.post: (3, 3, []), export.tag_class: (2, 2, [])}


def test_export_from_parse_then_import_elsewhere(imported: Any, parse_with_engine: leanorm.Client,
                                                  tmp_path: Path) -> None:
    """Parse Server keeps files as a name and a url: the export downloads each referenced file's bytes and
    writes a _File row for it, so the import into the embedded backend uploads them and rewrites the
    references; verify then finds the two sides equal."""
    export = imported[0]
    classes = [export.post, export.tag_class]
    reports = export_backend(parse_with_engine, tmp_path / "out", classes)
    assert {n: (r.copied, r.relations, r.failed) for n, r in reports.items()} == {
        export.post: (3, 6, []), export.tag_class: (2, 0, [])}
    assert sorted(p.read_bytes() for p in (tmp_path / "out" / "files").iterdir()) == sorted([LOCAL_BYTES, REMOTE_BYTES])
    local = leanorm.connect("local://:memory:", default=False)
    imported_again = import_export(tmp_path / "out", local)
    assert all(r.ok for r in imported_again.values()), {n: r.lines() for n, r in imported_again.items()}
    comparisons = verify(parse_with_engine, local, classes)
    assert {n: (c.source, c.target, c.differences) for n, c in comparisons.items()} == {
        export.post: (3, 3, []), export.tag_class: (2, 2, [])}
    local.close()


def test_an_export_cut_off_between_a_files_bytes_and_its_row_resumes_whole(
        imported: Any, parse_with_engine: leanorm.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first run stops right after saving a file's bytes, before the _File row that lists them: the
    rerun must still list that file (once), or the import would leave its references unresolved."""
    export = imported[0]
    classes = [export.post, export.tag_class]
    original = _Exporter._download

    def download_then_crash(self: _Exporter, name: str, url: str, report: ClassReport) -> bool:
        original(self, name, url, report)
        raise KeyboardInterrupt("cut off")

    monkeypatch.setattr(_Exporter, "_download", download_then_crash)
    with pytest.raises(KeyboardInterrupt):
        export_backend(parse_with_engine, tmp_path / "out", classes)
    assert len(list((tmp_path / "out" / "files").iterdir())) == 1
    monkeypatch.setattr(_Exporter, "_download", original)
    export_backend(parse_with_engine, tmp_path / "out", classes)
    rows = [line for line in (tmp_path / "out" / "_File.jsonl").read_text().splitlines() if line]
    assert len(rows) == len(set(rows)) == 2
    local = leanorm.connect("local://:memory:", default=False)
    reports = import_export(tmp_path / "out", local)
    assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
    comparisons = verify(parse_with_engine, local, classes)
    assert {n: c.differences for n, c in comparisons.items()} == {export.post: [], export.tag_class: []}
    local.close()
