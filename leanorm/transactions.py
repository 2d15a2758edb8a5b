"""``with leanorm.atomic():`` (or ``async with``) — the block's object writes as one transaction, all or
nothing.

Inside the block, ``save()``, ``delete()``, ``create()``, ``bulk_create()``, ``update()``,
``bulk_update()`` and ``delete()`` of querysets queue their writes instead of sending them; when the
block ends they go as ONE transactional batch (``POST batch`` with ``"transaction": true``): Parse
Server runs it in a database transaction, the embedded backend in one SQLite transaction. Either every
write is applied, or none is:

* an exception inside the block sends nothing, and the instances written in it are expired as after a
  failed ``save()`` (their unsent changes dropped: none reaches the server through a later save);
* a write the server refuses undoes the others and raises :class:`~leanorm.errors.TransactionFailed`
  listing each object with its error (the embedded backend says which item failed; Parse Server answers
  one error for the whole batch, given to every object); the instances are expired as after a failed
  ``save()``;
* after the commit the instances have their ids and server values, and ``after_*`` signals fire.

``async with leanorm.atomic():`` is the same block; its end sends the batch through the async transport
(:func:`leanorm.aio.run_async` of :meth:`Transaction.commit`, the one implementation). A task cancelled
inside the block abandons it as an exception does; one cancelled while the batch is in flight gets the
cancellation at the send, and the instances are expired as after an ``OutcomeUnknown``: the batch was
applied whole or not at all, and the next call works.

Reads inside the block see the database, not the queued writes (a unit of work: writes are visible once
the block ends), and new objects have no id until then. Nested blocks join the outermost one: one
transaction, no savepoints, so an inner block ended by an exception undoes the whole transaction, even
when the outer block catches it: later writes in the block are refused and its end raises
:class:`~leanorm.errors.TransactionFailed` (Django would undo the inner block's savepoint only). A
block is its thread's (or asyncio task's): other threads' writes are not in it; a task started inside
the block shares it until it ends, and a write such a task makes after that is refused (it would be
queued into a batch already sent). A block holds at most the backend's batch
limit of writes (one batch request), goes through one client and one auth identity. Requests that cannot
join the transaction (relation changes, sign-up, log-in, files, cloud functions...) are refused inside
the block rather than sent outside it. LeanCloud has no transactional batch: the first write raises
:class:`~leanorm.errors.NotSupported` (so does ``leanorm serve`` reached in the LeanCloud dialect, which
the client cannot tell from LeanCloud).
"""
from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Type

from . import auth_context
from .aio import run_async
from .errors import LeanORMError, NotSupported, TransactionFailed

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["atomic", "Atomic", "Transaction", "current"]

#: the capability of a transactional batch
TRANSACTIONS = "transactions"


class _Write:
    """One queued write: what to send, and what to do with its answer or its error."""

    __slots__ = ("owner", "method", "path", "body", "done", "failed")

    def __init__(self, owner: Any, method: str, path: str, body: Optional[Mapping[str, Any]],
                 done: Callable[[Dict[str, Any]], None], failed: Callable[[], None]) -> None:
        self.owner, self.method, self.path, self.body = owner, method, path, body
        self.done, self.failed = done, failed


class Transaction:
    """The writes an atomic block queued, sent as one transactional batch when it ends."""

    def __init__(self) -> None:
        self.client: Optional["Client"] = None
        self.identity = auth_context.identity()
        self.writes: List[_Write] = []
        #: whether its block ended: a write queued later (by a task the block started, which copied its
        #: context) would never be sent
        self.ended = False
        #: why the transaction can no longer commit: an inner block ended with an exception (set by
        #: :meth:`abandon`); None while it can
        self.abandoned: Optional[LeanORMError] = None

    def abandon(self, exc: Optional[BaseException]) -> None:
        """An inner block ended with ``exc``: without savepoints its writes cannot be undone alone, so the
        whole transaction is lost (Django would roll back to the inner block's savepoint). Later writes are
        refused and the outermost block's end raises :class:`TransactionFailed`, sending nothing."""
        if self.abandoned is None:
            self.abandoned = LeanORMError(f"an inner atomic() block ended with {exc!r}: a block has no "
                                          "savepoints, so the whole transaction is undone")

    def add(self, client: "Client", owner: Any, method: str, path: str, body: Optional[Mapping[str, Any]],
            done: Callable[[Dict[str, Any]], None], failed: Callable[[], None]) -> None:
        """Queue a write of ``owner`` (an instance); a later write of the same instance by the same
        method replaces it (its payload holds every change since the last commit)."""
        if self.ended:
            raise LeanORMError("this write belongs to an atomic block that has ended (a task started inside "
                               "the block outlived it): write outside the block, or before it ends")
        if self.abandoned is not None:
            raise LeanORMError(f"{self.abandoned}; this write is refused (catch the exception outside the "
                               "outermost block, or keep the inner block's failure from ending it)")
        check_joinable(client)
        if not path.startswith("classes/"):
            raise NotSupported(f"{method} {path} inside atomic()", None, "only writes of objects of the app's "
                               "classes join the block's transaction")
        if self.client is None:
            self.client = client
        elif client is not self.client:
            raise LeanORMError("an atomic block writes through one client: this write uses another")
        if auth_context.identity() != self.identity:
            raise LeanORMError("an atomic block writes as one identity (the one it began with): "
                               "open the block inside as_user()/using_master(), not around it")
        for i, write in enumerate(self.writes):
            if write.owner is owner and write.method == method and write.path == path:
                self.writes[i] = _Write(owner, method, path, body, done, failed)
                return
        limit = client.dialect.batch_limit
        if len(self.writes) >= limit:
            raise NotSupported(f"more than {limit} writes in one atomic block", client.backend,
                               "the transaction is one batch request, of at most the backend's batch limit")
        self.writes.append(_Write(owner, method, path, body, done, failed))

    def commit(self) -> None:
        """Send the queued writes as one transactional batch, then fold each answer into its instance."""
        if not self.writes or self.client is None:
            return
        writes, self.writes = self.writes, []
        try:
            answers = self.client.transaction([(w.method, w.path, w.body) for w in writes])
        except TransactionFailed as exc:
            for write in writes:
                write.failed()
            raise TransactionFailed([(w.owner, err) for w, (_, err) in zip(writes, exc.failed)],
                                    exc.cause) from exc
        except BaseException:
            for write in writes:
                write.failed()
            raise
        for write, answer in zip(writes, answers):
            write.done(answer)


