"""SQLite storage of the embedded backend.

One table per class (``c_<ClassName>``: objectId, createdAt, updatedAt, acl, data), where ``data`` is the
document's JSON minus those four keys, written compactly with sorted keys so that equal values are equal
text. Beside them: ``_schema`` (the type each field got on its first write or from the schema API),
``_field_options`` (a field's ``required`` and ``defaultValue``), ``_named_indexes`` (indexes made by name
through the schema API), ``_relations`` (the rows of
every Relation field), ``_sessions``, ``_passwords``, ``_outbox`` (SMS and e-mail the backend would have
sent), ``_one_time_codes`` (verification codes, each bound to a purpose, a recipient and a user; the
``_codes`` of earlier versions, unbound, is dropped: a pending code lives ten minutes) and ``_code_failures``
(wrong guesses, for their limits), ``_file_uploads`` (upload addresses handed out),
``_class_permissions`` and ``_migrations`` (rewrites of an earlier version's data done once per database).

A file database runs in WAL mode. A thread borrows a connection from a pool for the outermost ``read()`` or
``write()`` block and gives it back when the block ends (nested blocks reuse it), so open connections never
exceed the requests in flight plus a few idle ones, however many threads or clients come and go. Each
write request is one ``BEGIN IMMEDIATE`` transaction, so concurrent threads and processes serialise their
writes and readers never see half a request; writers queue on a :class:`WriterLock` (woken in turn, not
polling) and checkpoints are a thread's job (:mod:`.checkpoints`), not a request's. ``:memory:`` has one connection shared under a lock (SQLite cannot share an
in-memory database between connections without shared-cache locking, which does not wait).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import time
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional, Tuple, Type, TypeVar

import orjson

from ..budget import Interrupted, watch, writing
from . import changes, live_subscriptions
from .checkpoints import WAL_LIMIT, Checkpointer
from ..answers import ProtocolError
from .sqlfunctions import register_functions
from .interface import Connection, FieldOptions, FieldType
from .writer_lock import WriterLock

__all__ = ["SQLiteStore", "SQLCatalogue", "table", "json_path", "trigger_name", "check_class_name", "check_field_name", "FieldType", "FieldOptions", "store_failure",
           "FAILURE_OBSERVERS", "failed"]

log = logging.getLogger("leanorm.embedded")
_T = TypeVar("_T")
#: called with a kind (``disk``, ``moved``, ``read``, ``unavailable``) on each failure of the database:
#: ``leanorm serve`` counts them (its metrics)
FAILURE_OBSERVERS: List[Callable[[str], None]] = []


def failed(kind: str) -> None:
    """Tell the observers (``leanorm serve``'s metrics) of a failure of the database of ``kind``."""
    for observe in FAILURE_OBSERVERS:
        observe(kind)

CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
#: a stored field's name: LeanCloud takes a leading digit (Waline keeps a TOTP secret in ``2fa``), so an
#: export may hold one; Parse's stricter rule is the Parse dialect's (``endpoints.objects``)
FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,128}\Z")
PATH_PART = re.compile(r"[^\"'\\.$\[\]\x00]+\Z")
#: seconds a writer waits for another connection's (or process's) write transaction to end
BUSY_TIMEOUT = 30.0
#: SQLite's result codes (the module names them from Python 3.11 on): a disk full, an I/O error
SQLITE_FULL, SQLITE_IOERR = 13, 10
#: idle connections a file database keeps for the next request (more are closed when given back)
IDLE_CONNECTIONS = 8

INDEX_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\Z")

