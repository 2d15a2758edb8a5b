"""The storage interface: what the layers above the store (access rules, endpoints, the server) may ask
of it. ``store.SQLiteStore`` and ``postgresql.PostgreSQLStore`` implement it.

What a store is asked for is connections and the class catalogue. A connection speaks SQL in the
dialect every endpoint's statement is written in: ``?`` parameters, class tables of the columns
``rows.ROW`` names, a document's fields read with ``json_extract(data, <store.json_path>)`` (or the
expression :meth:`Store.key_expression` gives for a key), ``json_each`` over arrays, and the functions
``sqlfunctions`` registers. A store that is not SQLite makes its connections accept that dialect
(``pg_dialect`` translates each statement for PostgreSQL; docs/architecture.md, "Two stores, one
dialect"); what the dialect cannot say is a method here (the catalogue, counters, copies).
"""
from __future__ import annotations

from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Protocol, Tuple, Type, TypeVar

from .changes import Change

__all__ = ["Cursor", "Connection", "Store", "FieldType", "FieldOptions", "Change", "StaleCatalogue"]

T = TypeVar("T")

#: a field's protocol type and, for a Pointer or Relation, its target class (``("Pointer", "_User")``)
FieldType = Tuple[str, Optional[str]]
#: a field's declared options (``required``, ``defaultValue``), as the schema API names them
FieldOptions = Dict[str, Any]


class StaleCatalogue(BaseException):
    """Raised by a store at a request's first round trip when what the request already read of the class
    catalogue the store keeps (permissions, fields) turned out older than the database's: the request has
    done nothing yet, and is run again from its start (``EmbeddedServer``). A ``BaseException``, so that
    no ``except Exception`` of an endpoint (a batch's items) takes it for a failure of its own."""


