"""PostgreSQL storage of the embedded server: the storage interface's second store.

The layout is the SQLite store's (one table per class, ``c_<ClassName>``: objectId, createdAt, updatedAt,
acl, data; the same server tables), with ``acl`` and ``data`` as ``jsonb``. The endpoints' SQL (SQLite's
dialect) runs through :class:`PGConnection`, which translates each distinct statement once
(:mod:`.pg_dialect`) onto functions and operators this store defines in the database (:mod:`.pg_schema`).

Connections come from a ``psycopg_pool`` pool; a thread holds one for its outermost ``read()`` or
``write()`` block. Reads run in autocommit (each statement sees what is committed). A write block is one
transaction that first takes a transaction-scoped advisory lock: every write of every process on the
database is serialised, as SQLite's ``BEGIN IMMEDIATE`` serialises them, so a read-then-write (an
increment computed from the stored row, a unique username checked then inserted) sees no other writer in
between, whichever node runs it. The commit does not wait for the disk while it holds the lock; the block
waits for it after (:meth:`PostgreSQLStore.write`), so a write is durable before it is answered. A request's deadline bounds its reads by ``statement_timeout``.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Type
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
import psycopg.errors
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import FloatDumper, Int8Dumper
from psycopg.types.string import StrDumper
from psycopg_pool import ConnectionPool, PoolTimeout

from ..answers import ProtocolError
from ..budget import Interrupted, remaining
from . import changes, node_clock, pg_schema
from .interface import Connection
from .pg_dialect import SERIAL_TABLES, Translated, are_pattern, translate
from .pg_listener import Listener
from .store import SQLCatalogue, check_class_name, table, trigger_name

__all__ = ["PostgreSQLStore", "PGConnection", "POOL_SIZE", "configure"]

log = logging.getLogger("leanorm.embedded")

#: connections one process keeps at most (requests beyond wait for one): a database serves
#: nodes x workers x POOL_SIZE of them, within its max_connections (100 by default)
POOL_SIZE = 8
#: the shortest statement time limit a deadline sets (milliseconds): a read of a few rows finishes, as
#: SQLite's progress handler lets a statement of a few steps finish, however little time is left
FLOOR_MS = 5
#: how much later than its deadline a statement may be ended, to spare a round trip per statement
SLACK_MS = 50
#: seconds a pooled connection may rest before it is tried again on its next loan
RESTED = 2.0
#: the advisory lock every write transaction takes (a constant: one order for all writers of a database)
WRITER_LOCK = 0x6C65616E  # "lean"
#: the advisory lock setting the database up takes (two nodes starting at once define functions in turn)
SETUP_LOCK = 0x6C65616F


#: one change appended to the feed (:meth:`PostgreSQLStore.record_change`)
_RECORD = "SELECT leanorm_record_change(%s, %s, %s, %s, %s); "


def _redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[1]}"))


class _DocumentLoader(Loader):
    """``jsonb`` as SQLite's JSON functions answer: a scalar as its Python value (text, a number; a
    boolean as SQLite's 1/0), an object or array as its JSON text (what ``to_json`` and the endpoints
    parse)."""

    def load(self, data: Any) -> Any:
        text = bytes(data)
        if text[:1] in (b"{", b"["):
            return text.decode()
        value = orjson.loads(text)
        return int(value) if isinstance(value, bool) else value


class _NumberLoader(Loader):
    """``numeric`` (``SUM`` of integers) as an int when whole, else a float, as SQLite answers it."""

    def load(self, data: Any) -> Any:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


def _nul(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL (or psycopg, sending a parameter) refusing U+0000, which neither its
    ``text`` nor its ``jsonb`` can hold."""
    return isinstance(exc, psycopg.errors.UntranslatableCharacter) or "NUL" in str(exc)


def configure(conn: psycopg.Connection) -> None:
    """Read and write values as the endpoints' SQL expects them (see the loaders; ``str`` always as text)."""
    conn.adapters.register_loader("jsonb", _DocumentLoader)
    conn.adapters.register_loader("numeric", _NumberLoader)
    conn.adapters.register_dumper(str, StrDumper)  # text: never read as another type beside jsonb
    conn.adapters.register_dumper(int, Int8Dumper)
    conn.adapters.register_dumper(float, FloatDumper)


