"""LeanCloud LiveQuery's subscriptions, kept in the database (``_live_subscriptions``).

LeanCloud's SDK subscribes over HTTP (``POST LiveQuery/subscribe``) and hears events over a WebSocket
that another worker process may hold: the subscription is a row every process can read. A row is one
query of one subscription id (the id the SDK's realtime connection logs in with): the query as sent
(``className``, ``where``, ``keys``, ``returnACL``), the session token it reads with (or the master
key), the client address that made it, and when it was last subscribed to (the SDK subscribes again
after each reconnect). Rows not subscribed to again for :data:`KEEP_SECONDS` are dropped.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Sequence

import orjson

if TYPE_CHECKING:
    from .interface import Connection

__all__ = ["TABLE", "KEEP_SECONDS", "Stored", "query_id_of", "save", "remove", "of_installations", "count_of",
           "installations_from"]

#: a subscription not subscribed to again for this long is forgotten (the SDK subscribes again on every
#: reconnect; a client gone for a day starts over)
KEEP_SECONDS = 24 * 3600

TABLE = """
CREATE TABLE IF NOT EXISTS _live_subscriptions (id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL UNIQUE, installation_id TEXT NOT NULL, query TEXT NOT NULL, token TEXT,
    master INTEGER NOT NULL, address TEXT NOT NULL, touched_at REAL NOT NULL, since INTEGER NOT NULL DEFAULT 0,
    UNIQUE (installation_id, query));
CREATE INDEX IF NOT EXISTS _live_subscriptions_address ON _live_subscriptions (address);
"""


class Stored(NamedTuple):
    """One stored subscription."""

    id: int
    query_id: str
    installation_id: str
    query: Dict[str, Any]
    token: Optional[str]
    master: bool
    #: the change feed's position when it was (last) subscribed to: older changes are not heard
    since: int


def _text(query: Dict[str, Any]) -> str:
    return orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode()


def query_id_of(conn: Connection, installation_id: str, query: Dict[str, Any]) -> Optional[str]:
    """The query id of this query of this installation, when it is subscribed to."""
    row = conn.execute("SELECT query_id FROM _live_subscriptions WHERE installation_id = ? AND query = ?",
                       (installation_id, _text(query))).fetchone()
    return None if row is None else str(row[0])


def save(conn: Connection, query_id: str, installation_id: str, query: Dict[str, Any], token: Optional[str],
         master: bool, address: str, since: int) -> str:
    """Store a subscription (in ``conn``'s write transaction) and answer its query id: the one it had
    when the same query of the same installation was subscribed to before (its token and time renewed),
    else ``query_id``. It hears changes after ``since`` (the feed's position now: a subscription made
    again hears from then, as a new one). Subscriptions not renewed for :data:`KEEP_SECONDS` go first."""
    now = time.time()
    conn.execute("DELETE FROM _live_subscriptions WHERE touched_at < ?", (now - KEEP_SECONDS,))
    text = _text(query)
    conn.execute("INSERT INTO _live_subscriptions (query_id, installation_id, query, token, master, address, "
                 "touched_at, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (installation_id, query) DO UPDATE SET "
                 "token = excluded.token, master = excluded.master, address = excluded.address, "
                 "touched_at = excluded.touched_at, since = excluded.since",
                 (query_id, installation_id, text, token, int(master), address, now, since))
    return query_id_of(conn, installation_id, query) or query_id


def count_of(conn: Connection, installation_id: str) -> int:
    """How many subscriptions an installation holds."""
    return int(conn.execute("SELECT count(*) FROM _live_subscriptions WHERE installation_id = ?",
                            (installation_id,)).fetchone()[0])


def installations_from(conn: Connection, address: str) -> int:
    """How many installations subscriptions made from ``address`` belong to."""
    return int(conn.execute("SELECT count(DISTINCT installation_id) FROM _live_subscriptions WHERE address = ?",
                            (address,)).fetchone()[0])


def remove(conn: Connection, installation_id: str, query_id: str) -> bool:
    """Forget one subscription; whether it was there."""
    return conn.execute("DELETE FROM _live_subscriptions WHERE installation_id = ? AND query_id = ?",
                        (installation_id, query_id)).rowcount > 0


def of_installations(conn: Connection, installation_ids: Sequence[str]) -> List[Stored]:
    """The subscriptions of these installations."""
    rows = conn.execute("SELECT id, query_id, installation_id, query, token, master, since FROM _live_subscriptions "
                        "WHERE installation_id IN (SELECT value FROM json_each(?))",
                        (orjson.dumps(list(installation_ids)).decode(),)).fetchall()
    return [Stored(i, q, inst, orjson.loads(text), token, bool(master), since)
            for i, q, inst, text, token, master, since in rows]
