"""PostgreSQL storage of the embedded server: the storage interface's second store.

The layout is the SQLite store's (one table per class, ``c_<ClassName>``: objectId, createdAt, updatedAt,
acl, data; the same server tables), with ``acl`` and ``data`` as ``jsonb``. The endpoints' SQL (SQLite's
dialect) runs through :class:`.pg_connection.PGConnection`, which translates each distinct statement once
(:mod:`.pg_dialect`) onto functions and operators this store defines in the database (:mod:`.pg_schema`).

Connections come from a ``psycopg_pool`` pool; a thread holds one for its outermost ``read()`` or
``write()`` block. Reads run in autocommit (each statement sees what is committed). A write is one
transaction, in one of two ways:

- ``write()`` keeps every other writer of the database out (a transaction-scoped advisory lock taken
  exclusively), as SQLite's ``BEGIN IMMEDIATE`` does, so a read-then-write (a unique username checked
  then inserted, a session's rows) sees no other writer in between, whichever node runs it;
- ``transact(work, concurrent=True)`` (an app class's object write: ``endpoints.objects``) runs beside
  the other such writes (the same lock taken shared): it locks the row it changes (``SELECT ... FOR
  UPDATE``, :attr:`PostgreSQLStore.locking_read`), so increments, ``AddUnique`` and conditional saves
  start from the last committed row, and unique indexes keep unique values. A statement in it that needs
  the others kept out (a change of the catalogue: a field's first type, a new class table; a nested
  ``write()``) ends it, and it runs again alone; a deadlock PostgreSQL ends it for is tried again, alone
  after :data:`SHARED_TRIES` (``work`` has no effect outside the transaction, so running it again is safe).

A ``transact`` holds its opening back until its first statement whose answer is read, and statements sent
with :meth:`PostgreSQLStore.send` until its commit, each then part of one message (:meth:`PGConnection._send`):
a create is one round trip. What a process keeps of the catalogue is checked in a request's first round
trip (:class:`RequestCheck`).

The change feed's order is kept by its own lock, held only while a write numbers its changes and commits
(:data:`.pg_schema.RECORD_CHANGE`). The commit does not wait for the disk while it holds a lock; the block
waits for it after (:meth:`PostgreSQLStore._transaction`), so a write is durable before it is answered. A
request's deadline bounds each of its statements (``statement_timeout``), its writes' too: a write waiting
for the lock, or whose `where` scans past it, is undone (error 124); and no statement of a write transaction
starts past its end (:meth:`PGConnection._in_time`), so the writers' lock is held about the deadline at most.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Type, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from ..answers import ProtocolError
from ..budget import Interrupted, current_request, remaining, wait_bound, writing
from . import changes, pg_schema
from .interface import Connection
from .pg_connection import (CATALOGUE_VERSION, Catalogue, NeedsExclusive, Outdated, PGConnection, RequestCheck,
                            configure, limit_ms, unavailable)
from .pg_dialect import SERIAL_TABLES, translate
from .pg_listener import Listener
from .store import SQLCatalogue, check_class_name, failed, table, trigger_name

__all__ = ["PostgreSQLStore", "POOL_SIZE", "NeedsExclusive"]

log = logging.getLogger("leanorm.embedded")

T = TypeVar("T")


#: connections one process keeps at most (requests beyond wait for one): a database serves
#: nodes x workers x POOL_SIZE of them, within its max_connections (100 by default)
POOL_SIZE = 8


#: the shortest time limit of a write transaction's statements (milliseconds): the bound is there to end a
#: scan holding the writers' lock for seconds, not to cut a write's own few-millisecond statements (a
#: machine under load, a request that used its time reading) between its savepoints or at its end
WRITE_FLOOR_MS = 1000


#: seconds a pooled connection may rest before it is tried again on its next loan
RESTED = 2.0


#: seconds a caller without a deadline (the live queries' reader, a command) waits for a connection
#: (a request waits what is left of its deadline, at least ``budget.WAIT_FLOOR``)
POOL_WAIT = 30.0


#: seconds the pool tries to replace a lost connection before it gives the attempt up. Its attempts back
#: off exponentially (1, 2, 4, 8 s... apart, up to psycopg_pool's 5 minutes), so after a long outage
#: the next one came as long after the database was back as the outage had lasted; given up this soon,
#: the next request waiting for a connection starts attempts afresh, a second or two apart
RECONNECT = 5.0


#: milliseconds a write transaction may wait for its node between two statements before PostgreSQL ends
#: its session: it holds the writers' lock of every node, and a node that stopped in the middle (a
#: paused VM, a swap storm, a partition) would hold every other node's writes for as long as it stays
#: stopped. Between two statements a write does milliseconds of work.
WRITE_SILENCE_MS = 5000


#: the advisory lock every write transaction takes: exclusively for ``write()``, shared for a write that
#: runs beside others (``transact(..., concurrent=True)``); a constant: one lock for all nodes of a database
WRITER_LOCK = 0x6C65616E  # "lean"


#: how many times a write beside others is tried when PostgreSQL ends it (a deadlock between row locks,
#: a serialization failure) before it runs with every other writer kept out, where none can end it
SHARED_TRIES = 3


#: what PostgreSQL ends a transaction with when running it again may succeed (SQLSTATE class 40; psycopg
#: makes them siblings, not subclasses of ``TransactionRollback``)
RUN_AGAIN = (psycopg.errors.TransactionRollback, psycopg.errors.SerializationFailure,
             psycopg.errors.DeadlockDetected)


#: the advisory lock setting the database up takes (two nodes starting at once define functions in turn)
SETUP_LOCK = 0x6C65616F


#: a transaction that waits until the write-ahead log is on disk up to its own commit (which lies past
#: every commit of the session before it) and also, with synchronous replication, on the standbys
DURABLE = "SELECT pg_logical_emit_message(true, 'leanorm', '')"


#: one change appended to the feed (:meth:`PostgreSQLStore.record_change`)
_RECORD = "SELECT leanorm_record_change(%s, %s, %s, %s, %s)"


def _redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[1]}"))


#: what a database that answers says when waiting would not help (a wrong password, database or role;
#: libpq's wording, as the server's English messages have it): the node stops at once
_REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")


def _wait_for(database: str, shown: str) -> None:
    """Return once ``database`` takes a connection, trying every second for :data:`POOL_WAIT` seconds (a
    node started before its database, or while it restarts); else :class:`ProtocolError` naming the
    database (``shown``: without its password) and why."""
    ends = time.monotonic() + POOL_WAIT
    while True:
        try:
            psycopg.connect(database, connect_timeout=max(2, int(POOL_WAIT / 10))).close()
            return
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            refused = any(refusal in reason for refusal in _REFUSALS)
            if refused or time.monotonic() >= ends:
                tried = "" if refused else f" (tried for {POOL_WAIT:g} s)"
                raise ProtocolError(1, f"Cannot open the database {shown}: {reason}{tried}.", 503) from None
            log.warning("waiting for the database %s: %s", shown, reason)
            time.sleep(1.0)


class PostgreSQLStore(SQLCatalogue):
    """The PostgreSQL database of one embedded server (the storage interface's PostgreSQL store)."""

    integrity_errors: Tuple[Type[BaseException], ...] = (psycopg.IntegrityError,)
    memory = False
    #: a write beside others locks the row it reads to change (``endpoints.objects``) until it commits
    locking_read = " FOR UPDATE"

    def __init__(self, database: str, pool_size: int = POOL_SIZE) -> None:
        #: the URL without its password (what messages and clients are shown)
        self.database = _redacted(database)
        self._local = threading.local()
        self._known_tables: Set[str] = set()
        self._catalogue = Catalogue()
        self._closed = False
        #: when each pooled connection (by id) was last given back (:meth:`_check`)
        self._returned: Dict[int, float] = {}
        _wait_for(database, self.database)
        try:
            self._pool = ConnectionPool(database, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                                        configure=configure, check=self._check, open=True, timeout=POOL_WAIT,
                                        reconnect_timeout=RECONNECT)
            self._pool.wait(timeout=POOL_WAIT)
        except (psycopg.Error, PoolTimeout) as exc:
            raise ProtocolError(1, f"Cannot open the database {self.database}: {exc}.", 503) from None
        self._set_up()
        #: wakes the feed's readers at each commit of any node; forgets the tables when a class is dropped
        self._listener = Listener(database, self._catalogue_changed)

    def _catalogue_changed(self) -> None:
        """Forget the tables and the catalogue this process knew (a node changed them)."""
        self._known_tables.clear()
        self._catalogue.clear()

    def _catalogue_written(self, pg: PGConnection) -> None:
        """A change to the catalogue beyond its tables' rows (a class table made, a counter's triggers):
        every node forgets what it kept, when the change commits (at once when ``pg`` is not in a
        transaction)."""
        pg.alone()
        pg.run("SELECT leanorm_catalogue_changed()")
        if pg.in_transaction:
            pg.catalogue_written = True
        else:
            self._catalogue_changed()

    def _set_up(self) -> None:
        """Make the server's tables, functions and operators unless this version made them already."""
        with self._borrowed() as conn:
            exists = conn.run("SELECT to_regclass('_leanorm') IS NOT NULL").fetchone()
            done = exists and exists[0] and conn.run("SELECT value FROM _leanorm WHERE name = 'functions'").fetchone()
            if done and done[0] == pg_schema.VERSION:
                return
            with conn.raw.transaction():
                conn.run("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
                for statement in pg_schema.statements():
                    conn.run(statement)
                conn.run("INSERT INTO _leanorm VALUES ('functions', %s) ON CONFLICT (name) DO UPDATE "
                         "SET value = excluded.value", (pg_schema.VERSION,))

    # -- connections -----------------------------------------------------------------------------------
    def _check(self, raw: psycopg.Connection) -> None:
        """Before a pooled connection is lent: one that rested :data:`RESTED` seconds or more is tried
        first (an empty statement), so a database restarted or failed over meanwhile costs no request
        an error (the pool replaces what fails the try); one used moments ago is lent as it is."""
        if time.monotonic() - self._returned.get(id(raw), 0.0) >= RESTED:
            ConnectionPool.check_connection(raw)

    def _lend(self) -> psycopg.Connection:
        """A connection of the pool, waited for at most until the request's deadline (``budget.wait_bound``),
        else :data:`POOL_WAIT`: a request never outlives its deadline waiting, whatever
        ``--threads`` says beside :data:`POOL_SIZE`. Past the wait: 503 saying the database is unavailable
        when the pool could not open its connections (the database away), else 124 (the request's deadline
        passed behind others), or 503 saying every connection is busy (no deadline)."""
        wait = wait_bound(POOL_WAIT)
        try:
            return self._pool.getconn(timeout=wait)
        except PoolTimeout as exc:
            if self._pool.get_stats().get("pool_size", 0) < self._pool.max_size:
                raise unavailable(f"The database is unavailable: no connection to it within {wait:.1f} s. The "
                                   "request was not served; try again.", exc) from None
            if remaining() is not None:
                raise Interrupted("waiting for a database connection ran past the request's deadline") from None
            raise ProtocolError(1, f"All {self._pool.max_size} connections of this process to the database are "
                                   "busy; try again.", 503) from None

    def _request_check(self) -> Optional[RequestCheck]:
        """What the request this thread serves knows of the kept catalogue (None outside a request)."""
        request = current_request()
        if request is None:
            return None
        check: Optional[RequestCheck] = getattr(self._local, "check", None)
        if check is None or check.request is not request:
            check = self._local.check = RequestCheck(request)
        return check

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[PGConnection]:
        if self._closed:
            raise ProtocolError(1, "The embedded backend is closed.", 503)
        held: Optional[PGConnection] = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        conn = PGConnection(self._lend, self._catalogue_changed, self._catalogue, self._request_check())
        self._local.conn = conn
        try:
            yield conn
        except psycopg.OperationalError as exc:
            if conn.lent is None or not conn.lent.closed:  # the statement failed, not the connection
                raise
            # the others resting in the pool went with it (a restart, a failover): tried now, not lent
            self._pool.check()
            raise unavailable("The database is unavailable: the connection to it was lost. The request was "
                               "not served; try again.", exc) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:  # a standby (the old primary, demoted) or read-only
            raise unavailable("The database refuses writes (a standby, or read-only): the request was not "
                               "served; try again once it leads to the primary.", exc) from None
        finally:
            self._local.conn = None
            conn.opening, conn.deferred = None, []
            raw = conn.lent
            if raw is not None:
                if conn.in_transaction:
                    with contextlib.suppress(psycopg.Error):
                        raw.rollback()
                self._returned[id(raw)] = time.monotonic()
                self._pool.putconn(raw)

    @contextlib.contextmanager
    def read(self) -> Iterator[PGConnection]:
        """A connection for reading (statements run in autocommit)."""
        with self._borrowed() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[PGConnection]:
        """One write transaction with every other writer of the database kept out (the writers' advisory
        lock, exclusive): committed when the block ends, rolled back on any exception. A nested block
        joins the open transaction (one running beside others is run again alone: :meth:`transact`)."""
        held: Optional[PGConnection] = getattr(self._local, "writing", None)
        if held is not None:
            held.alone()
        with self._transaction(shared=False, held_back=False) as conn:
            yield conn

    def transact(self, work: Callable[[PGConnection], T], concurrent: bool = False) -> T:
        """``work(conn)`` in one write transaction (the open one, when the thread is in one), committed
        when it returns; its answer. ``concurrent``: the transaction runs beside other such writes (the
        writers' lock shared), its own rows locked as it reads them (:attr:`locking_read`); it is run again
        alone when it needs every other writer kept out (:class:`NeedsExclusive`), again when PostgreSQL
        ends it for a deadlock (alone after :data:`SHARED_TRIES`), and again when its opening finds the
        kept catalogue outdated (:class:`Outdated`): ``work`` must have no effect outside the transaction.
        Nothing of a failed try is kept: it rolled back, and took no ``seq``.

        Its opening goes with its first statement (and a write whose statements are all :meth:`send`, an
        insert, goes whole with its commit: one round trip)."""
        held: Optional[PGConnection] = getattr(self._local, "writing", None)
        if held is not None:
            if not concurrent:  # a part that must run alone, in a transaction running beside others
                held.alone()
            return work(held)
        shared, tries = concurrent, 0
        while True:
            tries += 1
            try:
                with self._transaction(shared, held_back=True) as conn:
                    return work(conn)
            except NeedsExclusive:
                shared = False
            except Outdated:
                pass  # the catalogue is forgotten, its version too: the next opening reads it
            except RUN_AGAIN as exc:
                if tries > SHARED_TRIES:
                    raise
                log.info("PostgreSQL ended a write (%s): trying it again", exc.sqlstate)
                shared = shared and tries < SHARED_TRIES

    def send(self, conn: Connection, sql: str, parameters: Any) -> None:
        """A write statement whose answer no one reads, held back to go with the transaction's next
        statement or its commit (the storage interface's ``send``; :meth:`PGConnection.defer`)."""
        self._pg(conn).defer(sql, parameters)

    def settle(self) -> None:
        """The request's pending check of the kept catalogue, now (the storage interface's ``settle``):
        the request reaches outside the server, and can no longer be run again."""
        check = self._request_check()
        if check is None:
            return
        if check.pending:
            with self.read() as conn:
                conn.settle()
        check.acted = True

    @contextlib.contextmanager
    def _transaction(self, shared: bool, held_back: bool) -> Iterator[PGConnection]:
        """One write transaction (see :meth:`write` and :meth:`transact`; ``shared``: beside others;
        ``held_back``: its opening waits for its first statement)."""
        with self._borrowed() as conn:
            if getattr(self._local, "snapshot", False):
                raise ProtocolError(1, "No writes inside a read snapshot (Store.snapshot).", 503)
            if conn.in_transaction:
                yield conn
                return
            # the transaction, its commit not waiting for the disk, each of its statements (waiting for the
            # lock included) bounded by what is left of the request's deadline and its node for at most
            # WRITE_SILENCE_MS, the writers' lock, and then (under the lock) the catalogue's version: a write
            # goes by the catalogue as it is (a change of it is written with the lock exclusive). Checked
            # where the kept one's version is known (an error when it moved: Outdated), else read. The
            # deadline matters under the lock: a write's `where` may hold sub-queries that scan whole
            # classes, and writers wait behind it
            lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            opening = (f"BEGIN; SET LOCAL synchronous_commit TO OFF; "
                       f"SET LOCAL statement_timeout = {limit_ms(WRITE_FLOOR_MS)}; "
                       f"SET LOCAL idle_in_transaction_session_timeout = {WRITE_SILENCE_MS}; "
                       f"SELECT {lock}({WRITER_LOCK})")
            # the version the request used the kept catalogue at, when it did unchecked (another request of
            # this process may have learned a newer one since: checking that would pass what this one judged)
            check = conn.check
            known = check.relied_on if check is not None and check.pending else self._catalogue.version
            if held_back and known is not None and known.isdigit():
                conn.opening, conn.opening_checks = f"{opening}; SELECT leanorm_catalogue_is('{known}')", True
            else:  # a wait for the lock past the deadline is Interrupted, as any statement's
                conn.agree(conn.script(f"{opening}; {CATALOGUE_VERSION}").fetchone())
            created = self._created_tables()
            self._local.writing = conn
            conn.shared, conn.defers = shared, held_back
            try:
                with writing():  # one end for all its statements (PGConnection._in_time)
                    yield conn
            except BaseException:
                self._local.writing = None
                conn.shared = conn.defers = False
                conn.changes.clear()
                conn.opening, conn.deferred = None, []
                if conn.in_transaction:
                    with contextlib.suppress(psycopg.Error):
                        conn.raw.execute("ROLLBACK")
                created.clear()
                if conn.catalogue_written:
                    self._catalogue_changed()
                    conn.catalogue_written = False
                raise
            self._local.writing = None
            conn.shared = conn.defers = False
            # Durable before the block ends (and the client hears of it): after the COMMIT (which does not
            # wait for the disk), a transaction that commits with synchronous_commit on waits until the
            # write-ahead log is on disk up to its own commit, which lies past ours. It runs after the
            # locks are released (at the COMMIT), so the writers of all nodes share their disk flushes
            # instead of taking turns at one each (9 ms on the build machine). That transaction must itself
            # write to the log: PostgreSQL commits one that wrote nothing (an xid taken and no more, as
            # pg_current_xact_id() does) without waiting for the disk, and a crash then lost acknowledged
            # writes (tests/operations/test_postgresql_outages.py). A transactional logical message is a
            # record of the log and nothing else: no table, no row, no lock. What the transaction held back
            # (its opening, statements sent with Store.send), its changes (numbered under the feed's lock,
            # taken here and held to the COMMIT), its COMMIT and the wait go in one round trip.
            recorded, conn.changes = conn.changes, []
            ending = "; ".join(["SET LOCAL statement_timeout = 0",
                                *(conn.literal(_RECORD, (*change, changes.KEEP)) for change in recorded),
                                "COMMIT", DURABLE])
            try:  # the work is done: its end is not cut short
                conn.script(ending)
            except BaseException as exc:
                created.clear()
                if isinstance(exc, psycopg.OperationalError) and conn.raw.closed:
                    if conn.catalogue_written:  # it may have committed: what was kept of the catalogue may be old
                        self._catalogue_changed()
                    self._pool.check()
                    raise unavailable("The connection to the database was lost as this write committed: it may "
                                       "or may not have been stored; read it back before sending it again.",
                                       exc) from None
                conn.opening, conn.deferred = None, []
                with contextlib.suppress(psycopg.Error):
                    if conn.in_transaction:
                        conn.raw.execute("ROLLBACK")
                raise
            if conn.check is not None:
                conn.check.acted = True
            if conn.catalogue_written:
                self._catalogue_changed()
                conn.catalogue_written = False
            self._known_tables.update(created)
            created.clear()

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside this thread's write transaction, a part undone alone when the block raises."""
        conn: Optional[PGConnection] = getattr(self._local, "writing", None)
        if conn is None:
            yield
            return
        created = self._created_tables()
        before = set(created)
        recorded = len(conn.changes)
        conn.run("SAVEPOINT leanorm_part")
        conn.savepoints += 1
        try:
            yield
        except BaseException:
            conn.savepoints -= 1
            conn.raw.execute("ROLLBACK TO SAVEPOINT leanorm_part")
            conn.raw.execute("RELEASE SAVEPOINT leanorm_part")
            created.intersection_update(before)
            del conn.changes[recorded:]  # the part's changes are undone with it
            raise
        conn.savepoints -= 1
        conn.raw.execute("RELEASE SAVEPOINT leanorm_part")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read this thread makes in the block sees the database as of one moment (a repeatable-read
        transaction); a write in the block is refused."""
        with self._borrowed() as conn:
            if conn.in_transaction:
                yield
                return
            conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = 0")
            self._local.snapshot = True
            conn.catalogue = None  # the catalogue as of the snapshot too, not as kept since
            try:
                yield
            finally:
                self._local.snapshot = False
                conn.catalogue = self._catalogue
                with contextlib.suppress(psycopg.Error):
                    conn.raw.execute("ROLLBACK")

    def check_ready(self) -> None:
        """Raise :class:`ProtocolError` (503) unless a read of the database succeeds."""
        try:
            with self.read() as conn:
                conn.run("SELECT 1 FROM _schema LIMIT 1").fetchall()
        except psycopg.Error as exc:
            failed("read")
            log.error("the readiness check could not read the database: %s", exc)
            raise ProtocolError(1, "The database cannot be read.", 503) from None

    def close(self) -> None:
        self._closed = True
        self._listener.close()  # it holds no request: it stops within a tick
        self._pool.close()

    # -- the change feed (:mod:`.changes`) ---------------------------------------------------------------
    # ``seq`` is commit order, gapless: numbered under the feed's own lock in the round trip of the COMMIT
    # (:data:`.pg_schema.RECORD_CHANGE` says why that is enough). A ``serial`` would need no lock, but a
    # rolled-back write keeps its number and one still running has taken it while a later one commits: the
    # gap would read as changes the bounded feed dropped (``changes.read_after``'s ``missed``), or a reader
    # would pass a number whose change is committed after it.
    def record_change(self, conn: Connection, class_name: str, object_id: str,
                      before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> None:
        """Append an object write to the change feed in ``conn``'s write transaction, announced to every
        node's listener when it commits (:data:`.pg_schema.RECORD_CHANGE`; sent with the COMMIT)."""
        pg = self._pg(conn)
        change = (class_name, object_id, changes.as_text(before), changes.as_text(after))
        if pg.in_transaction:
            pg.changes.append(change)
        else:
            pg.run(_RECORD, (*change, changes.KEEP))

    def latest_change(self) -> int:
        """The ``seq`` of the newest committed change (0: none): where a new reader of the feed starts."""
        with self.read() as conn:
            row = conn.run("SELECT COALESCE(max(seq), 0) FROM _changes").fetchone()
            return int(row[0]) if row else 0

    def wait_for_changes(self, timeout: float) -> None:
        """Return when any node committed a change (its ``NOTIFY``), or after ``timeout`` seconds."""
        self._listener.wait(timeout)

    # -- classes and their schema ----------------------------------------------------------------------
    @staticmethod
    def _pg(conn: Connection) -> PGConnection:
        assert isinstance(conn, PGConnection)
        return conn

    def _ddl(self, conn: Connection, sql: str) -> None:
        self._pg(conn).alone()
        self._pg(conn).run(sql)

    @staticmethod
    def _index_column(expression: str) -> str:
        return f"({expression})"  # PostgreSQL indexes an expression in parentheses

    def _created_tables(self) -> set:
        created = getattr(self._local, "created", None)
        if created is None:
            created = self._local.created = set()
        return created

    def _remember(self, conn: Connection, class_name: str) -> None:
        if conn.in_transaction:
            self._created_tables().add(class_name)
        else:
            self._known_tables.add(class_name)

    def has_class(self, conn: Connection, class_name: str) -> bool:
        if class_name in self._known_tables or class_name in self._created_tables():
            return True
        check_class_name(class_name)
        pg = self._pg(conn)
        kept = pg.kept
        if kept is not None and class_name in kept.absent:
            return False
        generation = self._catalogue.generation
        found = pg.run("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = %s",
                       (f"c_{class_name}",)).fetchone() is not None
        if found:
            self._remember(conn, class_name)
        elif kept is not None:
            kept.keep_absent(class_name, generation)
        return found

    def _create_class(self, conn: Connection, class_name: str) -> None:
        pg = self._pg(conn)
        pg.alone()  # two nodes making one table at once: one fails (a duplicate type), so one at a time
        twin = pg.run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND lower(tablename) = "
                      "lower(%s)", (f"c_{class_name}",)).fetchone()
        if twin is not None:
            raise ProtocolError(103, f"Class name {class_name!r} differs only by case from the existing class "
                                     f"{twin[0][2:]!r}.")
        pg.run(f'CREATE TABLE IF NOT EXISTS {table(class_name)} (objectId TEXT COLLATE "C" PRIMARY KEY, '
               'createdAt TEXT COLLATE "C" NOT NULL, updatedAt TEXT COLLATE "C" NOT NULL, acl JSONB, '
               'data JSONB NOT NULL)')
        pg.run(f'CREATE INDEX IF NOT EXISTS "c_{class_name}__createdAt" ON {table(class_name)} (createdAt)')
        self._catalogue_written(pg)  # every node forgets it was absent
        self._remember(conn, class_name)

    def class_names(self, conn: Connection) -> List[str]:
        rows = self._pg(conn).run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                  "AND tablename LIKE 'c\\_%%'")
        return sorted(r[0][2:] for r in rows)

    def drop_class(self, conn: Connection, class_name: str) -> None:
        self._pg(conn).alone()
        self._pg(conn).run(f"DROP TABLE IF EXISTS {table(class_name)}")
        self._pg(conn).run("SELECT leanorm_catalogue_changed()")  # every node forgets it, when this commits
        for system_table, column in (("_schema", "class_name"), ("_field_options", "class_name"),
                                     ("_named_indexes", "class_name"), ("_class_permissions", "class_name"),
                                     ("_relations", "owner_class")):
            conn.execute(f"DELETE FROM {system_table} WHERE {column}=?", (class_name,))
        self._known_tables.discard(class_name)
        self._created_tables().discard(class_name)


    # -- counters (:mod:`.counters`) -------------------------------------------------------------------
    def counted_fields(self, conn: Connection, class_name: str) -> List[str]:
        """The fields of ``class_name`` a counter counts (its triggers are the truth)."""
        prefix, suffix = f"c_{class_name}__", "__count_insert"
        pg = self._pg(conn)
        catalogue, key = pg.kept, ("counted", class_name)
        names = None if catalogue is None else catalogue.rows.get(key)
        if names is None:
            generation = self._catalogue.generation
            names = [name for name, in pg.run("SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
                                              "ORDER BY tgname", (table(class_name),))]
            if catalogue is not None:
                catalogue.keep(key, names, generation)
        return [name[len(prefix):-len(suffix)] for name in names if name.startswith(prefix) and name.endswith(suffix)]

    def make_counter(self, conn: Connection, class_name: str, field: str, key: str) -> None:
        """A trigger function keeping ``_counts`` of ``class_name`` by ``field``, its triggers, and the
        entries of the rows there are now (``key``, SQLite's form of the entries' key, is
        :data:`.pg_schema.COUNTS_KEY` here)."""
        def value(row: str) -> str:
            return translate(self.key_expression(conn, class_name, field, row)).sql
        names = f"'{class_name}', '{field}'"  # both checked: letters, digits and underscores
        function = f'"c_{class_name}__{field}__count"'
        rows = table(class_name)
        pg = self._pg(conn)
        pg.alone()
        pg.run(f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE _counts SET n = n - 1 WHERE class_name = '{class_name}' AND field = '{field}'
                   AND lo_ifnull(value, '\\x00'::bytea) = lo_ifnull({value("OLD.data")}, '\\x00'::bytea)
                   AND COALESCE(acl, 'null'::jsonb) = COALESCE(OLD.acl, 'null'::jsonb);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO _counts VALUES ({names}, {value("NEW.data")}, NEW.acl, 1)
                ON CONFLICT ({pg_schema.COUNTS_KEY}) DO UPDATE SET n = _counts.n + 1;
            END IF;
            RETURN NULL;
        END $body$""")
        for event, when in (("insert", ""), ("delete", ""),
                            ("update", f" WHEN ({value('OLD.data')} IS DISTINCT FROM {value('NEW.data')} "
                                       "OR OLD.acl IS DISTINCT FROM NEW.acl)")):
            pg.run(f'CREATE TRIGGER "{trigger_name(class_name, field, event)}" AFTER {event.upper()} ON {rows} '
                   f"FOR EACH ROW{when} EXECUTE FUNCTION {function}()")
        current = value("data")
        pg.run(f"INSERT INTO _counts SELECT {names}, {current}, acl, COUNT(*) FROM {rows} "
               f"GROUP BY {current}, acl")
        self._catalogue_written(pg)  # the counted fields every node keeps

    def rows_copied(self, conn: Connection) -> None:
        """The sequences of the tables with generated ids continue after the largest id copied."""
        for name, column in SERIAL_TABLES.items():
            self._pg(conn).run(f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                               f"GREATEST((SELECT MAX({column}) FROM {name}), 1))")