_SYSTEM_TABLES = """
CREATE TABLE IF NOT EXISTS _schema (class_name TEXT NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL,
    target_class TEXT, PRIMARY KEY (class_name, field));
CREATE TABLE IF NOT EXISTS _field_options (class_name TEXT NOT NULL, field TEXT NOT NULL,
    required INTEGER NOT NULL, default_value TEXT, PRIMARY KEY (class_name, field));
CREATE TABLE IF NOT EXISTS _named_indexes (class_name TEXT NOT NULL, name TEXT NOT NULL, keys TEXT NOT NULL,
    PRIMARY KEY (class_name, name));
CREATE TABLE IF NOT EXISTS _relations (owner_class TEXT NOT NULL, owner_id TEXT NOT NULL, key TEXT NOT NULL,
    target_class TEXT NOT NULL, target_id TEXT NOT NULL, PRIMARY KEY (owner_class, owner_id, key, target_id));
CREATE INDEX IF NOT EXISTS _relations_target ON _relations (target_class, target_id, key);
CREATE TABLE IF NOT EXISTS _sessions (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL, installation_id TEXT, created_with TEXT);
CREATE INDEX IF NOT EXISTS _sessions_user ON _sessions (user_id);
CREATE TABLE IF NOT EXISTS _passwords (user_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _login_failures (login TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    recipient TEXT NOT NULL, purpose TEXT NOT NULL, code TEXT, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _file_uploads (token TEXT PRIMARY KEY, object_id TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _request_ids (id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _class_permissions (class_name TEXT PRIMARY KEY, permissions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _code_failures (recipient TEXT NOT NULL, purpose TEXT NOT NULL, address TEXT NOT NULL,
    at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS _code_failures_recipient ON _code_failures (recipient, at);
CREATE INDEX IF NOT EXISTS _code_failures_address ON _code_failures (address, at);
CREATE TABLE IF NOT EXISTS _one_time_codes (purpose TEXT NOT NULL, recipient TEXT NOT NULL, user_id TEXT NOT NULL,
    code TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (purpose, recipient, user_id));
DROP TABLE IF EXISTS _codes;
CREATE TABLE IF NOT EXISTS _config (name TEXT PRIMARY KEY, value TEXT NOT NULL, master_only INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _status_inbox (message_id INTEGER PRIMARY KEY AUTOINCREMENT, owner_id TEXT NOT NULL,
    inbox_type TEXT NOT NULL, status_id TEXT NOT NULL, unread INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS _status_inbox_owner ON _status_inbox (owner_id, inbox_type, message_id);
CREATE TABLE IF NOT EXISTS _leaderboards (name TEXT PRIMARY KEY, object_id TEXT NOT NULL, member_type TEXT NOT NULL,
    sort_order TEXT NOT NULL, strategy TEXT NOT NULL, period TEXT NOT NULL, version INTEGER NOT NULL,
    activated_at TEXT NOT NULL, expires_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _leaderboard_statistics (name TEXT NOT NULL, version INTEGER NOT NULL,
    member TEXT NOT NULL, value NUMERIC NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (name, version, member));
CREATE INDEX IF NOT EXISTS _leaderboard_statistics_rank ON _leaderboard_statistics (name, version, value, updated_at,
    member);
CREATE INDEX IF NOT EXISTS _leaderboard_statistics_member ON _leaderboard_statistics (member, name);
CREATE TABLE IF NOT EXISTS _leaderboard_archives (object_id TEXT PRIMARY KEY, name TEXT NOT NULL,
    version INTEGER NOT NULL, activated_at TEXT NOT NULL, deactivated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS _leaderboard_archives_name ON _leaderboard_archives (name, version);
CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, done_at TEXT NOT NULL);
""" + changes.TABLE + live_subscriptions.TABLE

#: the counts :mod:`.counters` keeps, made with the first counter
_COUNTS_TABLE = """
CREATE TABLE IF NOT EXISTS _counts (class_name TEXT NOT NULL, field TEXT NOT NULL, value, acl TEXT,
    n INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS _counts_key ON _counts (class_name, field, IFNULL(value, x'00'), IFNULL(acl, ''));
"""


#: columns a system table gained after it was first made: added to a database made before them
_ADDED_COLUMNS = {"_sessions": ("installation_id TEXT", "created_with TEXT")}


def _add_columns(conn: sqlite3.Connection) -> None:
    for name, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
        for column in columns:
            if column.split()[0] not in present:
                try:
                    conn.execute(f"ALTER TABLE {name} ADD COLUMN {column}")
                except sqlite3.OperationalError as exc:  # another process opening the file added it first
                    if "duplicate column" not in str(exc):
                        raise


#: the protocol's system classes: a name equal to one of them but for case is refused (SQLite table names
#: fold case, so ``_user`` would be ``_User``'s table under checks made for another class)
SYSTEM_CLASSES = {name.lower(): name for name in (
    "_User", "_Role", "_Installation", "_File", "_Session", "_Followee", "_Follower", "_Notification",
    "_Conversation", "_Status", "_JobStatus", "_PushStatus")}


#: the types of the system classes' fields that the backend's own code reads, fixed from the start: the
#: schema keeps a field's first type forever, so the first client to write one (a sign-up with
#: ``mobilePhoneNumber: ["1"]`` on a fresh server) chose it for every later user or device
SYSTEM_FIELD_TYPES: Dict[str, Dict[str, Tuple[str, Optional[str]]]] = {
    "_User": {"username": ("String", None), "email": ("String", None), "mobilePhoneNumber": ("String", None),
              "emailVerified": ("Boolean", None), "mobilePhoneVerified": ("Boolean", None),
              "authData": ("Object", None)},
    "_Role": {"name": ("String", None), "users": ("Relation", "_User"), "roles": ("Relation", "_Role")},
    "_Installation": {"installationId": ("String", None), "deviceToken": ("String", None),
                      "deviceType": ("String", None), "channels": ("Array", None), "badge": ("Number", None),
                      "timeZone": ("String", None)},
    "_File": {"name": ("String", None), "url": ("String", None), "mime_type": ("String", None),
              "metaData": ("Object", None)},
}


