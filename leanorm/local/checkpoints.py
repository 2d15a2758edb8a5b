"""Checkpoints of a WAL database, made by a thread of their own instead of by a request.

By default SQLite copies the write-ahead log back into the database file (a checkpoint: writing the pages
and syncing both files) inside the commit that makes the log pass 1,000 pages: under steady writes every
few hundred requests one waits for it. The store's connections turn that off; after commits this
thread makes a passive checkpoint (one that never waits for, nor blocks, readers and writers) every
``INTERVAL`` seconds while writes go on. The last connection to close a database checkpoints it too.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import Optional

__all__ = ["Checkpointer", "INTERVAL"]

#: seconds between the checkpoints while commits keep coming
INTERVAL = 0.1


class Checkpointer:
    """Checkpoints one database file after :meth:`committed` is called; :meth:`close` stops it."""

    def __init__(self, database: str) -> None:
        self.database = database
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
                    self._thread = threading.Thread(target=_run, args=(self.database, self._wake, self._stop),
                                                    name="leanorm-checkpoint", daemon=True)
                    self._thread.start()
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()


def _run(database: str, wake: threading.Event, stop: threading.Event) -> None:
    while True:
        wake.wait()
        if stop.is_set():
            return
        conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        try:
            while wake.is_set() and not stop.is_set():  # commits keep coming: a checkpoint each interval
                wake.clear()
                stop.wait(INTERVAL)
                with contextlib.suppress(sqlite3.Error):  # busy (another checkpoint): the next one catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()
