"""The change feed is bounded on both stores: it keeps at least the newest ``changes.KEEP`` changes, drops
older ones a hundredth of that at a time, and a reader that fell behind what is kept is told it missed
changes (live queries then tell their clients to reconnect) instead of silently skipping them."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from leanorm.embedded.server import EmbeddedServer
from leanorm.embedded.storage import changes
from tests import postgresql

KEYS = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}


@pytest.fixture(params=postgresql.STORES)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedServer]:
    url = postgresql.schema_url(request.node.name) if request.param == "postgresql" else str(tmp_path / "a.sqlite3")
    server = EmbeddedServer(url)
    yield server
    server.close()


def _kept(server: EmbeddedServer) -> int:
    with server.store.read() as conn:
        return int(conn.execute("SELECT count(*) FROM _changes").fetchone()[0])


def test_the_feed_keeps_the_newest_changes_and_a_reader_behind_them_is_told(
        server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes, "KEEP", 200)  # dropped 2 at a time
    assert changes.trim_step(200) == 2
    first = server.store.latest_change()
    for n in range(301):
        resp = server.handle("POST", "/1.1/classes/Post", {}, KEYS, json.dumps({"n": n}).encode())
        assert resp.status == 201, resp.body
    latest = server.store.latest_change()
    assert latest == first + 301
    assert 200 <= _kept(server) < 202
    # a reader as far behind as what is kept reads every change, in order
    read, missed = server.store.changes_after(latest - 200, 500)
    assert not missed
    assert [c.seq for c in read] == list(range(latest - 199, latest + 1))
    assert [c.after["n"] for c in read if c.after] == list(range(101, 301))
    # one further behind is told, and given nothing it would take for the next changes
    read, missed = server.store.changes_after(first, 500)
    assert missed


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.02)
    return True


def test_a_node_listens_to_the_changes_once_a_reader_of_the_feed_waits_in_it(request: pytest.FixtureRequest) -> None:
    """Every write announces its change to every listening process: a node with no live-query reader is
    not woken by each; once a reader waits, it hears the other node's writes at once (not at its poll)."""
    from leanorm.embedded.storage.pg_schema import CHANGES_CHANNEL, TABLES_CHANNEL
    url = postgresql.schema_url(request.node.name)
    quiet, writer = EmbeddedServer(url), EmbeddedServer(url)
    try:
        listener = quiet.store._listener  # type: ignore[attr-defined]
        assert _until(lambda: bool(listener.channels))
        assert writer.handle("POST", "/1.1/classes/Post", {}, KEYS, b'{"n": 1}').status == 201
        assert listener.channels == {TABLES_CHANNEL}

        quiet.store.wait_for_changes(0.01)  # a reader's first wait: the changes are listened to from then on
        assert _until(lambda: listener.channels == {TABLES_CHANNEL, CHANGES_CHANNEL})
        quiet.store.wait_for_changes(30)  # woken then: what committed before was announced to nobody here
        heard = threading.Event()
        reader = threading.Thread(target=lambda: (quiet.store.wait_for_changes(60), heard.set()), daemon=True)
        reader.start()
        assert writer.handle("POST", "/1.1/classes/Post", {}, KEYS, b'{"n": 2}').status == 201
        assert heard.wait(20), "the reader was not woken by the other node's commit"
    finally:
        quiet.close()
        writer.close()
