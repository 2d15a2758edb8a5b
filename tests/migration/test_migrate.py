"""``leanorm migrate``: users and files cross between backends; migrate and import finish on a flaky link
(issues 11 and 14)."""
from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

import leanorm
from leanorm import File
from leanorm.legacy_password import leancloud_hash
from leanorm.migrate import copy_all
from leanorm.transfer.export_format import open_export
from leanorm.transfer.file_copies import download
from leanorm.transfer.importer import import_export
from leanorm.transfer.verify import verify
from tests.faults.proxy import FaultProxy
from tests.served import serve


def _source_with_users_and_files(client: leanorm.Client, tag: str) -> Dict[str, Any]:
    with leanorm.using(client):
        ann = leanorm.User.signup(f"ann{tag}", "ann-password", email=f"ann{tag}@example.com")
        with leanorm.using_master():
            logo = File("logo.png", io.BytesIO(b"\x89PNG logo bytes")).save()
            doc = File("doc.txt", b"document bytes").save()
            client.request("POST", f"classes/MigDoc{tag}", body={
                "objectId": f"d1{tag}", "title": "with files", "logo": logo.to_wire(),
                "doc": {"__type": "Pointer", "className": "_File", "objectId": doc.id},
                "owner": {"__type": "Pointer", "className": "_User", "objectId": ann.id},
                "ACL": {ann.id: {"read": True, "write": True}}})
    return {"ann": ann.id}