def check_class_name(name: Any) -> str:
    if not isinstance(name, str) or not CLASS_NAME.match(name):
        raise ProtocolError(103, f"Invalid class name: {name!r}.")
    system = SYSTEM_CLASSES.get(name.lower())
    if system is not None and system != name:
        raise ProtocolError(103, f"Invalid class name: {name!r} (the system class is {system}).")
    return name


def type_mismatch(class_name: str, field: str, expected: FieldType, got: FieldType) -> ProtocolError:
    """Error 111 for a value of another type than its field's, in Parse Server's words (clients show
    them, and Parse-SDK-JS's tests match them)."""
    def spelt(ftype: FieldType) -> str:
        return ftype[0] + (f"<{ftype[1]}>" if ftype[1] else "")
    return ProtocolError(111, f"schema mismatch for {class_name}.{field}; expected {spelt(expected)} but got "
                              f"{spelt(got)}")


def _check_one_geopoint(known: Dict[str, FieldType], name: str, ftype: FieldType) -> None:
    """A class declared through the schema API holds at most one GeoPoint field (error 111), as Parse
    Server's schema checks it. (Writes are Parse's one-per-object rule: ``objects``.)"""
    if ftype[0] != "GeoPoint":
        return
    other = next((field for field, (kind, _) in known.items() if kind == "GeoPoint" and field != name), None)
    if other is not None:
        raise ProtocolError(111, f"currently, only one GeoPoint field may exist in an object. Adding {name} "
                                 f"when {other} already exists.")


def check_field_name(name: str) -> str:
    if not FIELD_NAME.match(name or ""):
        raise ProtocolError(105, f"Invalid field name: {name!r}.")
    return name


def table(class_name: str) -> str:
    """The quoted table name of a class (the name was checked, so quoting cannot be escaped)."""
    return f'"c_{check_class_name(class_name)}"'


def trigger_name(class_name: str, field: str, event: str) -> str:
    """The name of the trigger keeping a counter of ``class_name`` by ``field`` on ``event`` (``insert``,
    ``update``, ``delete``: see :mod:`.counters`)."""
    return f"c_{class_name}__{field}__count_{event}"


def json_path(*parts: str) -> str:
    """A quoted SQLite JSON path literal for ``parts`` (``'$."meta"."lang"'``), the exact text indexes use."""
    for part in parts:
        if not PATH_PART.match(part):
            raise ProtocolError(105, f"Invalid key: {part!r}.")
    return "'$" + "".join(f'."{p}"' for p in parts) + "'"


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a property of the file, kept once set). Switching takes a lock SQLite
    does not wait for (the busy timeout does not apply), so processes opening a new file together retry."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _unopenable(path: str, exc: sqlite3.Error) -> ProtocolError:
    """The error for a database file SQLite cannot open, naming the path and what an operator can fix."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        why = "it is a directory"
    elif not os.path.isdir(folder):
        why = f"its directory {folder} does not exist"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"its directory {folder} is not writable by this user (SQLite keeps -wal and -shm files beside it)"
    elif os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        why = "this user may not read and write it"
    else:
        why = str(exc)
    return ProtocolError(1, f"Cannot open the database {path}: {why}.", 503)


def store_failure(exc: BaseException) -> Optional[ProtocolError]:
    """The client's error for a failure of the database's disk an operator must act on (full, a file-size
    limit, an I/O error: 503 saying so, nothing stored), logged; None for any other exception."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; the message otherwise
    text = str(exc)
    if code == SQLITE_FULL if code is not None else "disk is full" in text:
        message = "The server's disk is full: nothing was stored."
    elif code is not None and code & 0xFF == SQLITE_IOERR or "disk I/O error" in text:
        message = "The server could not write its database (disk full, a file-size limit or an I/O error): " \
                  "nothing was stored."
    else:
        return None
    failed("disk")
    log.error("database write failed: %s", text)
    return ProtocolError(1, message, 503)


def _undone() -> Interrupted:
    """The error of a write transaction SQLite undid whole, savepoints included, because one of its write
    statements was interrupted at the request's deadline (``budget.writing``)."""
    return Interrupted("a write statement ran past the request's deadline: SQLite undid the whole write")


