"""PostgreSQL storage of the embedded server: the storage interface's second store.

The layout is the SQLite store's (one table per class, ``c_<ClassName>``: objectId, createdAt, updatedAt,
acl, data; the same server tables), with ``acl`` and ``data`` as ``jsonb``. The endpoints' SQL (SQLite's
dialect) runs through :class:`PGConnection`, which translates each distinct statement once
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
import re
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Type, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
import psycopg.errors
from psycopg.adapt import Loader
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.numeric import FloatDumper, Int8Dumper
from psycopg.types.string import StrDumper
from psycopg_pool import ConnectionPool, PoolTimeout

from ..answers import ProtocolError
from ..budget import Interrupted, Request, current_request, remaining, write_remaining, writing
from . import changes, pg_schema
from .interface import Connection, StaleCatalogue
from .pg_dialect import CACHED_SQL_CHARS, SERIAL_TABLES, Translated, are_pattern, translate
from .pg_listener import Listener
from .store import SQLCatalogue, check_class_name, failed, table, trigger_name

__all__ = ["PostgreSQLStore", "PGConnection", "POOL_SIZE", "configure", "NeedsExclusive"]

log = logging.getLogger("leanorm.embedded")
T = TypeVar("T")

#: connections one process keeps at most (requests beyond wait for one): a database serves
#: nodes x workers x POOL_SIZE of them, within its max_connections (100 by default)
POOL_SIZE = 8
#: the shortest statement time limit a deadline sets (milliseconds): a read of a few rows (a tenth of a
#: millisecond of PostgreSQL's time) finishes, as SQLite's progress handler lets a statement of a few
#: steps finish, however little time is left. 5 ms let a scan of 1,000 rows under 100 conditions (4 ms)
#: finish past a 1 ms deadline, where SQLite interrupts it
FLOOR_MS = 1
#: the shortest time limit of a write transaction's statements (milliseconds): the bound is there to end a
#: scan holding the writers' lock for seconds, not to cut a write's own few-millisecond statements (a
#: machine under load, a request that used its time reading) between its savepoints or at its end
WRITE_FLOOR_MS = 1000
#: how much later than its deadline a statement may be ended, to spare a round trip per statement: at most
#: SLACK_MS, and at most a SLACK_SHARE-th of the limit (25 ms late on a 2 ms limit let a scan ten times
#: the deadline finish)
SLACK_MS = 50
SLACK_SHARE = 20
#: seconds a pooled connection may rest before it is tried again on its next loan
RESTED = 2.0
#: seconds a caller without a deadline (the live queries' reader, a command) waits for a connection
#: (a request waits what is left of its deadline, at least FLOOR_WAIT)
POOL_WAIT = 30.0
FLOOR_WAIT = 0.5
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


class NeedsExclusive(BaseException):
    """Raised in a write running beside others (:meth:`PostgreSQLStore.transact`) before a statement
    that needs every other writer kept out: the store rolls it back and runs it again alone. A
    ``BaseException``, so that no ``except Exception`` of the write's own code takes it for a failure."""


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


#: what PostgreSQL answers a statement beyond its limits with (its stack, a row's or an array's size)
_TOO_COMPLEX = (psycopg.errors.ProgramLimitExceeded, psycopg.errors.StatementTooComplex)


def _limit_ms(floor: int = FLOOR_MS) -> int:
    """A statement's time limit (``statement_timeout``, milliseconds; 0: none): what is left of the
    request's deadline, and at least ``floor``."""
    left = remaining()
    return 0 if left is None else max(floor, int(left * 1000) + 1)


