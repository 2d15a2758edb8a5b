"""One writer at a time on a database file, across the threads and processes that share it.

SQLite lets one connection write at a time; a connection that finds the write lock taken polls for it,
sleeping 1, 2, 5, 10 ... up to 100 ms between tries (its busy handler), so under steady writes a waiter
can keep missing the moments the lock is free while the ones that arrive later take it: that was the
tail of ``leanorm serve``'s write latency. Here a writer first takes its process's lock (the threads of
a process queue on it), then an ``flock`` on ``<database>-writer.lock`` (the processes queue on it in the
kernel, which wakes the next one the moment it is released). SQLite's own lock still guards the data:
a connection that does not use this lock (another program) is waited for by SQLite's busy handler.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import weakref
from typing import Callable, Iterator, Optional

from ..budget import Interrupted, remaining, wait_bound

__all__ = ["WriterLock"]

if sys.platform != "win32":
    import fcntl


class WriterLock:
    """The write lock of one database file, as one process holds it (one instance per process and file)."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = database + "-writer.lock"
        self.timeout = timeout
        self._threads = threading.Lock()
        self._fd: Optional[int] = None
        if hasattr(os, "register_at_fork"):
            # a child process must not share the parent's open lock file (an flock belongs to the open
            # file, so both would hold it at once) nor its thread lock, which another thread may hold
            forget = weakref.WeakMethod(self._forget_after_fork)
            os.register_at_fork(after_in_child=lambda: _call(forget))

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for a block: the threads of this process wait up to ``timeout`` seconds (then
        fail like SQLite does, "database is locked"), a request's thread no longer than its deadline
        (``budget.wait_bound``; then :class:`.budget.Interrupted`: a write queued behind others past the time
        its client waits is not run); the other processes hold it one block at a time."""
        if not self._threads.acquire(timeout=wait_bound(self.timeout)):
            if remaining() is not None:
                raise Interrupted("the request's deadline passed while its write waited for the write lock")
            raise sqlite3.OperationalError("database is locked")
        try:
            if sys.platform == "win32":  # no flock: SQLite's busy handler queues the processes
                yield
                return
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _forget_after_fork(self) -> None:
        self._threads = threading.Lock()
        self.close()  # the child's copy of the file: the parent's lock, if held, stays held

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _call(method: "weakref.WeakMethod[Callable[[], None]]") -> None:
    bound = method()
    if bound is not None:
        bound()