def _identity(path: str) -> Optional[Tuple[int, int]]:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class SQLCatalogue:
    """The class catalogue (learnt and declared fields, their options, named indexes) and the change feed's
    reads, in the SQL dialect both stores speak: ``SQLiteStore`` runs it as it is, ``PostgreSQLStore``
    through its translation. One copy, so a rule added here (a field type check, an error's wording)
    holds on both stores."""

    def has_class(self, conn: Connection, class_name: str) -> bool:  # pragma: no cover - each store's own
        raise NotImplementedError

    def ensure_class(self, conn: Connection, class_name: str) -> None:
        """Make ``class_name``'s table unless it exists. A new class's name holds no double underscore: a
        class's table is ``c_<Class>`` and its indexes ``c_<Class>__<what>`` (``__createdAt``, a field,
        ``__named_<name>``), so ``Post__createdAt`` would be the name of ``Post``'s index, and whichever of
        the two came second failed for ever (a client making ``_User__createdAt`` first stopped every
        sign-up). A class made before this rule keeps working."""
        if self.has_class(conn, class_name):
            return
        if "__" in class_name:
            raise ProtocolError(103, f"Invalid class name: {class_name!r} (a new class's name holds no '__': "
                                     "the server names its indexes <Class>__<key>).")
        self._create_class(conn, class_name)

    def _create_class(self, conn: Connection, class_name: str) -> None:  # pragma: no cover - each store's own
        """Make the table (and its ``createdAt`` index) of a class that has none."""
        raise NotImplementedError

    integrity_errors: Tuple[Type[BaseException], ...] = ()

    def read(self) -> ContextManager[Connection]:  # pragma: no cover - each store's own
        raise NotImplementedError

    def write(self) -> ContextManager[Connection]:  # pragma: no cover - each store's own
        raise NotImplementedError

    #: what ends a ``SELECT`` of rows a write transaction reads to change them, locking them until it
    #: ends: nothing where every write transaction runs alone (SQLite; the interface's ``transact``)
    locking_read = ""

    def transact(self, work: Callable[[Connection], _T], concurrent: bool = False) -> _T:
        """``work(conn)`` in one write transaction (the open one, if any); its answer. This store runs
        every write alone, ``concurrent`` or not (the storage interface's ``transact``)."""
        with self.write() as conn:
            return work(conn)

    def send(self, conn: Connection, sql: str, parameters: Any) -> None:
        """Run a write statement whose answer no one reads (the storage interface's ``send``): at once here."""
        conn.execute(sql, parameters)

    def settle(self) -> None:
        """Nothing to settle: this store keeps no catalogue between requests (the interface's ``settle``)."""

    def _ddl(self, conn: Connection, sql: str) -> None:
        """Run a statement that changes the database's structure (each store may run it its own way)."""
        conn.execute(sql)

    @staticmethod
    def _index_column(expression: str) -> str:
        """``expression`` as a column of ``CREATE INDEX`` (each store may need it its own way)."""
        return expression

    def schema(self, conn: Connection, class_name: str) -> Dict[str, FieldType]:
        """Field name -> (type, targetClass) as learnt from the writes so far."""
        rows = conn.execute("SELECT field, type, target_class FROM _schema WHERE class_name=?", (class_name,))
        return {f: (t, target) for f, t, target in rows}

    def field_options(self, conn: Connection, class_name: str) -> Dict[str, FieldOptions]:
        """Field name -> its ``required`` / ``defaultValue`` settings, for the fields that have any."""
        rows = conn.execute("SELECT field, required, default_value FROM _field_options WHERE class_name=?",
                            (class_name,))
        return {f: {**({"required": True} if required else {}),
                    **({"defaultValue": orjson.loads(default)} if default is not None else {})}
                for f, required, default in rows}

    def add_field(self, conn: Connection, class_name: str, name: str, ftype: FieldType,
                  options: FieldOptions) -> None:
        """Declare a field (the schema API's new column): its type, and its options when it has any."""
        self.ensure_class(conn, class_name)
        _check_one_geopoint(self.schema(conn, class_name), name, ftype)
        conn.execute("INSERT OR IGNORE INTO _schema VALUES (?, ?, ?, ?)",
                     (class_name, check_field_name(name), *ftype))
        if options:
            default = options.get("defaultValue")
            conn.execute("INSERT OR REPLACE INTO _field_options VALUES (?, ?, ?, ?)",
                         (class_name, name, int(bool(options.get("required"))),
                          None if default is None else orjson.dumps(default).decode()))

    def drop_field(self, conn: Connection, class_name: str, name: str) -> None:
        """Delete a field from the class: its value in every row, its relation rows, its type and options."""
        if self.has_class(conn, class_name):
            path = json_path(check_field_name(name))
            conn.execute(f"UPDATE {table(class_name)} SET data = json_remove(data, {path}) "
                         f"WHERE json_type(data, {path}) IS NOT NULL")
        conn.execute("DELETE FROM _relations WHERE owner_class=? AND key=?", (class_name, name))
        conn.execute("DELETE FROM _schema WHERE class_name=? AND field=?", (class_name, name))
        conn.execute("DELETE FROM _field_options WHERE class_name=? AND field=?", (class_name, name))

    def named_indexes(self, conn: Connection, class_name: str) -> Dict[str, Dict[str, int]]:
        """Index name -> its keys (``{"field": 1}``, ``-1`` descending) as the schema API made them."""
        rows = conn.execute("SELECT name, keys FROM _named_indexes WHERE class_name=? ORDER BY name", (class_name,))
        return {name: orjson.loads(keys) for name, keys in rows}

    def add_named_index(self, conn: Connection, class_name: str, name: str, keys: Dict[str, int]) -> None:
        """Create the index ``name`` over ``keys`` (in order; ``1`` ascending, ``-1`` descending), each key
        indexed as the query compiler reads it (see :meth:`key_expression`)."""
        if not INDEX_NAME.match(name):
            raise ProtocolError(102, f"Invalid index name: {name!r}.")
        self.ensure_class(conn, class_name)
        columns = ", ".join(f"{self._index_column(self.key_expression(conn, class_name, key))}"
                            f"{' DESC' if order == -1 else ''}"
                            for key, order in keys.items())
        conn.execute(f'CREATE INDEX "c_{class_name}__named_{name}" ON {table(class_name)} ({columns})')
        conn.execute("INSERT INTO _named_indexes VALUES (?, ?, ?)", (class_name, name, orjson.dumps(keys).decode()))

    def drop_named_index(self, conn: Connection, class_name: str, name: str) -> None:
        if not INDEX_NAME.match(name):
            raise ProtocolError(102, f"Invalid index name: {name!r}.")
        self._ddl(conn, f'DROP INDEX IF EXISTS "c_{class_name}__named_{name}"')
        conn.execute("DELETE FROM _named_indexes WHERE class_name=? AND name=?", (class_name, name))

    def learn(self, conn: Connection, class_name: str, known: Dict[str, FieldType],
              types: Dict[str, FieldType]) -> None:
        """Record the types of fields written for the first time; a different type later (or, for a field
        of :data:`SYSTEM_FIELD_TYPES`, ever) is error 111."""
        for name, ftype in types.items():
            old = known.get(name) or SYSTEM_FIELD_TYPES.get(class_name, {}).get(name)
            if old is not None and old != ftype:
                raise type_mismatch(class_name, name, old, ftype)
            if name not in known:
                conn.execute("INSERT OR IGNORE INTO _schema VALUES (?, ?, ?, ?)", (class_name, name, *ftype))
                known[name] = ftype

    def key_expression(self, conn: Connection, class_name: str, key: str, row: str = "data") -> str:
        """The SQL of ``key``'s value in a row of ``class_name``, exactly as the query compiler emits it
        (``json_extract(data, '$."key"')``, ``."iso"`` for a Date, ``."objectId"`` for a Pointer); ``row``
        names the JSON column (``NEW.data`` in a trigger); a column's key is its name."""
        if key in ("objectId", "createdAt", "updatedAt"):
            return key
        parts = key.split(".")
        ftype = self.schema(conn, class_name).get(parts[0], ("", None))[0]
        suffix = {"Date": ("iso",), "Pointer": ("objectId",)}.get(ftype, ()) if len(parts) == 1 else ()
        return f"json_extract({row}, {json_path(*parts, *suffix)})"

    def changes_after(self, seq: int, limit: int = 500,
                      last: Optional[changes.Change] = None) -> Tuple[List[changes.Change], bool]:
        """The committed changes after ``seq`` (oldest first, at most ``limit``) and whether the reader
        missed some (:func:`.changes.read_after`: dropped from the bounded feed, or ``last``, the change
        it read at ``seq``, lost since)."""
        with self.read() as conn:
            return changes.read_after(conn, seq, limit, last)

    def create_index(self, class_name: str, key: str, unique: bool = False) -> str:
        """Create an expression index on ``key`` (a field, or ``a.b`` inside an object field).

        The expression is exactly the query compiler's (``json_extract(data, '$."key"')``, ``."iso"`` for a
        Date, ``."objectId"`` for a Pointer). A plain index carries the ACL column too, so the read check
        of a count or filter is answered from the index without reading the rows; a unique index holds
        the value alone (uniqueness is of the value)."""
        parts = key.split(".")
        name = f"c_{class_name}__{'_'.join(parts)}{'__unique' if unique else ''}"
        try:
            with self.write() as conn:
                self.ensure_class(conn, class_name)
                column = self._index_column(self.key_expression(conn, class_name, key))
                conn.execute(f'CREATE {"UNIQUE " if unique else ""}INDEX IF NOT EXISTS "{name}" '
                             f"ON {table(class_name)} ({column}{'' if unique else ', acl'})")
        except self.integrity_errors:
            raise ProtocolError(137, f"Cannot create a unique index on {class_name}.{key}: "
                                     "existing objects share a value.") from None
        return name