def test_users_and_files_cross_between_two_served_databases(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    with serve(tmp_path / "source.sqlite3") as src, serve(tmp_path / "target.sqlite3") as dst:
        source = leanorm.connect(src.leanorm_url, default=False)
        target = leanorm.connect(dst.leanorm_url, default=False)
        ids = _source_with_users_and_files(source, tag)
        reports = copy_all(source, target)
        assert {n: (r.copied, r.failed) for n, r in reports.items()} == {
            "_File": (2, []), "_User": (1, []), f"MigDoc{tag}": (1, [])}
        assert "password reset" in " ".join(reports["_User"].notes)
        with leanorm.using_master():
            doc = target.request("GET", f"classes/MigDoc{tag}/d1{tag}")
            attached = target.request("GET", f"classes/_File/{doc['doc']['objectId']}")
        assert requests.get(doc["logo"]["url"], timeout=10).content == b"\x89PNG logo bytes"
        assert requests.get(attached["url"], timeout=10).content == b"document bytes"
        assert doc["owner"]["objectId"] == ids["ann"]
        assert {n: c.differences for n, c in verify(source, target).items() if c.differences} == {}
        again = copy_all(source, target)
        assert sum(r.copied for r in again.values()) == 0
        source.close()
        target.close()


def test_migrate_finishes_on_a_flaky_link(tmp_path: Path) -> None:
    """2,000 objects with relations through proxies resetting 5% of the client's sends (half of them
    after the server applied the request): reruns resume from the checkpoint, and the copy ends equal."""
    with serve(tmp_path / "source.sqlite3") as src, serve(tmp_path / "target.sqlite3") as dst:
        seeded = leanorm.connect(src.leanorm_url, default=False)
        with leanorm.using_master():
            tags = [{"objectId": f"tag{n:02d}", "name": f"t{n}"} for n in range(20)]
            for start in range(0, 2000, 50):
                seeded.batch([("POST", "classes/FlakyItem", {"objectId": f"item{n:05d}", "n": n})
                              for n in range(start, start + 50)])
            seeded.batch([("POST", "classes/FlakyTag", body) for body in tags])
            seeded.batch([("PUT", f"classes/FlakyItem/item{n:05d}", {"tags": {"__op": "AddRelation", "objects": [
                {"__type": "Pointer", "className": "FlakyTag", "objectId": f"tag{m:02d}"} for m in (n % 20, (n + 1) % 20)]}})
                for n in range(0, 200)])
        seeded.close()
        proxies = [_flaky(server.port, seed)
                   for seed, server in enumerate((src, dst))]
        flaky: List[leanorm.Client] = [
            leanorm.connect(server.leanorm_url.replace(f":{server.port}?", f":{proxy.port}?"), default=False)
            for server, proxy in zip((src, dst), proxies)]
        state = str(tmp_path / "state.jsonl")
        runs = 0
        while True:
            runs += 1
            reports = copy_all(*flaky, state=state, chunk_size=200)
            if all(r.ok for r in reports.values()) or runs == 5:
                break
        assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
        # the link was flaky (how many resets a run meets depends on how many connections the client opens)
        assert sum(proxies[0].resets.values()) + sum(proxies[1].resets.values()) > 0
        for proxy in proxies:
            proxy.close()
        source = leanorm.connect(src.leanorm_url, default=False)
        target = leanorm.connect(dst.leanorm_url, default=False)
        comparisons = verify(source, target)
        assert {n: (c.source, c.target, c.differences[:5]) for n, c in comparisons.items()} == {
            "FlakyItem": (2000, 2000, []), "FlakyTag": (20, 20, [])}
        source.close()
        target.close()


def test_import_finishes_on_a_flaky_link(tmp_path: Path) -> None:
    """1,500 exported objects, relation rows and users through a proxy resetting 5% of the sends: reruns
    resume from the checkpoint, and the target ends equal to the export."""
    export = tmp_path / "export"
    export.mkdir()
    rows = [{"objectId": f"row{n:05d}", "n": n, "tags": {"__type": "Relation", "className": "FlakyLabel"}}
            for n in range(1500)]
    (export / "FlakyRow.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (export / "FlakyLabel.jsonl").write_text("".join(json.dumps({"objectId": f"lab{n}"}) + "\n" for n in range(10)))
    (export / "_Join:tags:FlakyRow.jsonl").write_text("".join(
        json.dumps({"owningId": f"row{n:05d}", "relatedId": f"lab{n % 10}"}) + "\n" for n in range(300)))
    (export / "_User.jsonl").write_text("".join(json.dumps({
        "objectId": f"fu{n}", "username": f"flaky{n}", "salt": "s", "password": leancloud_hash(f"pw{n}", "s"),
        "ACL": {"*": {"read": True}}}) + "\n" for n in range(20)))
    with serve(tmp_path / "target.sqlite3") as dst:
        proxy = _flaky(dst.port, 7)
        flaky = leanorm.connect(dst.leanorm_url.replace(f":{dst.port}?", f":{proxy.port}?"), default=False)
        state = str(tmp_path / "state.jsonl")
        for _ in range(5):
            try:
                reports = import_export(export, flaky, state=state, batch_size=100)
            except leanorm.errors.LeanORMError:  # retries exhausted on one request: run again
                continue
            if all(r.ok for r in reports.values()):
                break
        assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
        assert sum(proxy.resets.values()) > 0  # the link was flaky (see above)
        proxy.close()
        target = leanorm.connect(dst.leanorm_url, default=False)
        comparisons = verify(open_export(export), target)
        assert {n: (c.source, c.target, c.differences[:5]) for n, c in comparisons.items()} == {
            "FlakyLabel": (10, 10, []), "FlakyRow": (1500, 1500, []), "_User": (20, 20, [])}
        with leanorm.using(target):
            assert leanorm.User.login("flaky3", "pw3").id == "fu3"
        target.close()


def test_files_of_an_in_process_database_are_copied(tmp_path: Path) -> None:
    """A ``local://`` source serves its files in-process (their urls name no reachable host): they are
    read through the source client, and verify reads the copies the same way."""
    source = leanorm.connect(f"local://{tmp_path}/source.sqlite3", default=False)
    target = leanorm.connect(f"local://{tmp_path}/target.sqlite3", default=False)
    _source_with_users_and_files(source, "inproc")
    reports = copy_all(source, target)
    assert reports["_File"].copied == 2 and all(r.ok for r in reports.values())
    assert {n: c.differences for n, c in verify(source, target).items() if c.differences} == {}
    with leanorm.using_master():
        doc = target.request("GET", "classes/MigDocinproc/d1inproc")
    assert download(doc["logo"]["url"], client=target).read() == b"\x89PNG logo bytes"
    source.close()
    target.close()


def _flaky(port: int, seed: int) -> FaultProxy:
    """A proxy to ``port`` resetting 5% of the client's sends, before or after the server sees them."""
    proxy = FaultProxy("127.0.0.1", port)
    proxy.fault("flaky", rate=0.05, seed=seed)
    return proxy
