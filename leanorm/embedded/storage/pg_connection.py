"""A PostgreSQL connection as the endpoints' :class:`.interface.Connection` (:class:`PGConnection`): each
statement of SQLite's dialect translated once (:mod:`.pg_dialect`), values read and written as the
endpoints expect them (:func:`configure`, the session every pooled connection sets itself), what the
process keeps of the class catalogue answered without a round trip (:class:`Catalogue`) and checked in a
request's first one (:class:`RequestCheck`), and a write transaction's held-back statements sent as one
message of literal SQL (:meth:`PGConnection.defer`). The store that lends these connections and runs
transactions on them is :mod:`.postgresql`.
"""
from __future__ import annotations

import contextlib
import logging
import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

import orjson
import psycopg
import psycopg.errors
from psycopg.adapt import Loader
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.numeric import FloatDumper, Int8Dumper
from psycopg.types.string import StrDumper

from ..answers import ProtocolError
from ..budget import Interrupted, Request, remaining, write_remaining
from . import pg_schema
from .interface import StaleCatalogue
from .pg_dialect import CACHED_SQL_CHARS, Translated, are_pattern, translate
from .store import failed

__all__ = ["PGConnection", "RequestCheck", "Catalogue", "configure", "SESSION", "NeedsExclusive", "Outdated",
           "CATALOGUE_VERSION", "limit_ms", "unavailable"]

log = logging.getLogger("leanorm.embedded")


#: the shortest statement time limit a deadline sets (milliseconds): a read of a few rows (a tenth of a
#: millisecond of PostgreSQL's time) finishes, as SQLite's progress handler lets a statement of a few
#: steps finish, however little time is left. 5 ms let a scan of 1,000 rows under 100 conditions (4 ms)
#: finish past a 1 ms deadline, where SQLite interrupts it
FLOOR_MS = 1


#: how much later than its deadline a statement may be ended, to spare a round trip per statement: at most
#: SLACK_MS, and at most a SLACK_SHARE-th of the limit (25 ms late on a 2 ms limit let a scan ten times
#: the deadline finish)
SLACK_MS = 50


SLACK_SHARE = 20


class NeedsExclusive(BaseException):
    """Raised in a write running beside others (:meth:`PostgreSQLStore.transact`) before a statement
    that needs every other writer kept out: the store rolls it back and runs it again alone. A
    ``BaseException``, so that no ``except Exception`` of the write's own code takes it for a failure."""


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


def limit_ms(floor: int = FLOOR_MS) -> int:
    """A statement's time limit (``statement_timeout``, milliseconds; 0: none): what is left of the
    request's deadline, and at least ``floor``."""
    left = remaining()
    return 0 if left is None else max(floor, int(left * 1000) + 1)


def _nul(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL (or psycopg, sending a parameter) refusing U+0000, which neither its
    ``text`` nor its ``jsonb`` can hold."""
    return isinstance(exc, psycopg.errors.UntranslatableCharacter) or "NUL" in str(exc)


def unavailable(message: str, exc: BaseException) -> ProtocolError:
    """The client's error for a database this process cannot reach (stopped, restarting, failing over,
    out of connections, its connection cut), logged on one line and counted (``unavailable``)."""
    failed("unavailable")
    log.warning("the database is unavailable: %s", " ".join(str(exc).split()))
    return ProtocolError(1, message, 503)


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
        wanted = limit_ms()
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