class SQLiteStore(SQLCatalogue):
    """The SQLite database of one embedded backend (the storage interface's SQLite store)."""

    integrity_errors: Tuple[Type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, database: str, wal_limit: int = WAL_LIMIT) -> None:
        self.database = database
        #: bytes the write-ahead log is cut back to (:mod:`.checkpoints`)
        self.wal_limit = wal_limit
        self.memory = database in (":memory:", "")
        self._local = threading.local()
        self._lock = threading.RLock() if self.memory else None
        self._pool_lock = threading.Lock()
        self._shared: Optional[sqlite3.Connection] = None
        self._known_tables: set = set()
        self._schema_version = -1  # SQLite's schema_version when _known_tables was last trusted
        self._connections: List[sqlite3.Connection] = []  # every open connection, idle or borrowed
        self._idle: List[sqlite3.Connection] = []
        self._closed = False
        self._writer = None if self.memory else WriterLock(database, BUSY_TIMEOUT)
        self._checkpointer = None if self.memory else Checkpointer(database, wal_limit)
        with self.read() as conn:
            try:
                conn.executescript(_SYSTEM_TABLES)
                _add_columns(conn)
            except sqlite3.DatabaseError as exc:  # not a database, a read-only file
                raise _unopenable(database, exc) from None
        #: the file the connections opened (device, inode): a path that names another file since was
        #: deleted or replaced under the server, and writes to the old one would be lost
        self._identity = None if self.memory else _identity(database)
        self._moved_logged = False
        #: set when a write transaction of this process that recorded a change commits
        self._changed = threading.Event()

    # -- connections -----------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        # a pooled connection moves between threads, never used by two at once (borrowed for a block)
        try:
            conn = sqlite3.connect(":memory:" if self.memory else self.database, isolation_level=None,
                                   check_same_thread=False, timeout=BUSY_TIMEOUT)
            if not self.memory:
                _enable_wal(conn)
        except sqlite3.DatabaseError as exc:
            raise _unopenable(self.database, exc) from None
        if not self.memory:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's job
            conn.execute(f"PRAGMA journal_size_limit={int(self.wal_limit)}")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        register_functions(conn)
        watch(conn)
        with self._pool_lock:
            self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[sqlite3.Connection]:
        """The calling thread's connection for a block: the one it already holds (a nested block), else
        one from the pool, given back when the outermost block ends."""
        if self._closed:
            raise ProtocolError(1, "The embedded backend is closed.", 503)
        if self.memory:
            with self._guard():
                if self._closed:  # closed while this thread waited for the connection
                    raise ProtocolError(1, "The embedded backend is closed.", 503)
                if self._shared is None:
                    self._shared = self._open()
                yield self._shared
            return
        held: Optional[sqlite3.Connection] = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pool_lock:
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._open()
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
            self._give_back(conn)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # a block left it open (it cannot commit what it did not finish)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        with self._pool_lock:
            if not self._closed and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
            with contextlib.suppress(ValueError):
                self._connections.remove(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @property
    def open_connections(self) -> int:
        """How many SQLite connections are open now (borrowed or idle)."""
        return len(self._connections)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (statements run in autocommit)."""
        with self._borrowed() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception.

        Nested use (an endpoint calling another inside its transaction) joins the outer transaction.
        """
        with self._borrowed() as conn:
            if getattr(self._local, "snapshot", False):
                # its read transaction would take the writes, then its end would roll them back unsaid
                raise ProtocolError(1, "No writes inside a read snapshot (Store.snapshot).", 503)
            if conn.in_transaction:
                yield conn
                return
            with self._writer.held() if self._writer is not None else contextlib.nullcontext():
                self._check_in_place()
                conn.execute("BEGIN IMMEDIATE")
                created = self._created_tables()
                self._local.writing = conn
                self._local.recorded = False
                try:
                    with writing():  # its statements end by the request's deadline (at least WRITE_FLOOR)
                        yield conn
                except BaseException:
                    if conn.in_transaction:  # else SQLite undid it already (an interrupted write statement)
                        conn.execute("ROLLBACK")
                    created.clear()
                    raise
                finally:
                    self._local.writing = None
                if not conn.in_transaction:  # SQLite undid it (an interrupted write statement), and its
                    created.clear()          # caller kept the error for after the block (a batch's item)
                    raise _undone()
                conn.execute("COMMIT")
            self._known_tables.update(created)
            created.clear()
            if self._checkpointer is not None:
                self._checkpointer.committed()
            if self._local.recorded:
                self._changed.set()

    def check_ready(self) -> None:
        """Raise :class:`ProtocolError` (503) unless the store can serve: its file is the one open, and
        a read of it succeeds."""
        self._check_in_place()
        try:
            with self.read() as conn:
                conn.execute("SELECT 1 FROM _schema LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            failed("read")
            log.error("the readiness check could not read the database: %s", exc)
            raise ProtocolError(1, "The database cannot be read.", 503) from None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read this thread makes in the block sees the database as of one moment: its connection
        holds one read transaction for the whole block (WAL: writers go on meanwhile, unseen). What an
        export reads this way is a point-in-time copy; a write in the block is refused."""
        with self._borrowed() as conn:
            if conn.in_transaction:
                yield
                return
            conn.execute("BEGIN")
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # the snapshot starts at a read
            self._local.snapshot = True
            try:
                yield
            finally:
                self._local.snapshot = False
                conn.execute("ROLLBACK")

    def _check_in_place(self) -> None:
        """Refuse to write (503) once the database path names another file than the one open: deleted or
        replaced under a running server, the open file takes writes nobody will ever read (a ``stat``
        per write transaction, a few microseconds)."""
        if self._identity is None or _identity(self.database) == self._identity:
            return
        how = "deleted or moved away" if not os.path.exists(self.database) else "replaced by another file"
        failed("moved")
        if not self._moved_logged:
            self._moved_logged = True
            log.error("the database file %s was %s while the server ran: writes are refused; restart the server "
                      "once the file is back", self.database, how)
        raise ProtocolError(1, f"The server's database file was {how} while it ran (moved under it): "
                               "writes are refused until the operator restarts it.", 503)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside this thread's open write transaction, a part of it undone alone when the block raises
        (the exception goes on): one item of a batch that fails takes nothing else with it. Outside a
        write transaction the block runs as it is (its own ``write()`` blocks commit on their own)."""
        conn: Optional[sqlite3.Connection] = getattr(self._local, "writing", None)
        if conn is None:
            yield
            return
        created = self._created_tables()
        before = set(created)
        conn.execute("SAVEPOINT leanorm_part")
        try:
            yield
        except BaseException:
            if not conn.in_transaction:
                # an interrupted write statement: SQLite undid the whole transaction, savepoints included,
                # and what came after would run outside any transaction, each statement committed alone
                raise _undone() from None
            conn.execute("ROLLBACK TO leanorm_part")
            conn.execute("RELEASE leanorm_part")
            created.intersection_update(before)  # tables it created are gone again
            raise
        conn.execute("RELEASE leanorm_part")

    def close(self) -> None:
        """Close the connections no thread is using; one in use is closed by its thread as it gives it back
        (:meth:`_give_back`), the in-memory store's one connection once its user let go. Closed under a
        statement another thread runs (the live feed's reader, a request), SQLite's module freed what
        the statement used, and the process crashed."""
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._guard():
            shared, self._shared = self._shared, None
        for conn in idle + ([shared] if shared is not None else []):
            with self._pool_lock, contextlib.suppress(ValueError):
                self._connections.remove(conn)
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        if self._writer is not None:
            self._writer.close()

    # -- the change feed (:mod:`.changes`) ---------------------------------------------------------------
    def record_change(self, conn: Connection, class_name: str, object_id: str,
                      before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> None:
        """Append an object write to the change feed, in the write transaction of ``conn``."""
        changes.record(conn, class_name, object_id, before, after)
        self._local.recorded = True

    def latest_change(self) -> int:
        """The ``seq`` of the newest committed change (0: none): where a new reader of the feed starts."""
        with self.read() as conn:
            return changes.latest(conn)

    def wait_for_changes(self, timeout: float) -> None:
        """Return when a write of this process recorded a change, or after ``timeout`` seconds (what other
        processes write is found by reading the feed again: SQLite has no notification across
        processes, so a reader polls at this interval)."""
        self._changed.wait(timeout)
        self._changed.clear()  # before the caller reads the feed: a commit after this is found next time

    # -- classes and their schema ----------------------------------------------------------------------
    def has_class(self, conn: Connection, class_name: str) -> bool:
        if class_name in self._known_tables and self._tables_unchanged(conn):
            return True
        # Asked on every request for classes that do not exist (``_File`` behind every read): preparing a
        # statement on the table finds it by hash, where a look-up in sqlite_master reads all of it (4.6 ms
        # a read beside 5,000 classes). Names fold case there, so a table found is confirmed exactly.
        try:
            conn.execute(f"SELECT 1 FROM {table(class_name)} LIMIT 0")
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return False
            raise
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                             (f"c_{class_name}",)).fetchone() is not None
        if found:
            self._remember(conn, class_name)
        return found

    def _create_class(self, conn: Connection, class_name: str) -> None:
        self._refuse_case_twin(conn, class_name)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table(class_name)} (objectId TEXT PRIMARY KEY, "
                     "createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL, acl TEXT, data TEXT NOT NULL)")
        conn.execute(f'CREATE INDEX IF NOT EXISTS "c_{class_name}__createdAt" ON {table(class_name)} (createdAt)')
        self._remember(conn, class_name)

    def _tables_unchanged(self, conn: Connection) -> bool:
        """Whether no table was dropped since the known tables were cached: any process may drop an empty
        class (``DELETE schemas/<Class>``), and SQLite counts every schema change in ``schema_version``,
        so a change forgets the cache (it refills as classes are asked for again)."""
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        if version == self._schema_version:
            return True
        self._known_tables = set()
        self._schema_version = version
        return False

    def _remember(self, conn: Connection, class_name: str) -> None:
        """Cache that a class's table exists, once that is committed: a table seen or created inside a
        transaction that then rolls back (a failed first write) must not stay known, or every later
        request on the class would fail with "no such table"."""
        if conn.in_transaction:
            self._created_tables().add(class_name)
        else:
            self._known_tables.add(class_name)

    def _created_tables(self) -> set:
        """The classes this thread's open write transaction created or saw (``:memory:`` holds a lock
        for the whole transaction, so per thread is per transaction)."""
        created = getattr(self._local, "created", None)
        if created is None:
            created = self._local.created = set()
        return created

    @staticmethod
    def _refuse_case_twin(conn: Connection, class_name: str) -> None:
        """Class names are exact, SQLite's table names are not: a new class whose name differs from an
        existing one only by case would share its table (and read it past its permissions)."""
        twin = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name = ? COLLATE NOCASE",
                            (f"c_{class_name}",)).fetchone()
        if twin is not None:
            raise ProtocolError(103, f"Class name {class_name!r} differs only by case from the existing class "
                                     f"{twin[0][2:]!r}.")

    def class_names(self, conn: Connection) -> List[str]:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'c\\_%' ESCAPE '\\'")
        return sorted(r[0][2:] for r in rows)

    def drop_class(self, conn: Connection, class_name: str) -> None:
        """Drop a class: its table (with its indexes) and everything kept about it beside the table."""
        conn.execute(f"DROP TABLE IF EXISTS {table(class_name)}")
        for system_table, column in (("_schema", "class_name"), ("_field_options", "class_name"),
                                     ("_named_indexes", "class_name"), ("_class_permissions", "class_name"),
                                     ("_relations", "owner_class")):
            conn.execute(f"DELETE FROM {system_table} WHERE {column}=?", (class_name,))
        self._known_tables.discard(class_name)
        self._created_tables().discard(class_name)

    # -- counters (:mod:`.counters`) -------------------------------------------------------------------
    def counted_fields(self, conn: Connection, class_name: str) -> List[str]:
        """The fields of ``class_name`` a counter counts (its triggers are the truth: they exist exactly
        when ``_counts`` is kept for the field)."""
        prefix, suffix = f"c_{class_name}__", "__count_insert"
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=? ORDER BY name",
                            (f"c_{class_name}",))
        return [name[len(prefix):-len(suffix)] for name, in rows if name.startswith(prefix) and name.endswith(suffix)]

    def make_counter(self, conn: Connection, class_name: str, field: str, key: str) -> None:
        """The triggers keeping ``_counts`` of ``class_name`` by ``field`` (``key``: the columns an entry
        is unique by), and the entries of the rows there are now."""
        for statement in _COUNTS_TABLE.strip().split(";\n"):
            conn.execute(statement)
        new = self.key_expression(conn, class_name, field, "NEW.data")
        old = self.key_expression(conn, class_name, field, "OLD.data")
        names = f"'{class_name}', '{field}'"  # both checked: letters, digits and underscores
        add = (f"INSERT INTO _counts VALUES ({names}, {new}, NEW.acl, 1) "
               f"ON CONFLICT ({key}) DO UPDATE SET n = n + 1;")
        subtract = (f"UPDATE _counts SET n = n - 1 WHERE class_name = '{class_name}' AND field = '{field}' "
                    f"AND IFNULL(value, x'00') = IFNULL({old}, x'00') AND IFNULL(acl, '') = IFNULL(OLD.acl, '');")
        rows = table(class_name)
        conn.execute(f'CREATE TRIGGER "{trigger_name(class_name, field, "insert")}" AFTER INSERT ON {rows} '
                     f"BEGIN {add} END")
        conn.execute(f'CREATE TRIGGER "{trigger_name(class_name, field, "delete")}" AFTER DELETE ON {rows} '
                     f"BEGIN {subtract} END")
        conn.execute(f'CREATE TRIGGER "{trigger_name(class_name, field, "update")}" AFTER UPDATE OF acl, data '
                     f"ON {rows} WHEN {old} IS NOT {new} OR OLD.acl IS NOT NEW.acl BEGIN {subtract} {add} END")
        current = self.key_expression(conn, class_name, field)
        conn.execute(f"INSERT INTO _counts SELECT {names}, {current}, acl, COUNT(*) FROM {rows} "
                     f"GROUP BY IFNULL({current}, x'00'), IFNULL(acl, '')")

    def rows_copied(self, conn: Connection) -> None:
        """Nothing to do: SQLite's generated ids continue after the largest id in the table."""
