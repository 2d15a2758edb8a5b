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

from leanorm.embedded import EmbeddedServer
from leanorm.embedded.storage.writer_lock import WriterLock

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


def test_commits_reach_the_database_file_without_a_request_checkpointing(server: EmbeddedServer, database: Path,
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


def test_a_process_forked_after_writing_queues_behind_its_parent(tmp_path: Path) -> None:
    """A process forked from one whose store has written (its lock file open) takes the lock of its own:
    while the parent holds it, the child waits, and it gets it once the parent lets go."""
    lock = WriterLock(str(tmp_path / "db.sqlite3"), timeout=5)
    with lock.held():
        pass  # the lock file is open in this process now
    took, tell = os.pipe()
    with lock.held():
        child = os.fork()
        if child == 0:  # pragma: no cover  (the child reports through the pipe)
            try:
                with lock.held():
                    os.write(tell, b"took")
            finally:
                os._exit(0)
        os.close(tell)
        time.sleep(0.5)
        os.set_blocking(took, False)
        try:
            early = os.read(took, 4)
        except BlockingIOError:
            early = b""
        assert early == b""  # the child waits while the parent holds the lock
    os.set_blocking(took, True)
    assert os.read(took, 4) == b"took"
    os.waitpid(child, 0)
    lock.close()


def test_a_request_waits_for_a_write_of_its_process_no_longer_than_its_deadline(database: Path) -> None:
    """Writes of one process queue for its write lock: one queued behind a long write waited up to 30 s
    (the busy timeout) whatever its deadline, and ran long after its client had given up. It answers 124
    at its deadline, and writes nothing."""
    server = EmbeddedServer(str(database), query_timeout=0.3)
    api = Api(server)
    try:
        assert api("POST", ITEMS, body={"n": 0})[0] == 201
        held, release = threading.Event(), threading.Event()

        def long_write() -> None:  # a write of the process without a deadline of its own (a job, a migration)
            with server.store.write():
                held.set()
                release.wait(30)
        holder = threading.Thread(target=long_write)
        holder.start()
        assert held.wait(10)
        try:
            status, answer = api("POST", ITEMS, body={"n": 1})
        finally:
            release.set()
            holder.join(30)
        assert (status, answer["code"]) == (400, 124), answer
        assert api("GET", ITEMS, params={"count": "1", "limit": "0"})[1]["count"] == 1
    finally:
        server.close()
