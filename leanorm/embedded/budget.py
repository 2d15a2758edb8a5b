"""One cost budget per request: what all the queries a request runs may ask for, together.

Bounds kept per clause let a request multiply its cost by repeating a cheap clause: a ``$or`` of 300
different ``$regex`` patterns (10 KB, app key only) took 8-17 s, and a batch of 500 finds of 1,000 rows
each answered 112 MiB. So every query a request runs (a find, a count, CQL, each item of a batch, an
aggregate's match, ``include``, sub-queries) is charged to one :class:`Budget` that the request's
:class:`~leanorm.embedded.routing.Context` carries (a batch's items share their batch's). The query
compiler charges what a ``where`` asks for, :func:`reads.query` the rows it answers and ``include``
its depth, breadth and expanded objects. Over budget is error 102 (an invalid query) naming the bound,
before the SQL runs wherever the cost is known up front.

What slips past the static bounds (a large class scanned by an allowed pattern) ends at the request's
deadline: :func:`deadline` sets it for the calling thread, and :func:`watch` installs on each SQLite
connection a progress handler that interrupts a statement running past it (one of a write transaction
:func:`writing` marks gets at least :data:`WRITE_FLOOR`). The interruption is error 124 (LeanCloud's and
Parse's "timeout"), never a 500 and never an unbounded stall.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Optional, Set

__all__ = ["Budget", "OverBudget", "MAX_BATCH_ITEMS", "MAX_BRANCHES", "MAX_REGEXES", "MAX_REGEX_CHARS",
           "MAX_TEXT_SEARCHES", "MAX_POLYGON_POINTS", "MAX_SUBQUERIES", "MAX_ROWS", "MAX_INCLUDE_PATHS",
           "MAX_INCLUDE_DEPTH", "MAX_PASSWORD_HASHES", "MAX_COMPARED_VALUES", "MAX_ORDER_KEYS",
           "QUERY_TIMEOUT", "WRITE_FLOOR", "WAIT_FLOOR", "wait_bound", "Request", "deadline", "watch", "writing",
           "interrupted", "remaining", "write_remaining", "Interrupted"]

# The bounds on a where are measured, not guessed: per row of a scanned class, a $regex costs ~8 us (a
# Python call into RE2), a polygon vertex ~0.25 us, a branch ~0.2 us. At the bounds together a query
# over 1,000 rows stays within 250 ms of CPU (tests/security/test_budget_property.py checks it).

#: items one batch may carry (LeanCloud's REST guide sets no hard limit but advises at most 100 per batch;
#: leanorm's client sends 50, Parse's JS SDK 20)
MAX_BATCH_ITEMS = 100
#: the elements of every ``$or``/``$and``/``$nor`` list of a request, together
MAX_BRANCHES = 128
#: ``$regex`` conditions (CQL ``like`` included) in a request: each is matched in Python against every row
#: its query reads (and more patterns than the compiled-pattern cache holds would recompile per row)
MAX_REGEXES = 16
#: the characters of all of a request's ``$regex`` patterns together
MAX_REGEX_CHARS = 2048
#: ``$text`` searches in a request: each stems every row's words in Python (~10-30 us a row of a short
#: text, several times a ``$regex``), so fewer of them fit the same CPU bound
MAX_TEXT_SEARCHES = 4
#: the vertices of every ``$polygon`` of a request together (each row's test walks them, in Python)
MAX_POLYGON_POINTS = 200
#: ``$inQuery``/``$notInQuery``/``$select``/``$dontSelect``/``$relatedTo`` in a request: each reads a class
MAX_SUBQUERIES = 64
#: the objects a request may answer, included ones and every batch item's together: 50 pages of 1,000
#: (what one ``prefetch_related`` batch reads), ~11 MiB of typical rows instead of 112 MiB
MAX_ROWS = 50_000
#: the keys one ``include`` names, and how many levels (``a.b.c`` is 3) one key may go down
MAX_INCLUDE_PATHS = 100
MAX_INCLUDE_DEPTH = 8
#: passwords a client's request may hash or check (sign-ups, logins, password changes; a batch's items
#: together): each is a scrypt computation of ~0.1 s of CPU, so a batch of 100 sign-ups held a thread for 12 s
#: and four at once stalled the server; 10 keep a request near a second
MAX_PASSWORD_HASHES = 10
#: values compared one by one: each value of an ``$all``, and of an ``$in``/``$nin`` that is not all strings or
#: all pointers (those are one JSON parameter), is an SQL comparison of its own; SQLite refuses a query of
#: about a thousand, after a list of a million took 20-56 s to compile
MAX_COMPARED_VALUES = 500
#: keys one ``order`` names (MongoDB's sort limit, which LeanCloud inherits): each is read from every row's
#: document, and PostgreSQL refuses a query of more than about 1,660 (it answered 500)
MAX_ORDER_KEYS = 32
#: seconds a request's reads may run in SQLite before they are interrupted: ``leanorm serve``'s default
#: (``--query-timeout``); an in-process ``EmbeddedServer`` has none unless given one
QUERY_TIMEOUT = 10.0
#: seconds a write transaction's statements may run in SQLite at least, however little of the deadline is
#: left as it begins: the bound is there to end a scan (a write's `where` and its sub-queries) holding the
#: write lock every other writer waits for, not to cut a write's own few-millisecond statements (a machine
#: under load, a request that used its time reading); PostgreSQL's ``WRITE_FLOOR_MS``
WRITE_FLOOR = 1.0
#: seconds a request waits at least for what a store shares between requests (a pooled connection, the
#: write lock), however little of its deadline is left: a wait behind a few short writes is not cut short
WAIT_FLOOR = 0.5
#: SQLite virtual-machine steps between two looks at the deadline (a look costs a fraction of a microsecond)
_STEPS = 5_000


class OverBudget(ValueError):
    """A request asked for more than its budget: the protocol's error ``code`` (102, an invalid query;
    107 for a batch too long) with a message naming the bound. (A ``ValueError`` rather than the
    protocol's error because the request context, which ``protocol`` defines, carries the budget.)"""

    def __init__(self, message: str, code: int = 102) -> None:
        super().__init__(message)
        self.code = code


def _over(holder: str, what: str, bound: int) -> OverBudget:
    return OverBudget(f"Invalid query: {holder} may have at most {bound} {what}.")


@dataclass
class Budget:
    """What one request has used so far; each ``charge_*`` raises :class:`OverBudget` naming the bound it
    would pass. Shared by reference: a batch's items and a query's sub-queries charge the same budget."""

    #: whose budget it is, as its errors name it: a request's, or that of what is held together as one
    #: (a live connection's subscriptions, whose ``where`` run again at every change)
    holder: str = "a request"
    branches: int = 0
    regexes: int = 0
    regex_chars: int = 0
    text_searches: int = 0
    polygon_points: int = 0
    subqueries: int = 0
    rows: int = 0
    password_hashes: int = 0
    compared_values: int = 0

    def charge_branches(self, count: int) -> None:
        self.branches += count
        if self.branches > MAX_BRANCHES:
            raise _over(self.holder, "$or/$and/$nor branches", MAX_BRANCHES)

    def charge_regex(self, pattern: str) -> None:
        self.regexes += 1
        self.regex_chars += len(pattern)
        if self.regexes > MAX_REGEXES:
            raise _over(self.holder, "$regex conditions", MAX_REGEXES)
        if self.regex_chars > MAX_REGEX_CHARS:
            raise _over(self.holder, "characters of $regex patterns in all", MAX_REGEX_CHARS)

    def charge_compared_values(self, count: int) -> None:
        self.compared_values += count
        if self.compared_values > MAX_COMPARED_VALUES:
            raise _over(self.holder, "values compared one by one ($all, or $in/$nin of values other than "
                                     "strings or pointers)", MAX_COMPARED_VALUES)

    def charge_text(self) -> None:
        self.text_searches += 1
        if self.text_searches > MAX_TEXT_SEARCHES:
            raise _over(self.holder, "$text searches", MAX_TEXT_SEARCHES)

    def charge_polygon(self, points: int) -> None:
        self.polygon_points += points
        if self.polygon_points > MAX_POLYGON_POINTS:
            raise _over(self.holder, "$polygon points in all", MAX_POLYGON_POINTS)

    def charge_subquery(self) -> None:
        self.subqueries += 1
        if self.subqueries > MAX_SUBQUERIES:
            raise _over(self.holder, "sub-queries ($inQuery, $select, $relatedTo, ...)", MAX_SUBQUERIES)

    def charge_password_hash(self) -> None:
        self.password_hashes += 1
        if self.password_hashes > MAX_PASSWORD_HASHES:
            raise OverBudget(f"Invalid query: a request may hash or check at most {MAX_PASSWORD_HASHES} "
                             "passwords (sign-ups, logins and password changes of a batch together).")

    def row_allowance(self, limit: int) -> int:
        """The SQL ``LIMIT`` for a query asking for ``limit`` rows: no more than the budget has left plus
        one, so that the rows one query reads stay bounded and one row too many shows it is over."""
        return min(limit, MAX_ROWS - self.rows + 1)

    def charge_rows(self, count: int) -> None:
        self.rows += count
        if self.rows > MAX_ROWS:
            raise OverBudget(f"Invalid query: a request may answer at most {MAX_ROWS} objects "
                             "(included ones and every batch item's together).")

    @staticmethod
    def check_include(paths: Set[str]) -> None:
        """An ``include``'s breadth and depth (its expanded objects are charged as rows)."""
        if len(paths) > MAX_INCLUDE_PATHS:
            raise OverBudget(f"Invalid query: include names at most {MAX_INCLUDE_PATHS} keys.")
        if any(path.count(".") >= MAX_INCLUDE_DEPTH for path in paths):
            raise OverBudget(f"Invalid query: an include key goes at most {MAX_INCLUDE_DEPTH} levels deep.")

    @staticmethod
    def check_batch(items: int) -> None:
        if items > MAX_BATCH_ITEMS:
            raise OverBudget(f"A batch may carry at most {MAX_BATCH_ITEMS} requests, not {items}.", 107)


# -- the deadline -------------------------------------------------------------------------------------------
_local = threading.local()


class Request:
    """The token of one request a thread serves (:func:`current_request`)."""

    __slots__ = ("may_run_again",)

    def __init__(self, may_run_again: bool) -> None:
        #: whether the server runs it again from its start when a store finds, at its first round trip,
        #: that what it read of the catalogue the store keeps was outdated (``storage.interface.StaleCatalogue``)
        self.may_run_again = may_run_again


@contextlib.contextmanager
def deadline(seconds: Optional[float], may_run_again: bool = False) -> Iterator[None]:
    """Reads made by this thread inside the block end by ``seconds`` from now (``None``/0: no deadline of
    its own). A nested block (cloud code calling back into the server in-process) keeps the earlier end,
    and is part of the outer block's request. ``may_run_again``: see :class:`Request`."""
    outer: Optional[float] = getattr(_local, "ends", None)
    outer_request: Optional[Request] = getattr(_local, "request", None)
    if outer_request is None:
        _local.request = Request(may_run_again)
    if seconds:
        mine = time.monotonic() + seconds
        _local.ends = mine if outer is None else min(outer, mine)
    try:
        yield
    finally:
        _local.ends = outer
        _local.request = outer_request


def current_request() -> Optional[Request]:
    """A token standing for the request this thread serves (the outermost :func:`deadline` block; None
    outside one): what a store checks once per request rather than once per statement."""
    return getattr(_local, "request", None)


def watch(conn: sqlite3.Connection) -> None:
    """Interrupt a statement of ``conn`` running past its thread's deadline: in autocommit (a read), or
    inside a write transaction its thread marked (:func:`writing`) past the end that gave it. A statement
    of any other transaction (a read snapshot: an export) runs to its end. An interrupted write statement
    makes SQLite undo its whole transaction (the store must not go on in it)."""
    def passed() -> int:
        ends: Optional[float] = getattr(_local, "ends", None)
        if ends is not None and conn.in_transaction:
            ends = getattr(_local, "write_ends", None)
        return int(ends is not None and time.monotonic() > ends)

    conn.set_progress_handler(passed, _STEPS)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """The statements this thread runs in the block (its write transaction's, not its ``COMMIT`` or
    ``ROLLBACK``) end by its deadline, or :data:`WRITE_FLOOR` seconds from now if that is later; without a
    deadline, never. One end for the whole transaction: SQLite has one writer at a time, and what every
    other writer waits for is how long the transaction holds the lock."""
    ends: Optional[float] = getattr(_local, "ends", None)
    _local.write_ends = None if ends is None else max(ends, time.monotonic() + WRITE_FLOOR)
    try:
        yield
    finally:
        _local.write_ends = None


def write_remaining() -> Optional[float]:
    """Seconds left before the end of the write transaction this thread marked (:func:`writing`; None: no
    end), for a store that bounds the transaction's statements itself (PostgreSQL's, which starts none past
    it: a limit per statement would let a batch's items each run to it in turn)."""
    ends: Optional[float] = getattr(_local, "write_ends", None)
    return None if ends is None else ends - time.monotonic()


def wait_bound(longest: float) -> float:
    """Seconds this thread may wait for what a store shares between requests (a pooled connection, the
    write lock): what is left of its deadline, at least :data:`WAIT_FLOOR`; ``longest`` without one. A
    wait that ends past it answers 124 (:class:`Interrupted`) when the deadline bounded it."""
    left = remaining()
    return longest if left is None else max(left, WAIT_FLOOR)


def remaining() -> Optional[float]:
    """Seconds left before this thread's deadline (None: no deadline), for a store that bounds its
    statements itself (PostgreSQL's ``statement_timeout``)."""
    ends: Optional[float] = getattr(_local, "ends", None)
    return None if ends is None else ends - time.monotonic()


class Interrupted(Exception):
    """A read a store ended at its thread's deadline (:func:`remaining`)."""


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement :func:`watch` (or a store, :class:`Interrupted`) interrupted at its
    deadline."""
    return isinstance(exc, Interrupted) or isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc)
