"""The change feed: every committed object write, as a row of ``_changes`` appended in the write's own
transaction, for live queries (``embedded/live/``) to tail.

A change is the object before and after the write, each as stored (its fields, ``objectId``,
``createdAt``, ``updatedAt`` and ``ACL``; ``None`` before a create and after a delete). It is appended by
``endpoints.objects.write``/``remove`` (every object write goes through them: batches, hooks' writes,
users, roles), inside the write transaction, so a rolled-back write (or batch item) leaves no change and
a committed one always has its change: a reader of the feed never sees a change that did not happen, nor
misses one that did. Every process sharing the database reads the same feed, in commit order (``seq``
grows with each commit, as writers are serialised). This module is the SQLite store's; the PostgreSQL
store numbers its changes in the database (``pg_schema.RECORD_CHANGE``) and reads them with
:func:`read_after`.

The table is bounded: it keeps at least the newest :data:`KEEP` changes, and every :func:`trim_step`-th
append drops what is older than those (one statement for a hundred rows, not one for every row: on
PostgreSQL that statement runs under the feed's lock, which every write of every node waits for). A reader
that fell further behind than what is kept learns it (:func:`read_after` answers ``missed=True``) instead of
silently skipping changes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Tuple

import orjson

if TYPE_CHECKING:  # the interface names Change: it imports this module
    from .interface import Connection

__all__ = ["Change", "KEEP", "TABLE", "record", "read_after", "latest", "as_text", "trim_step"]

#: how many of the newest changes the feed keeps at least (a reader further behind has missed changes)
KEEP = 10_000


def trim_step(keep: int) -> int:
    """Every how many appends the feed drops what is older than the newest ``keep`` (so it holds at most
    ``keep + trim_step(keep) - 1``). :data:`.pg_schema.RECORD_CHANGE` computes the same."""
    return max(keep // 100, 1)


TABLE = """
CREATE TABLE IF NOT EXISTS _changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, class_name TEXT NOT NULL,
    object_id TEXT NOT NULL, before TEXT, after TEXT);
"""


class Change(NamedTuple):
    """One committed object write: its place in the feed, its class, and the object before and after it
    (as stored, ``ACL`` included; None before a create, after a delete)."""

    seq: int
    class_name: str
    object_id: str
    before: Optional[Dict[str, Any]]
    after: Optional[Dict[str, Any]]

    @property
    def kind(self) -> str:
        """``create``, ``update`` or ``delete``: what the write did to the object."""
        return "create" if self.before is None else "delete" if self.after is None else "update"


def as_text(obj: Optional[Dict[str, Any]]) -> Optional[str]:
    """An object as the feed keeps it (JSON text; None for none)."""
    return None if obj is None else orjson.dumps(obj).decode()


def record(conn: Connection, class_name: str, object_id: str, before: Optional[Dict[str, Any]],
           after: Optional[Dict[str, Any]]) -> int:
    """Append a change in ``conn``'s open write transaction (it commits or rolls back with the write), and
    at every :func:`trim_step`-th one drop changes older than the newest :data:`KEEP`; returns its ``seq``."""
    cursor = conn.execute("INSERT INTO _changes (class_name, object_id, before, after) VALUES (?, ?, ?, ?)",
                          (class_name, object_id, as_text(before), as_text(after)))
    seq = cursor.lastrowid or 0
    if seq % trim_step(KEEP) == 0:
        conn.execute("DELETE FROM _changes WHERE seq <= ?", (seq - KEEP,))
    return seq


def read_after(conn: Connection, seq: int, limit: int = 500,
               last: Optional[Change] = None) -> Tuple[List[Change], bool]:
    """The committed changes after ``seq``, oldest first (at most ``limit``), and whether the reader
    missed some: changes after ``seq`` no longer kept (a reader that far behind), or ``last`` (the change
    it read at ``seq``, when it read one) no longer there as it was read. Then what it was sent may be
    gone: a crash took commits that had not reached the disk, a failover went to a standby behind, a
    restore went back, and the next writes take those numbers again (a reader that only waited past
    ``seq`` would skip them); it answers no changes, and the reader starts again from :func:`latest`."""
    first = seq if last is not None else seq + 1
    rows = conn.execute("SELECT seq, class_name, object_id, before, after FROM _changes WHERE seq >= ? "
                        "ORDER BY seq LIMIT ?", (first, limit + (last is not None))).fetchall()
    changes = [Change(s, c, o, None if b is None else orjson.loads(b), None if a is None else orjson.loads(a))
               for s, c, o, b, a in rows]
    if last is not None:
        if not changes or changes[0] != last:
            return [], True
        del changes[0]
    # seq has no gaps (writers are serialised, a rolled-back insert gives its number back): a first row
    # beyond the next number means those between were dropped
    return changes, bool(changes) and changes[0].seq > seq + 1


def latest(conn: Connection) -> int:
    """The ``seq`` of the newest change (0: none yet): where a new reader starts."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = '_changes'").fetchone()
    return int(row[0]) if row else 0
