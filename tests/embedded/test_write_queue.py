"""How writers share a database file: they queue on a lock of their own across processes (woken in turn,
not polling), and checkpoints are made by a thread, not inside a request's commit."""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import List, Tuple

from leanorm.local import LocalServer

from .conftest import Api, snapshot

ITEMS = "/1.1/classes/Item"


def test_a_writer_waits_for_the_process_holding_the_write_lock(database: Path, api: Api) -> None:
    """Another process's writer holds ``<database>-writer.lock``: a write here waits for it (it neither
    fails nor goes ahead), then lands once it is released."""
    assert api("POST", ITEMS, body={"n": 0})[0] == 201  # the class exists: the write below adds one row
    before = snapshot(database)
    other = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT)  # another open file: another holder
    answers: List[Tuple[int, object]] = []
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        writer = threading.Thread(target=lambda: answers.append(api("POST", ITEMS, body={"n": 1})))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not answers
        assert snapshot(database) == before
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    writer.join(30)
    assert answers and answers[0][0] == 201
    assert len(snapshot(database)["c_Item"]) == 2


def test_commits_reach_the_database_file_without_a_request_checkpointing(server: LocalServer, database: Path,
                                                                          api: Api, tmp_path: Path) -> None:
    """A request's connection never checkpoints (SQLite's would, inside the commit that passes 1,000 WAL
    pages); a few commits reach the database file itself, without its WAL, all the same."""
    with server.store.read() as conn:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for n in range(5):
        assert api("POST", ITEMS, body={"n": n})[0] == 201
    deadline, rows = time.monotonic() + 10, 0
    while rows < 5 and time.monotonic() < deadline:
        copy = tmp_path / f"copy-{time.monotonic_ns()}.sqlite3"
        shutil.copyfile(database, copy)  # the main file alone: what the WAL holds is not in the copy
        conn = sqlite3.connect(copy)
        try:
            rows = conn.execute("SELECT count(*) FROM c_Item").fetchone()[0]
        except sqlite3.OperationalError:  # no such table yet
            rows = 0
        finally:
            conn.close()
        time.sleep(0.05)
    assert rows == 5
