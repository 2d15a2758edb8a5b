"""``leanorm backup`` under concurrent writes: a consistent copy holding every write acknowledged before it
started; ``leanorm restore`` puts it back."""
from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from leanorm.cli import main
from leanorm.embedded.server import EmbeddedServer
from leanorm.embedded.storage.store import SQLiteStore


def _write_forever(database: str, acknowledged: "multiprocessing.sharedctypes.Synchronized", stop) -> None:
    store = SQLiteStore(database)
    try:
        with store.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        n = 0
        while not stop.is_set():
            n += 1
            with store.write() as conn:  # one commit per row, as one request each
                conn.execute("INSERT INTO ledger VALUES (?, ?)", (n, "x" * 512))
            acknowledged.value = n
    finally:
        store.close()


def _ids(path: Path) -> list:
    with sqlite3.connect(str(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [row[0] for row in conn.execute("SELECT id FROM ledger ORDER BY id")]


def test_backup_under_concurrent_writes_is_consistent_and_complete(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    context = multiprocessing.get_context("spawn")
    acknowledged, stop = context.Value("q", 0), context.Event()
    writer = context.Process(target=_write_forever, args=(str(database), acknowledged, stop))
    writer.start()
    try:
        while acknowledged.value < 2000:  # the writer is well under way
            writer.join(0.05)
            assert writer.exitcode is None
        copies = []
        for round_ in range(3):
            before = acknowledged.value
            copy = tmp_path / f"copy{round_}.sqlite3"
            assert main(["backup", "--db", str(database), str(copy)]) == 0
            ids = _ids(copy)
            assert ids == list(range(1, len(ids) + 1))  # one snapshot: no gap, no torn transaction
            assert len(ids) >= before  # every write acknowledged before the backup began
            copies.append((copy, len(ids)))
    finally:
        stop.set()
        writer.join(30)
    assert writer.exitcode == 0
    copy, rows = copies[-1]
    restored = tmp_path / "restored.sqlite3"
    assert main(["restore", "--db", str(restored), str(copy)]) == 0
    assert _ids(restored) == list(range(1, rows + 1))
    server = EmbeddedServer(str(restored))  # the restored file serves
    try:
        with server.store.read() as conn:
            assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == rows
    finally:
        server.close()


def test_restore_refuses_a_damaged_copy(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database at all" * 100)
    target = tmp_path / "app.sqlite3"
    SQLiteStore(str(target)).close()
    before = target.read_bytes()
    assert main(["restore", "--db", str(target), str(damaged)]) != 0
    assert target.read_bytes() == before
