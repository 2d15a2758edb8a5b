"""Checkpoints of a WAL database, made by a thread of their own instead of by a request.

By default SQLite copies the write-ahead log back into the database file (a checkpoint: writing the pages
and syncing both files) inside the commit that makes the log pass 1,000 pages: under steady writes every
few hundred requests one waits for it. The store's connections turn that off; after commits this
thread makes a passive checkpoint (one that never waits for, nor blocks, readers and writers) every
``INTERVAL`` seconds while writes go on. The last connection to close a database checkpoints it too.

A passive checkpoint never shrinks the log: a reader that holds an old snapshot keeps the frames after
it in use, so under steady writes with one long reader the log grew to 533 MiB in 40 s and stayed that
size. The log is bounded by ``wal_limit`` bytes: every connection sets ``journal_size_limit`` to it (a
writer that starts the log afresh cuts the file back to it), and while the file is past it this thread
tries a truncating checkpoint, which succeeds as soon as no reader is left on an old snapshot (it never
waits for one: it would hold the write lock while it waited).
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from typing import Optional

__all__ = ["Checkpointer", "INTERVAL", "WAL_LIMIT"]

#: seconds between the checkpoints while commits keep coming
INTERVAL = 0.1
#: bytes the write-ahead log is cut back to once no reader needs more of it
WAL_LIMIT = 64 * 1024 * 1024
#: seconds between two tries at cutting the log back while a reader keeps it
TRUNCATE_RETRY = 1.0


class Checkpointer:
    """Checkpoints one database file after :meth:`committed` is called; :meth:`close` stops it."""

    def __init__(self, database: str, wal_limit: int = WAL_LIMIT) -> None:
        self.database = database
        self.wal_limit = wal_limit
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """A write transaction was committed: checkpoint soon."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stop.is_set():
                    # the thread holds no reference to the store: a store dropped unclosed leaves it
                    # idle, waiting on an event, with no connection open
                    self._thread = threading.Thread(
                        target=_run, args=(self.database, self.wal_limit, self._wake, self._stop),
                        name="leanorm-checkpoint", daemon=True)
                    self._thread.start()
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()


def _run(database: str, wal_limit: int, wake: threading.Event, stop: threading.Event) -> None:
    while True:
        wake.wait()
        if stop.is_set():
            return
        # no busy timeout: a checkpoint that would wait (for readers, another checkpoint) is tried later
        conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False, timeout=0)
        try:
            conn.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
            oversized, truncate_after = False, 0.0
            # commits keep coming, or the log is still past its bound: a checkpoint each interval
            while (wake.is_set() or oversized) and not stop.is_set():
                wake.clear()
                stop.wait(INTERVAL)
                with contextlib.suppress(sqlite3.Error):  # busy (another checkpoint): the next one catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                oversized = _wal_size(database) > wal_limit
                if oversized and time.monotonic() >= truncate_after:
                    # it takes the write lock for a moment: tried at most once per TRUNCATE_RETRY
                    truncate_after = time.monotonic() + TRUNCATE_RETRY
                    with contextlib.suppress(sqlite3.Error):  # a reader on an old snapshot: later
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    oversized = _wal_size(database) > wal_limit
        finally:
            conn.close()


def _wal_size(database: str) -> int:
    try:
        return os.path.getsize(database + "-wal")
    except OSError:
        return 0