class Catalogue:
    """What this process read of the catalogue tables (:data:`.pg_schema.CATALOGUE`: fields' types and
    options, class permissions, named indexes), which class tables it found absent and which fields
    counters count, kept between requests until the catalogue changes, so a request reads none of it
    from the database.

    It is forgotten when any node's change is heard (the listener; milliseconds after that commit: a
    request a node began before hearing it reads what was true just before), when a write transaction
    finds the catalogue's version (``_leanorm``) moved under the writers' lock (so what a write reads in
    its transaction, the fields' types and options, is never outdated), and when this process changes
    it."""

    def __init__(self) -> None:
        self.rows: Dict[Tuple[str, Any], List[Any]] = {}
        #: class tables looked for and not found
        self.absent: Set[str] = set()
        #: the catalogue's version last read under the writers' lock
        self.version: Optional[str] = None
        #: grows at each clear: an answer read before a clear is not kept after it
        self.generation = 0

    def clear(self) -> None:
        self.generation += 1
        self.rows = {}
        self.absent = set()

    def keep(self, key: Tuple[str, Any], rows: List[Any], generation: int) -> None:
        if generation == self.generation:
            self.rows[key] = rows


def _key(sql: str, parameters: Any) -> Optional[Tuple[str, Any]]:
    """A statement and its parameters as a key of the catalogue cache (None: unhashable parameters)."""
    values = tuple(sorted(parameters.items())) if isinstance(parameters, dict) else tuple(parameters or ())
    try:
        hash(values)
    except TypeError:
        return None
    return sql, values