class Cursor(Protocol):
    """The rows a statement answered (a DB-API cursor)."""

    @property
    def lastrowid(self) -> Optional[int]: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> List[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection lent for one read or one write transaction (a DB-API connection)."""

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on it (a write block's)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...


class Store(Protocol):
    """An app's data: objects in class tables, the class catalogue (schema, field options, indexes) and
    the server's own tables (sessions, codes, limits, files' rows...)."""

    #: where the data is (a path, ``:memory:``, a URL), for messages and for clients that name it
    database: str
    #: whether the data lives only as long as this process (a test's, or ``local://:memory:``)
    memory: bool
    #: the exceptions a statement raises on a unique constraint (a duplicate key)
    integrity_errors: Tuple[Type[BaseException], ...]

    # -- connections and transactions ------------------------------------------------------------------
    def read(self) -> ContextManager[Connection]:
        """A connection for reads (a consistent view for the block)."""

    def write(self) -> ContextManager[Connection]:
        """A connection in a write transaction, committed when the block ends, rolled back on an error;
        it runs alone (no other writer of the database in between), so a read-then-write in the block
        sees no other write in between."""

    #: what ends a ``SELECT`` of the rows a ``concurrent`` transaction reads to change them: it locks them
    #: until the transaction ends (``" FOR UPDATE"``), or nothing where every write runs alone (SQLite)
    locking_read: str

    def transact(self, work: Callable[[Connection], T], concurrent: bool = False) -> T:
        """``work(conn)`` in one write transaction, committed when it returns (inside an open one: a part
        of it); its answer. Without ``concurrent`` it is a ``write()`` block. With it, a store may run it
        beside other writers: ``work`` reads the rows it changes with :attr:`locking_read`, leaves other
        invariants to the database (unique indexes), and has no effect outside the transaction, since the
        store may run it more than once (again alone, when it reaches a statement that needs every other
        writer kept out, such as learning a field's type; again when the database ended it for a
        deadlock). An error it raises is never such a retry's."""

    def send(self, conn: Connection, sql: str, parameters: Any) -> None:
        """Run a write statement of ``conn``'s transaction whose answer no one reads (an object's insert
        or update): a store may send it with the transaction's next statement or its commit, one round
        trip less; its error (a duplicate key: :attr:`integrity_errors`) is then raised from there, at the
        latest as the block ends."""

    def settle(self) -> None:
        """Before the request reaches outside the server (cloud code, a hook): make sure what it read of
        the class catalogue the store keeps is current, which a store may otherwise check only with the
        request's first statement (raising :class:`StaleCatalogue`, to run it again)."""

    def savepoint(self) -> ContextManager[None]:
        """Inside a write block: a part of it undone alone when it raises (a batch's failing item)."""

    def snapshot(self) -> ContextManager[None]:
        """Every read of the block from one point in time (an export)."""

    def check_ready(self) -> None:
        """Raise unless the store can serve (one read; the data is still where it was opened)."""

    def close(self) -> None: ...

    # -- the change feed (live queries read it; ``changes.py``) ---------------------------------------------
    # Every committed object write is one change, in commit order, kept for a bounded time. SQLite keeps
    # them in ``_changes`` and readers poll it; a PostgreSQL store keeps the same table (appended in the
    # write's transaction) and sends ``NOTIFY`` in that transaction, so its readers (``LISTEN``) wake at
    # the commit on every node instead of polling: ``wait_for_changes`` is where the two differ.
    def record_change(self, conn: Connection, class_name: str, object_id: str,
                      before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> None:
        """Append an object write (the object before and after it, as stored) in ``conn``'s write
        transaction: committed or rolled back with the write."""

    def changes_after(self, seq: int, limit: int = ..., last: Optional[Change] = ...) -> Tuple[List[Change], bool]:
        """The committed changes after ``seq``, oldest first, and whether the reader missed some: no
        longer kept (a reader that far behind), or ``last`` (the change it read at ``seq``) lost since
        (a crash, a failover, a restore: it starts again from :meth:`latest_change`)."""

    def latest_change(self) -> int:
        """The position of the newest committed change (0: none): where a new reader starts."""

    def wait_for_changes(self, timeout: float) -> None:
        """Block until a change may have been committed (by any process or node), at most ``timeout``
        seconds; a reader then calls :meth:`changes_after`."""

    # -- the class catalogue ---------------------------------------------------------------------------
    def has_class(self, conn: Connection, class_name: str) -> bool: ...

    def ensure_class(self, conn: Connection, class_name: str) -> None:
        """Make ``class_name``'s table if it has none (a first write)."""

    def class_names(self, conn: Connection) -> List[str]: ...

    def drop_class(self, conn: Connection, class_name: str) -> None: ...

    def schema(self, conn: Connection, class_name: str) -> Dict[str, FieldType]: ...

    def learn(self, conn: Connection, class_name: str, known: Dict[str, FieldType],
              types: Dict[str, FieldType]) -> None:
        """Record the types a write showed for fields ``known`` did not have."""

    def field_options(self, conn: Connection, class_name: str) -> Dict[str, FieldOptions]: ...

    def add_field(self, conn: Connection, class_name: str, name: str, ftype: FieldType,
                  options: FieldOptions) -> None: ...

    def drop_field(self, conn: Connection, class_name: str, name: str) -> None: ...

    def key_expression(self, conn: Connection, class_name: str, key: str, row: str = "data") -> str:
        """The SQL expression of ``key`` of a row of ``class_name`` (a column or a document field)."""

    # -- indexes ---------------------------------------------------------------------------------------
    def named_indexes(self, conn: Connection, class_name: str) -> Dict[str, Dict[str, int]]: ...

    def add_named_index(self, conn: Connection, class_name: str, name: str, keys: Dict[str, int]) -> None: ...

    def drop_named_index(self, conn: Connection, class_name: str, name: str) -> None: ...

    def create_index(self, class_name: str, key: str, unique: bool = False) -> str:
        """Index ``key`` of ``class_name`` (``unique``: a duplicate value is error 137); its name."""

    # -- counters (:mod:`.counters`) -------------------------------------------------------------------
    def counted_fields(self, conn: Connection, class_name: str) -> List[str]:
        """The fields of ``class_name`` whose counts ``_counts`` keeps."""

    def make_counter(self, conn: Connection, class_name: str, field: str, key: str) -> None:
        """Keep ``_counts`` of ``class_name`` by ``field`` from now on (in the store's own triggers),
        counting the rows there are now; ``key``: the columns (SQLite's dialect) an entry is unique by."""

    def rows_copied(self, conn: Connection) -> None:
        """Rows were written with ids of their own (a copy of another store): ids the store generates
        (``_outbox``, ``_status_inbox``) continue after the largest."""
