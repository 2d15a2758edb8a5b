"""Units of work and the identity map: one Python instance per stored object, per unit of work and auth
identity.

A :class:`Session` is a unit of work. Each thread and each asyncio task works in its own (made on first
use), and ``with leanorm.session():`` opens an explicit one for a block. A session belongs to the thread
and task that opened it: another thread, or a task that inherited the context variable, gets a session
of its own instead. So a mutable instance, and the operations queued on it, is never handed to two
threads or tasks at once: 16 threads doing ``get → increment → save`` each work on their own instance.

Inside a session, entries are kept per auth identity (anonymous, master key, each session token), so
an object read with one user's rights is never handed to another caller, and a fresh entry lets
``Model.objects.get(id=...)`` answer without a round trip. Nothing is shared between sessions.

The map lives on its client (it dies with it) and holds one partition per session, weakly: a session
that ends (its thread, task or block is over) takes its entries with it. A partition holds one dict per
auth identity and class, ``objectId -> (expires_at, instance)``. Storing an entry again moves it to the
end of its dict, and every entry lives ``ttl`` seconds from its last store, so each dict is ordered by
expiry: expiry and the size bound take entries from the fronts. Query pages go through
:meth:`IdentityMap.get_many`/:meth:`IdentityMap.put_many`: one lock and one clock reading per page, then
plain dict operations (this is on the read path of every query).
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from contextvars import ContextVar
from time import monotonic
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .aio import running_task

__all__ = ["IdentityMap", "Session", "session", "current_session"]

_Entry = Tuple[float, Any]  # (monotonic expiry time, instance)
_Classes = Dict[str, Dict[str, _Entry]]  # class name -> objectId -> entry


_thread_id = threading.get_ident


class Session:
    """A unit of work: the instances one thread or task (or one ``with leanorm.session():`` block)
    reads and changes. Use it from the thread and task that made it; others get their own."""

    __slots__ = ("_thread", "_task", "_maps", "__weakref__")

    def __init__(self) -> None:
        task = running_task()
        self._thread = _thread_id()
        self._task = None if task is None else weakref.ref(task)
        self._maps: "weakref.WeakSet[IdentityMap]" = weakref.WeakSet()

    def close(self) -> None:
        """Forget every instance this unit of work holds (in the identity map of every client)."""
        for imap in list(self._maps):
            imap._forget(self)


_current: ContextVar[Optional[Session]] = ContextVar("leanorm_session", default=None)


def current_session() -> Session:
    """The unit of work of the calling code: the innermost ``session()`` block opened by this thread and
    task, else this thread's (or task's) own, made on first use."""
    # inlined ownership check: a pointer's first read asks for the session (models._PagePointers)
    found = _current.get()
    if found is None or found._thread != _thread_id() or (
            None if found._task is None else found._task()) is not running_task():
        found = Session()
        _current.set(found)
    return found


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """A unit of work of its own for the block: instances loaded inside are not the ones loaded outside
    it, and are forgotten when it ends (the next read outside loads afresh)."""
    unit = Session()
    reset = _current.set(unit)
    try:
        yield unit
    finally:
        _current.reset(reset)
        unit.close()


class _Partition:
    """One session's entries in one map: per auth identity, one dict per class, and when to purge."""

    __slots__ = ("scopes", "purge_at")

    def __init__(self) -> None:
        self.scopes: Dict[str, _Classes] = {}
        self.purge_at: Dict[str, float] = {}