_current: ContextVar[Optional[Transaction]] = ContextVar("leanorm_atomic", default=None)


def current() -> Optional[Transaction]:
    """The transaction of the atomic block the calling code runs in, None outside one."""
    return _current.get()


def check_joinable(client: "Client") -> None:
    """Refuse, at the first write, a backend without a transactional batch."""
    client.require(TRANSACTIONS, "atomic() blocks (a transactional batch)")


class Atomic:
    """The block :func:`atomic` opens: a context manager for ``with`` and for ``async with``.

    Both ends are the same code; only the commit's send differs. ``async with`` sends the batch through
    the async transport (``aio.run_async`` of :meth:`Transaction.commit`: the event loop runs other tasks
    meanwhile), ``with`` through the sync one. One object opens one block at a time.
    """

    def __init__(self) -> None:
        self._token: Optional[Token[Optional[Transaction]]] = None
        self._transaction: Optional[Transaction] = None

    def __enter__(self) -> Transaction:
        return self._begin()

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        transaction = self._end(exc)
        if transaction is not None:
            transaction.commit()

    async def __aenter__(self) -> Transaction:
        return self._begin()

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        transaction = self._end(exc)
        if transaction is not None:
            # a task cancelled while this is awaited gets the cancellation thrown into commit() at its send:
            # it expires the block's instances, as any failed commit (the batch is applied whole or not)
            await run_async(transaction.commit)

    def _begin(self) -> Transaction:
        if self._transaction is not None:
            raise LeanORMError("this atomic() block is open already: call leanorm.atomic() for another")
        outer = _current.get()
        if outer is not None:  # nested: one transaction, the outermost block's
            self._transaction = outer
            return outer
        self._transaction = Transaction()
        self._token = _current.set(self._transaction)
        return self._transaction

    def _end(self, exc: Optional[BaseException]) -> Optional[Transaction]:
        """Close the block (``exc``: the exception ending it, if any); the transaction to commit, or None
        (a nested block, or an exception that abandons the block: nothing was sent, and nothing will be).
        Raises :class:`TransactionFailed` when an inner block's exception abandoned the transaction and
        this outermost block ends without one."""
        transaction, token = self._transaction, self._token
        self._transaction = self._token = None
        if transaction is None:
            return None
        if token is None:  # nested
            if exc is not None:
                transaction.abandon(exc)
            return None
        _current.reset(token)
        transaction.ended = True
        if exc is not None or transaction.abandoned is not None:
            # no change of the abandoned block may reach the server later through another save() of the same
            # instance
            writes, transaction.writes = transaction.writes, []
            for write in writes:
                write.failed()
            if exc is None and transaction.abandoned is not None:
                raise TransactionFailed([(w.owner, transaction.abandoned) for w in writes], transaction.abandoned)
            return None
        return transaction


def atomic() -> Atomic:
    """Make the block's object writes one transaction, sent when the block ends (see the module doc):
    ``with leanorm.atomic():``, or ``async with leanorm.atomic():`` to send it through the async
    transport.

    >>> from typing import Optional
    >>> import leanorm
    >>> from leanorm import Model, StringField
    >>> class Ledger(Model):
    ...     entry: StringField[Optional[str]] = StringField()
    >>> client = leanorm.connect("local://:memory:", default=False)
    >>> with leanorm.using(client):
    ...     with leanorm.atomic():
    ...         first = Ledger.objects.create(entry="debit")
    ...         second = Ledger.objects.create(entry="credit")
    ...         first.id is None  # sent when the block ends
    ...     Ledger.objects.count(), first.id is not None
    True
    (2, True)
    """
    return Atomic()
