"""``leanorm copy-store``: an app moved whole from a SQLite file to a PostgreSQL database keeps what the
protocol cannot carry (password hashes, session tokens, files' bytes, counters, inboxes), and ``leanorm
verify`` then finds no difference. Runs when ``LEANORM_TEST_POSTGRESQL`` names a test database."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import leanorm
from leanorm.embedded import EmbeddedServer
from leanorm.transfer.verify import verify
from tests import postgresql
from tests.embedded.conftest import KEYS, MASTER, Api

ROOT = Path(__file__).resolve().parents[2]


def _seed(api: Api) -> dict:
    """An app with a user (password, session), posts pointing at it, a relation, a counter, a hosted
    file and a status in an inbox."""
    status, user = api("POST", "/1.1/users", body={"username": "ann", "password": "ann-password-1"})
    assert status == 201, user
    author = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    for i in range(25):
        assert api("POST", "/1.1/classes/Post", body={"title": f"p{i}", "group": f"g{i % 3}", "author": author,
                                                     "tags": [f"t{i % 4}"]})[0] == 201
    status, shelf = api("POST", "/1.1/classes/Shelf", body={"name": "s"})
    assert api("PUT", f"/1.1/classes/Shelf/{shelf['objectId']}", body={"readers": {
        "__op": "AddRelation", "objects": [author]}})[0] == 200
    api.server.create_counter("Post", "group")
    status, uploaded = api("POST", "/1.1/files/hello.txt", body=b"hello bytes",
                           headers={**KEYS, "Content-Type": "text/plain"})
    assert status == 201, uploaded
    session = {**KEYS, "X-LC-Session": user["sessionToken"]}
    assert api("POST", "/1.1/statuses", body={"data": {"message": "hi"}, "inboxType": "private", "query": {
        "className": "_User", "where": {"objectId": user["objectId"]}}}, headers=session)[0] == 201
    return {"token": user["sessionToken"], "user": user["objectId"], "file": uploaded}


def test_copy_store_moves_everything_to_postgresql(tmp_path: Path) -> None:
    url = postgresql.schema_url(str(tmp_path / "copy-target"))
    source_db = tmp_path / "app.sqlite3"
    source = EmbeddedServer(str(source_db))
    seeded = _seed(Api(source))
    source.close()

    copied = subprocess.run([sys.executable, "-m", "leanorm.cli", "copy-store", str(source_db), url],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    assert "Post: 25 objects" in copied.stdout

    target = EmbeddedServer(url)
    api = Api(target)
    try:
        status, me = api("GET", "/1.1/users/me", headers={**KEYS, "X-LC-Session": seeded["token"]})
        assert status == 200 and me["username"] == "ann"  # the session token still opens it
        status, login = api("POST", "/1.1/login", body={"username": "ann", "password": "ann-password-1"})
        assert status == 200, login  # the password hash came along
        status, counted = api("GET", "/1.1/classes/Post", {"where": json.dumps({"group": "g1"}), "count": "1",
                                                          "limit": "0"}, headers=MASTER)
        assert counted["count"] == 8
        resp = target.handle("GET", f"/files/{seeded['file']['objectId']}/hello.txt", {}, {}, None)
        assert resp.status == 200 and resp.body == b"hello bytes"
        status, inbox = api("GET", "/1.1/subscribe/statuses", {"inboxType": "private", "owner": json.dumps(
            {"__type": "Pointer", "className": "_User", "objectId": seeded["user"]})},
            headers={**KEYS, "X-LC-Session": seeded["token"]})
        assert status == 200 and [s["message"] for s in inbox["results"]] == ["hi"]
        status, members = api("GET", "/1.1/users", {"where": json.dumps({"$relatedTo": {"key": "readers", "object": {
            "__type": "Pointer", "className": "Shelf", "objectId": _only_shelf(api)}}})}, headers=MASTER)
        assert [m["username"] for m in members["results"]] == ["ann"]
    finally:
        target.close()

    differences = verify(leanorm.connect(f"local://{source_db}", default=False),
                         leanorm.connect("local+" + url, default=False))
    assert {name: c.differences for name, c in differences.items() if c.differences} == {}


def _only_shelf(api: Api) -> str:
    status, shelves = api("GET", "/1.1/classes/Shelf", headers=MASTER)
    assert status == 200
    return str(shelves["results"][0]["objectId"])