class IdentityMap:
    """Instances by ``(current session, auth identity, class name, objectId)``; ``ttl`` seconds fresh,
    at most ``maxsize`` per session and identity.

    ``scope`` arguments are auth identities (``Client.auth_identity()``); the session is always the
    calling code's current one. When a scope is full, the entries stored longest ago (the first to
    expire) make room. Expired entries are never returned, and are dropped at least every ``ttl``
    seconds (or one second, if less) when something is stored.
    ``ttl=0`` turns the map off: nothing is kept and every read goes to the backend.
    """

    def __init__(self, ttl: float = 60.0, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._parts: "weakref.WeakKeyDictionary[Session, _Partition]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when ``ttl`` or ``maxsize`` is zero."""
        return self.ttl > 0 and self.maxsize > 0

    def _partition(self, create: bool) -> Optional[_Partition]:
        """The current session's partition (made when ``create``); call with the lock held."""
        unit = current_session()
        part = self._parts.get(unit)
        if part is None and create:
            part = self._parts[unit] = _Partition()
            unit._maps.add(self)
        return part

    def get(self, scope: str, class_name: str, object_id: str) -> Optional[Any]:
        """The fresh instance for that object in ``scope``, or None."""
        return self.get_many(scope, class_name, (object_id,))[0]

    def get_many(self, scope: str, class_name: str, object_ids: Sequence[str]) -> List[Optional[Any]]:
        """The fresh instance (or None) for each of ``object_ids`` in ``scope``, in order."""
        now = monotonic()
        with self._lock:
            part = self._partition(False)
            entries = part.scopes.get(scope, {}).get(class_name) if part is not None else None
            if not entries:
                return [None] * len(object_ids)
            get = entries.get
            return [entry[1] if (entry := get(oid)) is not None and entry[0] > now else None
                    for oid in object_ids]

    def get_or_put(self, scope: str, class_name: str, object_id: str, usable: Callable[[Any], bool],
                   make: Callable[[], Any]) -> Tuple[Any, bool]:
        """The fresh instance for that object in ``scope`` when ``usable(instance)``, else a new one from
        ``make()``, mapped now; and whether it is new. One lock and one clock reading: this resolves a
        pointer (a stub per row) on the read path. ``make`` runs under the map's lock: it must only build
        the instance (no signals, no I/O); when the map is off it is simply called."""
        if not self.enabled:
            return make(), True
        now = monotonic()
        with self._lock:
            part = self._partition(True)
            assert part is not None
            classes = part.scopes.get(scope)
            entries = classes.get(class_name) if classes is not None else None
            if entries:
                entry = entries.get(object_id)
                if entry is not None and entry[0] > now and usable(entry[1]):
                    return entry[1], False
            instance = make()
            self._store(part, scope, class_name, (object_id,), (instance,), now)
            return instance, True

    def put(self, scope: str, class_name: str, object_id: str, instance: Any) -> None:
        """Remember ``instance`` as the one for that object in ``scope`` (restarts its TTL)."""
        self.put_many(scope, class_name, (object_id,), (instance,))

    def put_many(self, scope: str, class_name: str, object_ids: Sequence[str],
                 instances: Sequence[Any]) -> None:
        """Remember ``instances[i]`` as the one for ``object_ids[i]`` in ``scope`` (restarting TTLs)."""
        if not self.enabled:
            return
        now = monotonic()
        with self._lock:
            part = self._partition(True)
            assert part is not None
            self._store(part, scope, class_name, object_ids, instances, now)

    def _store(self, part: _Partition, scope: str, class_name: str, object_ids: Sequence[str],
               instances: Sequence[Any], now: float) -> None:
        """:meth:`put_many` in ``part``, with the lock held."""
        classes = part.scopes.get(scope)
        if classes is None:
            classes = part.scopes[scope] = {}
            part.purge_at[scope] = now + min(self.ttl, 1.0)
        entries = classes.get(class_name)
        if entries is None:
            entries = classes[class_name] = {}
        expires, pop = now + self.ttl, entries.pop
        # a plain loop: as fast as iterator pipelines for a page, and a third of their cost for the single
        # stores of pointer stubs (one per object a page points to)
        for object_id, instance in zip(object_ids, instances):
            pop(object_id, None)  # a re-stored entry must move to the end: its expiry is now the latest
            entries[object_id] = (expires, instance)
        if now >= part.purge_at[scope] or sum(map(len, classes.values())) > self.maxsize:
            self._trim(classes, now)
            part.purge_at[scope] = now + min(self.ttl, 1.0)

    def _trim(self, classes: _Classes, now: float) -> None:
        """Drop expired entries, then the oldest ones beyond ``maxsize``: a merge over the fronts of
        the per-class dicts (each is in expiry order), one pass."""
        excess = sum(map(len, classes.values())) - self.maxsize
        heads: List[List[Any]] = []  # [expires, objectId, class name, iterator over the rest]
        for class_name, entries in classes.items():
            it: Iterator[Tuple[str, _Entry]] = iter(entries.items())
            first = next(it, None)
            if first is not None:
                heads.append([first[1][0], first[0], class_name, it])
        victims: List[Tuple[str, str]] = []
        while heads:
            head = min(heads, key=_expiry)
            if head[0] > now and excess <= 0:
                break
            victims.append((head[2], head[1]))
            excess -= 1
            following = next(head[3], None)
            if following is None:
                heads.remove(head)
            else:
                head[0], head[1] = following[1][0], following[0]
        for class_name, object_id in victims:
            del classes[class_name][object_id]
        for class_name in [name for name, entries in classes.items() if not entries]:
            del classes[class_name]

    def discard(self, class_name: str, object_id: str) -> None:
        """Forget that object in every session and scope (it was deleted, or its state is unknown)."""
        with self._lock:
            for part in list(self._parts.values()):
                for classes in part.scopes.values():
                    entries = classes.get(class_name)
                    if entries is not None:
                        entries.pop(object_id, None)

    def _forget(self, unit: Session) -> None:
        """Drop a session's partition (the session is over)."""
        with self._lock:
            self._parts.pop(unit, None)

    def clear(self) -> None:
        """Forget everything, in every session."""
        with self._lock:
            self._parts.clear()

    def __len__(self) -> int:
        """How many fresh entries there are, over every session and scope."""
        now = monotonic()
        with self._lock:
            return sum(1 for part in list(self._parts.values()) for classes in part.scopes.values()
                       for entries in classes.values() for expires, _ in entries.values() if expires > now)


def _expiry(head: List[Any]) -> float:
    return head[0]
