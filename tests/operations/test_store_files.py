"""The database file as an operator meets it: a WAL that stays bounded, a file moved away under the
server, a path that cannot be opened."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from leanorm.embedded.answers import ProtocolError
from leanorm.embedded.server import EmbeddedServer
from leanorm.embedded.storage.store import SQLiteStore

MiB = 1024 * 1024


def _write(store: Store, rows: int, size: int = 4096) -> None:
    with store.write() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS load (id INTEGER PRIMARY KEY, blob BLOB)")
        conn.executemany("INSERT INTO load (blob) VALUES (?)", [(os.urandom(size),) for _ in range(rows)])


def _wal_size(database: Path) -> int:
    try:
        return os.path.getsize(f"{database}-wal")
    except FileNotFoundError:
        return 0


def test_wal_shrinks_back_under_its_bound_after_a_long_reader(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    store = SQLiteStore(str(database), wal_limit=1 * MiB)
    try:
        _write(store, 10)
        reader = sqlite3.connect(str(database), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM load").fetchone()  # holds its snapshot: no checkpoint passes it
        for _ in range(40):
            _write(store, 50)  # 8 MiB in all
        grown = _wal_size(database)
        assert grown > 4 * MiB  # the reader kept the log from being reused
        reader.execute("COMMIT")
        reader.close()
        deadline, written = time.monotonic() + 30, 2010
        while _wal_size(database) > 1 * MiB and time.monotonic() < deadline:
            _write(store, 1)  # the load goes on, lightly
            written += 1
            time.sleep(0.05)
        assert _wal_size(database) <= 1 * MiB
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM load").fetchone()[0] == written
    finally:
        store.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_writes_stop_when_the_database_file_is_moved_away(tmp_path: Path, how: str) -> None:
    database = tmp_path / "app.sqlite3"
    server = EmbeddedServer(str(database))
    try:
        _write(server.store, 1)
        os.rename(database, tmp_path / "moved.sqlite3")
        if how == "replaced":
            sqlite3.connect(str(database)).execute("CREATE TABLE other (x)").connection.commit()
        with pytest.raises(ProtocolError) as refused:
            _write(server.store, 1)
        assert refused.value.status == 503
        assert how in str(refused.value)
        answer = server.handle("POST", "/1.1/classes/Note", headers={"X-LC-Id": server.settings.app_id,
                               "X-LC-Key": server.settings.master_key + ",master"}, body=b'{"text": "lost?"}')
        assert answer.status == 503 and b"moved" in answer.body
    finally:
        server.close()


def test_an_unopenable_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "app.sqlite3"
    with pytest.raises(ProtocolError) as refused:
        SQLiteStore(str(missing))
    assert str(missing) in str(refused.value) and "does not exist" in str(refused.value)


def test_a_directory_given_as_the_database_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError) as refused:
        SQLiteStore(str(tmp_path))
    assert str(tmp_path) in str(refused.value) and "is a directory" in str(refused.value)


def test_serve_names_an_unopenable_database_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys
    missing = tmp_path / "no-such-dir" / "app.sqlite3"
    done = subprocess.run([sys.executable, "-m", "leanorm.cli", "serve", "--db", str(missing), "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and str(missing) in done.stderr and "does not exist" in done.stderr