def _nul(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL (or psycopg, sending a parameter) refusing U+0000, which neither its
    ``text`` nor its ``jsonb`` can hold."""
    return isinstance(exc, psycopg.errors.UntranslatableCharacter) or "NUL" in str(exc)


def _unavailable(message: str, exc: BaseException) -> ProtocolError:
    """The client's error for a database this process cannot reach (stopped, restarting, failing over,
    out of connections, its connection cut), logged on one line and counted (``unavailable``)."""
    failed("unavailable")
    log.warning("the database is unavailable: %s", " ".join(str(exc).split()))
    return ProtocolError(1, message, 503)


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


class _TextLiteral(StrDumper):
    """A string bound as ``text`` (never read as another type beside jsonb), and written into a statement's
    text (``ClientCursor``: several statements in one message) as ``text`` too, not ``unknown``, so that
    the operators chosen are the same either way; so are the numbers below."""

    def quote(self, obj: Any) -> bytes:
        return bytes(super().quote(obj)) + b"::text"


class _Int8Literal(Int8Dumper):
    # in parentheses: ``-9223372036854775808::int8`` reads as the negation of a number past int8's range
    def quote(self, obj: Any) -> bytes:
        return b"(" + bytes(super().quote(obj)) + b")::int8"


class _FloatLiteral(FloatDumper):
    # without parentheses: ``-0.0::float8`` negates a float8 (-0.0), ``(-0.0)::float8`` casts numeric 0
    def quote(self, obj: Any) -> bytes:
        return bytes(super().quote(obj)) + b"::float8"


#: the session settings every pooled connection sets itself, whatever the database, its role, the URL or
#: the node's environment (``PGCLIENTENCODING``, ``PGOPTIONS``) made them: text goes as UTF-8 (another
#: client encoding answered 500 for characters it cannot hold and stored others changed, ‾ as ~); a
#: literal's backslash is a character (the store's SQL writes ``'\x00'::bytea``; a write's values are
#: quoted for the setting in force, :meth:`PGConnection.literal`); each statement of a write sees what was
#: committed before it, the writers' lock held by another included (repeatable read numbered two changes
#: alike); a wait for a lock is bounded by the request's deadline alone (``lock_timeout`` answered 500); a
#: float reads back as it is (``extra_float_digits`` below 1 rounds it)
SESSION = ("SET jit = off; SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; "
           "SET default_transaction_isolation = 'read committed'; SET lock_timeout = 0; "
           "SET extra_float_digits = 1")


def configure(conn: psycopg.Connection) -> None:
    """Read and write values as the endpoints' SQL expects them (see the loaders; ``str`` always as text;
    :data:`SESSION`), and without JIT compilation: LLVM compiles a statement's expressions whole, without
    once looking at ``statement_timeout`` or a cancel, and a `where` of a few hundred conditions (a ``$all``
    of 400 numbers, a 2 KB URL) cost it minutes of a core, past every deadline and past
    ``pg_terminate_backend``, where the statement itself runs in milliseconds."""
    conn.execute(SESSION)
    conn.adapters.register_loader("jsonb", _DocumentLoader)
    conn.adapters.register_loader("numeric", _NumberLoader)
    conn.adapters.register_dumper(str, _TextLiteral)
    conn.adapters.register_dumper(int, _Int8Literal)
    conn.adapters.register_dumper(float, _FloatLiteral)


#: answers the kept catalogue holds at most (:class:`Catalogue`): an app's classes need a few each; the
#: class names clients ask for are theirs to choose, and each one kept its answers (330 bytes) until a
#: schema changed
KEPT_ENTRIES = 4096

#: the catalogue's version (``leanorm_catalogue_changed`` moves it)
CATALOGUE_VERSION = "SELECT value FROM _leanorm WHERE name = 'catalogue'"


class Outdated(BaseException):
    """Raised in a write transaction whose opening found the kept catalogue older than the database's
    (``leanorm_catalogue_is``): nothing of it was done; the store forgets what it kept and runs it again."""


#: a JSON string (kept as it is) or a number with a positive exponent, as orjson and ``json`` write every
#: float from 1e16 up
_STRING_OR_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?[0-9]+(?:\.[0-9]+)?e\+[0-9]+)')


def _spelled_out(found: "re.Match[str]") -> str:
    number = found.group(1)
    whole = number is not None and float(number).is_integer()
    return f"{int(float(number))}.0" if whole else found.group(0)


def _document(text: Any) -> Any:
    """A JSON text ``jsonb`` reads as the same values: ``jsonb`` keeps a number as ``numeric``, which keeps
    ``2.0``'s fraction but not ``1e+16``'s (10000000000000000, read back as an integer; ``1e+19`` as one
    past 2**63), so a whole float written with an exponent is written out, with its fraction."""
    if not isinstance(text, str) or "e+" not in text:
        return text
    return _STRING_OR_EXPONENT.sub(_spelled_out, text)


def _parameters(statement: Translated, parameters: Any) -> Any:
    """``parameters`` as PostgreSQL takes them: a regular expression's pattern in its own dialect, a JSON
    document as :func:`_document` writes it."""
    if statement.regexes and isinstance(parameters, dict):
        parameters = dict(parameters)
        for pattern, options in statement.regexes:
            parameters[pattern] = are_pattern(parameters[pattern], parameters[options] or "")
    if statement.documents and parameters:
        parameters = dict(parameters) if isinstance(parameters, dict) else list(parameters)
        for key in statement.documents:
            parameters[key] = _document(parameters[key])
    return parameters


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
        #: the catalogue's version what is kept was read at (None: not known, the next use reads it)
        self.version: Optional[str] = None
        #: grows at each clear: an answer read before a clear is not kept after it
        self.generation = 0

    def clear(self) -> None:
        """Forget what is kept, and its version: the next request reads the version (one round trip)
        rather than rely on the old one, which would fail its check and run the request twice."""
        self.generation += 1
        self.rows = {}
        self.absent = set()
        self.version = None

    def keep(self, key: Tuple[str, Any], rows: List[Any], generation: int) -> None:
        if generation == self.generation and self._room():
            self.rows[key] = rows

    def keep_absent(self, class_name: str, generation: int) -> None:
        """Note that ``class_name`` has no table (read at ``generation``)."""
        if generation == self.generation and self._room():
            self.absent.add(class_name)

    def _room(self) -> bool:
        """Whether one more answer may be kept: past :data:`KEPT_ENTRIES` (the class names clients ask
        for are theirs to choose), everything is forgotten, to be read again as needed."""
        if len(self.rows) + len(self.absent) < KEPT_ENTRIES:
            return True
        self.clear()
        return False


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

    @property
    def _has_rows(self) -> bool:
        """Whether the statement answered rows (a ``SELECT``'s; not an insert's id nor a command's), read
        from the result's status: psycopg's ``description`` builds a column object per column per call."""
        result = self._cursor.pgresult
        return self.lastrowid is None and result is not None and result.status == ExecStatus.TUPLES_OK

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._has_rows else None

    def fetchall(self) -> List[Any]:
        return self._cursor.fetchall() if self._has_rows else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class RequestCheck:
    """What one request (a thread's outermost ``budget.deadline`` block) knows of the kept catalogue.

    The catalogue a node keeps must be the database's as of the request's start: a permission closed
    through another node binds the next request everywhere. That used to cost every request a round trip
    of its own (the version read before the first use). Now the request uses what is kept, noting the
    version (``relied_on``), and its first round trip carries the check (``leanorm_catalogue_is``: a read's
    condition, a write transaction's opening): until that round trip the request did nothing outside this
    process, so when the check fails it is run again from its start (:class:`.interface.StaleCatalogue`),
    the catalogue read afresh. Once it ``acted`` (wrote, or reached outside: ``Store.settle``) it could no
    longer be run again, and its first use reads the version first, as before."""

    __slots__ = ("request", "verified", "relied_on", "acted")

    def __init__(self, request: Request) -> None:
        self.request = request
        #: a round trip of this request found the kept catalogue current
        self.verified = False
        #: the kept catalogue's version the request used it at, not yet checked
        self.relied_on: Optional[str] = None
        #: the request wrote or reached outside the server (or is not one the server runs again)
        self.acted = not request.may_run_again

    @property
    def pending(self) -> bool:
        return self.relied_on is not None and not self.verified


class PGConnection:
    """A pooled psycopg connection that runs the endpoints' statements (SQLite's dialect, translated).

    Statements go one round trip each, except where a write transaction holds some back (its opening, until
    its first statement whose answer is read; statements sent with :meth:`defer`): those go with the next
    statement or the commit, as one message (:meth:`_send`)."""

    def __init__(self, raw: Union[psycopg.Connection, Callable[[], psycopg.Connection]],
                 tables_changed: Callable[[], None] = lambda: None,
                 catalogue: Optional[Catalogue] = None, check: Optional[RequestCheck] = None) -> None:
        #: the psycopg connection, or what lends one when a statement first needs it (a block answered
        #: from the kept catalogue alone, a request's permissions, takes none from the pool)
        self.lent: Optional[psycopg.Connection] = None if callable(raw) else raw
        self._lend: Optional[Callable[[], psycopg.Connection]] = raw if callable(raw) else None
        #: called when a statement finds a class table gone (the store forgets the tables it knew)
        self.tables_changed = tables_changed
        #: the store's catalogue cache (None: every read goes to the database)
        self.catalogue = catalogue
        #: what the request this connection serves knows of the kept catalogue (None: not in a request)
        self.check = check
        #: whether the open transaction wrote the catalogue (its reads then see what the cache does not)
        self.catalogue_written = False
        #: the open transaction's changes, appended to the feed as it commits (in the round trip of its
        #: COMMIT: one round trip less per write while the writers' lock is held)
        self.changes: List[Tuple[str, str, Optional[str], Optional[str]]] = []
        #: the open transaction's opening statements, not sent yet (:meth:`PostgreSQLStore.transact`)
        self.opening: Optional[str] = None
        #: whether :attr:`opening` checks the kept catalogue's version (``leanorm_catalogue_is``)
        self.opening_checks = False
        #: statements held back (:meth:`defer`), in literal SQL, sent with the next statement or the commit
        self.deferred: List[str] = []
        #: whether the open transaction holds statements back (one :meth:`PostgreSQLStore.transact` opened:
        #: its caller hears a held-back statement's error from it; a ``write()`` block's items would not)
        self.defers = False
        #: savepoints open (a statement held back past one would fail outside it)
        self.savepoints = 0
        #: whether the kept catalogue was compared with the database's version in this loan (outside a request)
        self.current = False
        #: whether the open transaction runs beside other writers (``transact(..., concurrent=True)``)
        self.shared = False

    def alone(self) -> None:
        """Before a statement that needs every other writer kept out (it writes the catalogue or the
        database's structure, or it is a ``write()`` block): in a transaction running beside others,
        raise :class:`NeedsExclusive` (the store runs the write again, alone)."""
        if self.shared:
            raise NeedsExclusive()

    @property
    def raw(self) -> psycopg.Connection:
        """The psycopg connection (lent now if it was not yet)."""
        if self.lent is None:
            assert self._lend is not None
            self.lent = self._lend()
        return self.lent

    @property
    def in_transaction(self) -> bool:
        return self.opening is not None or (self.lent is not None and
                                            self.lent.info.transaction_status != TransactionStatus.IDLE)

    def _bound(self) -> None:
        """The statement's time limit: what is left of the request's deadline outside a transaction (a
        transaction sets its own with ``SET LOCAL`` as it begins: :meth:`PostgreSQLStore.write`). The
        session's setting, which stays with the connection from loan to loan, is changed only when it would
        end a statement early, or more than its slack late; it is set half the slack late, so the
        requests that follow, each with about the same time left, find it as it is. The slack is a share of
        the limit (:data:`SLACK_SHARE`): none on a limit of a few milliseconds."""
        if self.in_transaction:
            return
        wanted = _limit_ms()
        slack = min(SLACK_MS, wanted // SLACK_SHARE)
        # the statement_timeout set on the session (kept on the connection across loans)
        current = getattr(self.raw, "leanorm_timeout_ms", 0)
        if wanted == current or (wanted and current and 0 <= current - wanted <= slack):
            return
        value = wanted + slack // 2 if wanted else 0
        self.raw.execute(f"SET statement_timeout = {value}")
        self.raw.leanorm_timeout_ms = value  # type: ignore[attr-defined]

    @property
    def kept(self) -> Optional[Catalogue]:
        """The catalogue cache this connection's reads may use: none in a transaction that changed the
        catalogue (it sees its own changes), nor in a snapshot (it sees one point in time). In a request,
        its first use is checked by the request's first round trip (:class:`RequestCheck`); where that
        cannot be (the version not known yet, a request that acted) and outside a request (once per loan),
        it is compared with the database's version first (one indexed read)."""
        if self.catalogue_written or self.catalogue is None:
            return None
        check = self.check
        if check is None:
            if not self.current:
                self._compare()
        elif not check.verified and check.relied_on is None:
            version = self.catalogue.version  # read once: another thread may forget it meanwhile
            if version is None or check.acted:
                self._compare()
            else:
                check.relied_on = version
        return self.catalogue

    def _compare(self) -> None:
        """Read the catalogue's version (one round trip, with what the transaction holds back) and
        :meth:`agree` with it."""
        self.agree(self._send(CATALOGUE_VERSION, None).fetchone())

    def agree(self, version: Any) -> None:
        """Forget the kept catalogue unless ``version`` (the database's, as a row) is the one it was read
        at; :class:`.interface.StaleCatalogue` when the request relied on it unchecked."""
        assert self.catalogue is not None
        found = version[0] if version else None
        check = self.check
        self.current = True
        if found != self.catalogue.version:
            self.tables_changed()
            self.catalogue.version = found
        # the version the request used the catalogue at, not the one the node knows now: another request
        # of this process may have learned the newer one since, after this one judged by the older
        if check is not None and check.pending and found != check.relied_on:
            check.relied_on, check.verified = None, True
            raise StaleCatalogue()
        if check is not None:
            check.verified = True

    def _moved(self) -> BaseException:
        """What to raise when a statement's check of the kept catalogue failed (``leanorm_catalogue_is``):
        it is forgotten (its version too: the next use reads it); the request runs again when it relied
        on it unchecked (:class:`.interface.StaleCatalogue`), else the write does (:class:`Outdated`)."""
        assert self.catalogue is not None
        self.tables_changed()
        self.catalogue.version = None
        check = self.check
        if check is not None and check.pending:
            check.relied_on, check.verified = None, True
            return StaleCatalogue()
        return Outdated()

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        statement = translate(sql)
        if statement.catalogue == "write":
            self.alone()
        catalogue = self.kept if statement.catalogue == "read" else None
        if catalogue is not None:
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

    def defer(self, sql: str, parameters: Any) -> None:
        """A write statement of the open transaction whose answer no one reads (``Store.send``): sent with
        the next statement or the commit (at once inside a savepoint, whose end must see its error)."""
        statement = translate(sql)
        if statement.catalogue or statement.returns_id or not self.defers or self.savepoints:
            self.execute(sql, parameters)
            return
        self.deferred.append(self.literal(statement.sql, _parameters(statement, parameters)))

    def _after(self, statement: Translated) -> None:
        """A statement that wrote the catalogue: what is kept of it is forgotten when the transaction
        ends (at once outside one)."""
        if self.catalogue is not None and statement.catalogue == "write":
            if self.in_transaction:
                self.catalogue_written = True
            else:
                self.catalogue.clear()

    def _in_time(self) -> None:
        """Before a statement of a write transaction: :class:`Interrupted` once the transaction's end passed
        (:func:`.budget.writing`: the request's deadline, at least ``WRITE_FLOOR`` from its start). The limit
        each statement gets was set as the transaction began: without this, a batch's items each ran to it
        in turn, under the writers' lock every node's writes wait for. No round trip."""
        if self.in_transaction:
            left = write_remaining()
            if left is not None and left <= 0:
                raise Interrupted("a statement of a write transaction would start past the transaction's end")

    def _execute(self, statement: Translated, parameters: Any) -> PGCursor:
        parameters = _parameters(statement, parameters)
        self._in_time()
        self._bound()
        check = self.check
        if check is not None and not self.in_transaction:
            if not statement.sql.startswith("SELECT "):
                self._acting()
            elif check.pending:
                return self._checked(statement, parameters, check)
        return PGCursor(self._send(statement.sql, parameters), statement.returns_id)

    def _checked(self, statement: Translated, parameters: Any, check: RequestCheck) -> PGCursor:
        """A read that is the request's first round trip, carrying its check: a condition of no row,
        evaluated once before the statement's rows (a sub-query's rows keep their order: it is the whole
        query)."""
        sql, version = statement.sql, check.relied_on
        if isinstance(parameters, dict):
            sql = f"SELECT * FROM ({sql}) AS leanorm_checked WHERE leanorm_catalogue_is(%(leanorm_catalogue)s)"
            parameters = {**parameters, "leanorm_catalogue": version}
        else:
            sql = f"SELECT * FROM ({sql}) AS leanorm_checked WHERE leanorm_catalogue_is(%s)"
            parameters = (*(parameters or ()), version)
        raw = self._send(sql, parameters)
        if raw.rowcount == 0:
            # a read PostgreSQL knows, as it plans it, to find no row (a condition that can hold for none,
            # ``WHERE 0``) is run as no scan at all, its outer condition (the check) unevaluated with it: no
            # row answered, no check known to have run
            self._compare()
        check.verified = True
        return PGCursor(raw, statement.returns_id)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PGCursor:
        statement = translate(sql)
        if statement.catalogue == "write":
            self.alone()
        self._in_time()
        self._flush()
        self._acting()
        cursor = self.raw.cursor()
        with self._answering():
            cursor.executemany(statement.sql, [_parameters(statement, row) for row in parameters])
        self._after(statement)
        return PGCursor(cursor, False)

    def run(self, sql: str, parameters: Any = None) -> psycopg.Cursor:
        """A statement in PostgreSQL's own dialect (the store's catalogue queries), untranslated."""
        self._acting()
        return self._send(sql, parameters)

    def _acting(self) -> None:
        """Before a statement outside a transaction that may write (the request can no longer be run
        again): the request's pending check first."""
        check = self.check
        if check is None or self.in_transaction:
            return
        self.settle()
        check.acted = True

    def settle(self) -> None:
        """The request's pending check of the kept catalogue, now: its version read in one round trip (with
        what an open transaction holds back), :class:`.interface.StaleCatalogue` when it moved."""
        if self.check is not None and self.check.pending:
            self._compare()

    def _flush(self) -> None:
        """Send what the transaction holds back (its opening, deferred statements), alone."""
        if self.opening is not None or self.deferred:
            self._send("SELECT 1", None)

    def _send(self, sql: str, parameters: Any) -> psycopg.Cursor:
        """One statement in one round trip, with what the transaction holds back before it (then all as
        one message of literal SQL); the cursor at its rows."""
        with self._answering():
            if self.opening is None and not self.deferred:
                if len(sql) > CACHED_SQL_CHARS:  # a client's `where` spelt out
                    return self._unnoted(sql, parameters if parameters else None)
                return self.raw.execute(sql, parameters if parameters else None)
            held = self.deferred
            checks = self.opening_checks
            parts = ([] if self.opening is None else [self.opening]) + held + [self.literal(sql, parameters)]
            self.opening, self.opening_checks, self.deferred = None, False, []
            cursor = self._unnoted("; ".join(parts))  # its values are in its text: it is never sent again
            while cursor.nextset():
                pass
            if checks and self.check is not None:
                self.check.verified = True
            self.current = self.current or checks
            return cursor

    def _unnoted(self, sql: str, parameters: Any = None) -> psycopg.Cursor:
        """``sql`` run without psycopg noting its text: it counts the uses of each of a connection's last 100
        statements (a failed one's included) to prepare the frequent ones, and a statement that will not
        come again (:data:`.pg_dialect.CACHED_SQL_CHARS`) would stay there, megabytes of it."""
        raw = self.raw
        threshold, raw.prepare_threshold = raw.prepare_threshold, None
        try:
            return raw.execute(sql, parameters)
        finally:
            raw.prepare_threshold = threshold

    def script(self, sql: str) -> psycopg.Cursor:
        """Statements in literal SQL (a transaction's opening, its end) in one round trip, with what the
        transaction holds back before them; the cursor at the last one's rows."""
        cursor = self._send(sql, None)
        while cursor.nextset():
            pass
        return cursor

    def literal(self, sql: str, parameters: Any) -> str:
        """``sql`` with ``parameters`` written into its text (as :func:`configure`'s dumpers type them)."""
        if not parameters:
            return sql
        # a cursor that only writes values into text, kept with the connection (a cursor made per
        # statement cost a tenth of a write's client time)
        writer: Optional[psycopg.ClientCursor] = getattr(self.raw, "leanorm_writer", None)
        if writer is None:
            writer = self.raw.leanorm_writer = psycopg.ClientCursor(self.raw)  # type: ignore[attr-defined]
        return writer.mogrify(sql, parameters)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """PostgreSQL's errors as the client's (or the store's, for the kept catalogue's check)."""
        try:
            yield
        except psycopg.Error as exc:
            if exc.sqlstate == pg_schema.CATALOGUE_MOVED:
                raise self._moved() from None
            if isinstance(exc, psycopg.errors.QueryCanceled):
                raise Interrupted("the statement ran past the request's deadline") from None
            if isinstance(exc, psycopg.errors.InvalidRegularExpression):
                # what RE2 accepted but PostgreSQL's regular expressions cannot say (a named group...)
                raise ProtocolError(102, f"Invalid query: a regular expression this server cannot run: "
                                         f"{exc.diag.message_primary}.") from None
            if isinstance(exc, psycopg.errors.UndefinedTable):
                self.tables_changed()  # another node dropped a class this one knew: ask again next time
                raise
            if isinstance(exc, (psycopg.errors.UntranslatableCharacter, psycopg.DataError)) and _nul(exc):
                raise ProtocolError(107, "Invalid JSON: this server's PostgreSQL store cannot hold the "
                                         "character U+0000 in text.") from None
            # a statement past PostgreSQL's limits (65,535 parameters, its stack, a row's size): SQLite
            # refuses such a query as too complex too (``limits.too_complex``)
            if isinstance(exc, _TOO_COMPLEX) or (isinstance(exc, psycopg.OperationalError)
                                                 and "number of parameters" in str(exc)):
                raise ProtocolError(102, "Invalid query: too complex to run.") from None
            raise


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
        """A connection of the pool, waited for at most until the request's deadline (at least
        :data:`FLOOR_WAIT`), else :data:`POOL_WAIT`: a request never outlives its deadline waiting, whatever
        ``--threads`` says beside :data:`POOL_SIZE`. Past the wait: 503 saying the database is unavailable
        when the pool could not open its connections (the database away), else 124 (the request's deadline
        passed behind others), or 503 saying every connection is busy (no deadline)."""
        left = remaining()
        wait = POOL_WAIT if left is None else max(left, FLOOR_WAIT)
        try:
            return self._pool.getconn(timeout=wait)
        except PoolTimeout as exc:
            if self._pool.get_stats().get("pool_size", 0) < self._pool.max_size:
                raise _unavailable(f"The database is unavailable: no connection to it within {wait:.1f} s. The "
                                   "request was not served; try again.", exc) from None
            if left is not None:
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
            raise _unavailable("The database is unavailable: the connection to it was lost. The request was "
                               "not served; try again.", exc) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:  # a standby (the old primary, demoted) or read-only
            raise _unavailable("The database refuses writes (a standby, or read-only): the request was not "
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
                       f"SET LOCAL statement_timeout = {_limit_ms(WRITE_FLOOR_MS)}; "
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
                    raise _unavailable("The connection to the database was lost as this write committed: it may "
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
