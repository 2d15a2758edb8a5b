"""The one connection of a process that listens to what the other processes and nodes on a PostgreSQL
database announce (``LISTEN``): committed changes (the feed's readers wake at once, on every node, instead
of polling) and changes of the class catalogue (a class made or dropped, a type, option, permission or index:
the store forgets what it kept of them).

Every write of every node announces its change, so a process listens to the changes only from the first
time a reader of the feed waits in it (live queries): one without a reader is not woken by each write
(measured under a write load: 0.06 ms of a node's CPU per write, for each process listening). What was
committed before that ``LISTEN`` took effect was announced to nobody here, so the reader is woken then to
read the feed.

Notifications are database-wide; their payload names the schema they concern (``current_schema()`` of
the writer), so apps kept in schemas of one database (as the tests keep theirs) wake only their own. A
notification sent while the connection was down is lost: on every (re)connection the listener acts as if
both had been announced (readers read the feed again, the tables are asked for again).

A listening connection only receives, so one whose server side is gone without a word (a network
partition, a firewall or NAT forgetting an idle flow) would wait for notifications forever, and the
process would keep a class catalogue every other node changed. After :data:`HEARTBEAT` quiet seconds it
sends a statement: on a connection the server no longer knows that fails (at once, or within
:data:`SEND_TIMEOUT` on a path that carries nothing), and the listener connects again. The traffic also
keeps an idle flow alive through such firewalls.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, FrozenSet

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .pg_schema import CHANGES_CHANNEL, TABLES_CHANNEL

__all__ = ["Listener"]

log = logging.getLogger("leanorm.embedded")

#: seconds between the listener's looks at whether the store closed
TICK = 0.5
#: seconds before a lost listening connection is opened again
RETRY = 1.0
#: seconds without a notification after which the listener tries its connection with a statement
HEARTBEAT = 5.0
#: milliseconds a statement the listener sent may go unacknowledged before its connection counts as
#: lost (libpq's ``tcp_user_timeout``, unless the database URL sets one)
SEND_TIMEOUT = 10_000


class Listener:
    """A thread holding a ``LISTEN`` connection to ``database``: :meth:`wait` returns when a change was
    committed; ``tables_changed`` is called when a class was dropped."""

    def __init__(self, database: str, tables_changed: Callable[[], None]) -> None:
        self._database = database
        self._tables_changed = tables_changed
        self._changed = threading.Event()
        self._following = False  # a reader waited: the changes are listened to
        self._channels: FrozenSet[str] = frozenset()
        self._closed = False
        self._thread = threading.Thread(target=self._listen, daemon=True, name="leanorm-pg-listen")
        self._thread.start()

    @property
    def _send_timeout(self) -> Dict[str, Any]:
        """:data:`SEND_TIMEOUT` as a connection parameter, unless the URL sets its own."""
        given = conninfo_to_dict(self._database)
        return {} if "tcp_user_timeout" in given else {"tcp_user_timeout": SEND_TIMEOUT}

    @property
    def channels(self) -> FrozenSet[str]:
        """The channels the connection listens to now (none while it is down)."""
        return self._channels

    def wait(self, timeout: float) -> None:
        """Block until a change may have been committed since the last wait (at most ``timeout`` seconds).
        The first wait starts the listening to changes (within :data:`TICK` seconds), and wakes a wait then."""
        self._following = True
        self._changed.wait(timeout)
        self._changed.clear()  # before the caller reads the feed: a commit after this wakes the next wait

    def close(self) -> None:
        """Stop listening (within :data:`TICK` seconds)."""
        self._closed = True

    def _listen(self) -> None:
        while not self._closed:
            try:
                with psycopg.connect(self._database, autocommit=True, **self._send_timeout) as conn:
                    schema = conn.execute("SELECT current_schema()").fetchone()
                    conn.execute(f"LISTEN {TABLES_CHANNEL}")
                    self._channels = frozenset([TABLES_CHANNEL])
                    self._missed()
                    heard = time.monotonic()
                    while not self._closed:
                        if self._following and CHANGES_CHANNEL not in self._channels:
                            conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                            self._channels = frozenset([TABLES_CHANNEL, CHANGES_CHANNEL])
                            self._changed.set()  # what committed before was announced to nobody here
                        for note in conn.notifies(timeout=TICK):
                            heard = time.monotonic()
                            if schema is None or note.payload != schema[0]:
                                continue
                            if note.channel == CHANGES_CHANNEL:
                                self._changed.set()
                            else:
                                self._tables_changed()
                        if time.monotonic() - heard >= HEARTBEAT:
                            conn.execute("SELECT 1")
                            heard = time.monotonic()
            except psycopg.Error as exc:
                self._channels = frozenset()
                if self._closed:
                    return
                log.warning("listening to the database failed (%s); trying again", exc)
                self._missed()
                time.sleep(RETRY)

    def _missed(self) -> None:
        """What a lost notification would have said: anything may have changed."""
        self._tables_changed()
        self._changed.set()
