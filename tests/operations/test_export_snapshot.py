"""``leanorm export`` of the embedded store reads one snapshot while writes go on; ``leanorm verify``
reports pointers that resolve to nothing."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import leanorm
from leanorm.transfer.exporter import export_backend
from leanorm.transfer.verify import verify

MASTER = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-master,master"}


def _pairs(server, start: int, count: int) -> None:
    """``count`` authors and a post pointing to each, every pair in one transaction."""
    requests = []
    for n in range(start, start + count):
        author, post = f"a{n:07d}", f"p{n:07d}"
        requests += [{"method": "POST", "path": "/1.1/classes/Author", "body": {"objectId": author, "n": n}},
                     {"method": "POST", "path": "/1.1/classes/Post", "body": {
                         "objectId": post, "author": {"__type": "Pointer", "className": "Author", "objectId": author}}}]
    answer = server.handle("POST", "/1.1/batch", headers=MASTER, body=json.dumps(
        {"requests": requests, "transaction": True}).encode())
    assert answer.status == 200, answer.body


def _write_pairs(database: str, started, stop) -> None:
    from leanorm.embedded.server import EmbeddedServer
    server = EmbeddedServer(database)
    n = 1_000_000  # ids after every existing one: new posts land in pages still to be read
    while not stop.is_set():
        _pairs(server, n, 20)
        n += 20
        started.set()
    server.close()


def test_export_of_the_embedded_store_is_one_snapshot(tmp_path: Path) -> None:
    database = str(tmp_path / "app.sqlite3")
    source = leanorm.connect(f"local://{database}", default=False)
    server = source.transport.server
    for start in range(0, 3000, 50):
        _pairs(server, start, 50)
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    writer = context.Process(target=_write_pairs, args=(database, started, stop))
    writer.start()
    try:
        assert started.wait(60)
        reports = export_backend(source, tmp_path / "out", ["Author", "Post"])
    finally:
        stop.set()
        writer.join(60)
    assert all(r.ok for r in reports.values())
    authors = {json.loads(line)["objectId"] for line in (tmp_path / "out" / "Author.jsonl").read_text().splitlines()}
    posts = [json.loads(line) for line in (tmp_path / "out" / "Post.jsonl").read_text().splitlines()]
    dangling = [p["objectId"] for p in posts if p["author"]["objectId"] not in authors]
    assert len(posts) >= 3000 and dangling == []
    assert len(authors) == len(posts)  # every pair whole, or not at all
    source.close()


def test_verify_reports_dangling_pointers(tmp_path: Path) -> None:
    a = leanorm.connect("local://:memory:", default=False)
    b = leanorm.connect("local://:memory:", default=False)
    for client in (a, b):
        with leanorm.using_master():
            client.request("POST", "classes/Author", body={"objectId": "a1"})
            for post, author in (("p1", "a1"), ("p2", "gone")):
                client.request("POST", "classes/Post", body={"objectId": post, "author": {
                    "__type": "Pointer", "className": "Author", "objectId": author}})
    comparisons = verify(a, b, timestamps=False)
    assert comparisons["Post"].dangling == ["p2: author points to Author gone, which the source does not hold"]
    assert "1 dangling pointers" in comparisons["Post"].lines()[0]
    assert comparisons["Author"].dangling == []


def test_an_export_over_rest_says_it_is_not_a_snapshot(tmp_path: Path) -> None:
    from leanorm.transfer.exporter import NOT_A_SNAPSHOT
    from tests.served import serve
    with serve(tmp_path / "app.sqlite3", "--workers", "1") as served:
        client = leanorm.connect(served.leanorm_url, default=False)
        with leanorm.using_master():
            client.request("POST", "classes/Author", body={"n": 1})
        reports = export_backend(client, tmp_path / "out", ["Author"])
        client.close()
    assert NOT_A_SNAPSHOT in reports["Author"].notes


def test_a_write_inside_a_snapshot_is_refused(tmp_path: Path) -> None:
    import pytest
    from leanorm.embedded.answers import ProtocolError
    from leanorm.embedded.storage.store import SQLiteStore
    store = SQLiteStore(str(tmp_path / "app.sqlite3"))
    try:
        with store.snapshot():
            with pytest.raises(ProtocolError):
                with store.write() as conn:
                    conn.execute("CREATE TABLE t (x)")
        with store.read() as conn:  # nothing was written, and the store goes on
            assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='t'").fetchone()[0] == 0
        with store.write() as conn:
            conn.execute("CREATE TABLE t (x)")
    finally:
        store.close()
