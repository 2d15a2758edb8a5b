"""``leanorm backup`` and ``leanorm restore``: a copy of a live database file, taken in one step.

SQLite's online backup copies pages in steps and starts again whenever another connection commits between
two of them: the ``sqlite3 app.sqlite3 ".backup copy"`` of the old docs never finished under ~700 commits/s.
Here the whole copy is one step (``sqlite3.Connection.backup(pages=-1)``): one read transaction, so in WAL mode
writers go on while it runs and the copy is the database as of the moment it began, every write
acknowledged before that moment in it. (``VACUUM INTO`` also reads one snapshot and took as long, 0.2 to
0.7 s for 33 MiB under a writer committing 420 times a second on a busy 2-core machine; but it rebuilds
every table and index, and the writer got half as many commits through while it ran: docs/deploying.md.)
The copy is written beside its destination, checked (``PRAGMA integrity_check``),
then renamed into place, so a destination path never holds half a copy.

Restoring copies a backup, checked first, into the database path the same way. It is for a stopped
server: a running one would keep the old file open (and refuse writes, as for any file replaced under it).

Uploaded files' bytes live beside the database (``<database>.files/``), not in it: they are never changed
once written, so a copy of that folder taken after the database's backup holds every file it names.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass

__all__ = ["BackupError", "Copied", "backup", "restore"]


class BackupError(Exception):
    """A backup or restore that did not happen, and why (the destination is left as it was)."""


@dataclass(frozen=True)
class Copied:
    """What a backup or restore wrote: where, how many bytes, in how many seconds."""

    path: str
    size: int
    seconds: float


def _open(path: str, must_exist: bool) -> sqlite3.Connection:
    if must_exist and not os.path.isfile(path):
        raise BackupError(f"{path}: no such database file")
    try:
        return sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open: {exc}") from None


def _copy(source_path: str, destination: str) -> Copied:
    """``source_path`` copied to ``destination`` in one backup step, checked, then renamed into place."""
    started = time.monotonic()
    partial = f"{destination}.partial"
    with contextlib.suppress(FileNotFoundError):
        os.remove(partial)
    source = _open(source_path, must_exist=True)
    try:
        target = _open(partial, must_exist=False)
        try:
            try:
                source.backup(target, pages=-1)  # one step: one snapshot of the source
            except sqlite3.Error as exc:
                raise BackupError(f"{source_path}: cannot be copied: {exc}") from None
            verdict = target.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"{source_path}: the copy failed its integrity check: {verdict}")
            # a copy stands alone: one file, no -wal beside it, whatever the source's journal mode
            target.execute("PRAGMA journal_mode=DELETE").fetchall()
        finally:
            target.close()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
    finally:
        source.close()
    os.replace(partial, destination)
    return Copied(destination, os.path.getsize(destination), time.monotonic() - started)


def backup(database: str, destination: str) -> Copied:
    """Copy the live ``database`` (writers may go on) to ``destination``, as of the moment it began."""
    if os.path.abspath(database) == os.path.abspath(destination):
        raise BackupError("the backup must go to another file than the database")
    return _copy(database, destination)


def restore(copy: str, database: str) -> Copied:
    """Put the backup ``copy`` (checked first) in place of ``database``, with the server stopped; the
    database's own log files (``-wal``, ``-shm``) are removed, as they belong to the file replaced."""
    if os.path.abspath(database) == os.path.abspath(copy):
        raise BackupError("the copy to restore is the database itself")
    try:
        with contextlib.closing(_open(copy, must_exist=True)) as checked:
            verdict = checked.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{copy}: not a database: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"{copy}: fails its integrity check: {verdict}")
    copied = _copy(copy, f"{database}.restoring")
    for stale in (f"{database}-wal", f"{database}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stale)
    os.replace(copied.path, database)
    return Copied(database, copied.size, copied.seconds)