class KeptCursor:
    """The rows of a catalogue read, kept (:class:`Catalogue`)."""

    lastrowid: Optional[int] = None

    def __init__(self, rows: List[Any]) -> None:
        self._rows = rows

    @property
    def rowcount(self) -> int:
        return len(self._rows)

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> List[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class PGCursor:
    """The rows a statement answered, with ``lastrowid`` for an insert into a table of generated ids."""

    def __init__(self, cursor: psycopg.Cursor, returns_id: bool) -> None:
        self._cursor = cursor
        self.lastrowid: Optional[int] = None
        if returns_id:
            row = cursor.fetchone()
            self.lastrowid = row[0] if row else None

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        if self.lastrowid is not None or self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> List[Any]:
        if self.lastrowid is not None or self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PGConnection:
    """A pooled psycopg connection that runs the endpoints' statements (SQLite's dialect, translated)."""

    def __init__(self, raw: psycopg.Connection, tables_changed: Callable[[], None] = lambda: None,
                 catalogue: Optional[Catalogue] = None, changed_here: Optional[Callable[[], None]] = None) -> None:
        self.raw = raw
        #: called when a statement finds a class table gone (the store forgets the tables it knew)
        self.tables_changed = tables_changed
        #: the store's catalogue cache (None: every read goes to the database)
        self.catalogue = catalogue
        #: called when a statement outside a transaction changed the catalogue (the store forgets it,
        #: and tells the other workers of its node); by default the cache is only forgotten
        self.changed_here = changed_here or (catalogue.clear if catalogue is not None else (lambda: None))
        #: whether the open transaction wrote the catalogue (its reads then see what the cache does not)
        self.catalogue_written = False
        #: the open transaction's changes, appended to the feed as it commits (in the round trip of its
        #: COMMIT: one round trip less per write while the writers' lock is held)
        self.changes: List[Tuple[str, str, Optional[str], Optional[str]]] = []
        #: the statement_timeout set on the session (kept on the connection across loans)
        self._timeout_ms: int = getattr(raw, "leanorm_timeout_ms", 0)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def _bound(self) -> None:
        """The statement's time limit: what is left of the request's deadline outside a transaction; a
        transaction has none (``SET LOCAL`` as it begins: a write's own statements run to the end, as on
        SQLite). The session's setting, which stays with the connection from loan to loan, is changed only
        when it would end a statement early, or more than :data:`SLACK_MS` late; it is set half the slack
        late, so the requests that follow, each with about the same time left, find it as it is."""
        if self.in_transaction:
            return
        left = remaining()
        wanted = 0 if left is None else max(FLOOR_MS, int(left * 1000) + 1)
        current = self._timeout_ms
        if wanted == current or (wanted and current and 0 <= current - wanted <= SLACK_MS):
            return
        value = wanted + SLACK_MS // 2 if wanted else 0
        self.raw.execute(f"SET statement_timeout = {value}")
        self._timeout_ms = self.raw.leanorm_timeout_ms = value  # type: ignore[attr-defined]

    @property
    def kept(self) -> Optional[Catalogue]:
        """The catalogue cache this connection's reads may use: none in a transaction that changed the
        catalogue (it sees its own changes), nor in a snapshot (it sees one point in time)."""
        return None if self.catalogue_written else self.catalogue

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        statement = translate(sql)
        catalogue = self.kept
        if catalogue is not None and statement.catalogue == "read":
            key = _key(statement.sql, parameters)
            if key is not None:
                kept = catalogue.rows.get(key)
                if kept is not None:
                    return KeptCursor(kept)
                generation = catalogue.generation
                rows = self._execute(statement, parameters).fetchall()
                catalogue.keep(key, rows, generation)
                return KeptCursor(rows)
        cursor = self._execute(statement, parameters)
        self._after(statement)
        return cursor

    def _after(self, statement: Translated) -> None:
        """A statement that wrote the catalogue: what is kept of it is forgotten when the transaction
        ends (at once outside one)."""
        if self.catalogue is not None and statement.catalogue == "write":
            if self.in_transaction:
                self.catalogue_written = True
            else:
                self.changed_here()

    def _execute(self, statement: Translated, parameters: Any) -> PGCursor:
        if statement.regexes and isinstance(parameters, dict):
            parameters = dict(parameters)
            for pattern, options in statement.regexes:
                parameters[pattern] = are_pattern(parameters[pattern], parameters[options] or "")
        self._bound()
        try:
            cursor = self.raw.execute(statement.sql, parameters if parameters else None)
        except psycopg.errors.QueryCanceled:
            raise Interrupted("the statement ran past the request's deadline") from None
        except psycopg.errors.InvalidRegularExpression as exc:
            # what RE2 accepted but PostgreSQL's regular expressions cannot say (a named group...)
            raise ProtocolError(102, f"Invalid query: a regular expression this server cannot run: "
                                     f"{exc.diag.message_primary}.") from None
        except psycopg.errors.UndefinedTable:
            self.tables_changed()  # another node dropped a class this one knew: ask again next time
            raise
        except (psycopg.errors.UntranslatableCharacter, psycopg.DataError) as exc:
            if not _nul(exc):
                raise
            raise ProtocolError(107, "Invalid JSON: this server's PostgreSQL store cannot hold the character "
                                     "U+0000 in text.") from None
        return PGCursor(cursor, statement.returns_id)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PGCursor:
        statement = translate(sql)
        cursor = self.raw.cursor()
        cursor.executemany(statement.sql, list(parameters))
        self._after(statement)
        return PGCursor(cursor, False)

    def run(self, sql: str, parameters: Any = None) -> psycopg.Cursor:
        """A statement in PostgreSQL's own dialect (the store's catalogue queries), untranslated."""
        return self.raw.execute(sql, parameters)


class PostgreSQLStore(SQLCatalogue):
    """The PostgreSQL database of one embedded server (the storage interface's PostgreSQL store)."""

    integrity_errors: Tuple[Type[BaseException], ...] = (psycopg.IntegrityError,)
    memory = False

    def __init__(self, database: str, pool_size: int = POOL_SIZE) -> None:
        #: the URL without its password (what messages and clients are shown)
        self.database = _redacted(database)
        self._local = threading.local()
        self._known_tables: Set[str] = set()
        self._catalogue = Catalogue()
        #: the count of catalogue changes this node's workers share (None outside ``leanorm serve``), and
        #: the count this process last saw
        self._node = node_clock.from_environment()
        self._node_seen = self._node.read() if self._node is not None else 0
        self._closed = False
        #: when each pooled connection (by id) was last given back (:meth:`_check`)
        self._returned: Dict[int, float] = {}
        try:
            self._pool = ConnectionPool(database, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                                        configure=configure, check=self._check, open=True, timeout=30.0)
            self._pool.wait(timeout=30.0)
        except (psycopg.Error, PoolTimeout) as exc:
            raise ProtocolError(1, f"Cannot open the database {self.database}: {exc}.", 503) from None
        self._set_up()
        #: wakes the feed's readers at each commit of any node; forgets the tables when a class is dropped
        self._listener = Listener(database, self._catalogue_changed)

    def _catalogue_changed(self) -> None:
        """Forget the tables and the catalogue this process knew (a node changed them)."""
        self._known_tables.clear()
        self._catalogue.clear()

    def _changed_here(self) -> None:
        """This process committed a change to the catalogue: it forgets what it kept, and so do the other
        workers of its node before their next use of it (:mod:`.node_clock`), not only when they hear it.
        Counted first, then forgotten: what this process read before the forgetting is not kept after it,
        so taking the count as seen misses no other worker's change."""
        if self._node is not None:
            self._node_seen = self._node.advance()
        self._catalogue_changed()

    def _catch_up(self) -> None:
        """Forget the catalogue if another worker of this node changed it since this process last looked."""
        if self._node is not None:
            seen = self._node.read()
            if seen != self._node_seen:
                self._node_seen = seen
                self._catalogue_changed()

    def _catalogue_written(self, pg: PGConnection) -> None:
        """A change to the catalogue beyond its tables' rows (a class table made, a counter's triggers):
        every node forgets what it kept, when the change commits (at once when ``pg`` is not in a
        transaction)."""
        pg.run("SELECT leanorm_catalogue_changed()")
        if pg.in_transaction:
            pg.catalogue_written = True
        else:
            self._changed_here()

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
    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[PGConnection]:
        if self._closed:
            raise ProtocolError(1, "The embedded backend is closed.", 503)
        held: Optional[PGConnection] = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        self._catch_up()
        raw = self._pool.getconn()
        conn = PGConnection(raw, self._catalogue_changed, self._catalogue, self._changed_here)
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
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
        """One write transaction, serialised with every other writer of the database (an advisory lock):
        committed when the block ends, rolled back on any exception. A nested block joins it."""
        with self._borrowed() as conn:
            if getattr(self._local, "snapshot", False):
                raise ProtocolError(1, "No writes inside a read snapshot (Store.snapshot).", 503)
            if conn.in_transaction:
                yield conn
                return
            # one round trip: the transaction, its commit not waiting for the disk and its statements for
            # no deadline, the writers' lock, and then (read under the lock) the catalogue's version: a
            # write goes by the catalogue as it is
            cursor = conn.raw.execute("BEGIN; SET LOCAL synchronous_commit TO OFF; "
                                      "SET LOCAL statement_timeout = 0; "
                                      f"SELECT pg_advisory_xact_lock({WRITER_LOCK}); "
                                      "SELECT value FROM _leanorm WHERE name = 'catalogue'")
            while cursor.nextset():
                pass
            version = cursor.fetchone()
            if (version and version[0]) != self._catalogue.version:
                self._catalogue_changed()
                self._catalogue.version = version and version[0]
            created = self._created_tables()
            self._local.writing = conn
            try:
                yield conn
            except BaseException:
                self._local.writing = None
                conn.changes.clear()
                with contextlib.suppress(psycopg.Error):
                    conn.raw.execute("ROLLBACK")
                created.clear()
                if conn.catalogue_written:
                    self._catalogue_changed()
                    conn.catalogue_written = False
                raise
            self._local.writing = None
            # Durable before the block ends (and the client hears of it): after the COMMIT (which does not
            # wait for the disk), a transaction that commits with synchronous_commit on waits until the
            # write-ahead log is on disk up to its own commit, which lies past ours. It runs after the
            # writers' lock is released (at the COMMIT), so the writers of all nodes share their disk
            # flushes instead of taking turns at one each (9 ms on the build machine). The transaction's
            # changes, its COMMIT and the wait go in one round trip (the values bound by psycopg, quoted).
            recorded, conn.changes = conn.changes, []
            psycopg.ClientCursor(conn.raw).execute(
                _RECORD * len(recorded) + "COMMIT; SELECT pg_current_xact_id()",
                [value for change in recorded for value in (*change, changes.KEEP)])
            if conn.catalogue_written:
                self._changed_here()
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
        conn.raw.execute("SAVEPOINT leanorm_part")
        try:
            yield
        except BaseException:
            conn.raw.execute("ROLLBACK TO SAVEPOINT leanorm_part")
            conn.raw.execute("RELEASE SAVEPOINT leanorm_part")
            created.intersection_update(before)
            del conn.changes[recorded:]  # the part's changes are undone with it
            raise
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
            log.error("the readiness check could not read the database: %s", exc)
            raise ProtocolError(1, "The database cannot be read.", 503) from None

    def close(self) -> None:
        self._closed = True
        self._listener.close()  # it holds no request: it stops within a tick
        self._pool.close()

    # -- the change feed (:mod:`.changes`) ---------------------------------------------------------------
    # ``seq`` is commit order: it is the largest plus one, taken under the writers' advisory lock, which
    # PostgreSQL releases only once the transaction's commit is visible, so the next writer's change is
    # both numbered after it and committed after it (a reader never sees n + 1 without n). A ``serial``
    # taken under the lock would be ordered too, but a rolled-back write keeps its number, and the gap
    # would read as changes the bounded feed dropped (``changes.read_after``'s ``missed``).
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
        elif kept is not None and generation == kept.generation:
            kept.absent.add(class_name)
        return found

    def ensure_class(self, conn: Connection, class_name: str) -> None:
        if self.has_class(conn, class_name):
            return
        pg = self._pg(conn)
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
