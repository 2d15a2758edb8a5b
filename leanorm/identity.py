"""The identity map: one Python instance per stored object, per auth scope.

Entries are kept per scope (backend client + auth identity), so an object read with one user's rights
is never handed to another caller, and a fresh entry lets ``Model.objects.get(id=...)`` answer without
a round trip.

A scope holds one dict per class, ``objectId -> (expires_at, instance)``. Storing an entry again moves
it to the end of its dict, and every entry lives ``ttl`` seconds from its last store, so each dict is
ordered by expiry: expiry and the size bound take entries from the fronts. Query pages go through
:meth:`IdentityMap.get_many`/:meth:`IdentityMap.put_many`: one lock, one clock reading and C-level
dict operations per page (this is on the read path of every query).
"""
from __future__ import annotations

import threading
from collections import deque
from itertools import repeat
from time import monotonic
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

__all__ = ["IdentityMap"]

_Entry = Tuple[float, Any]  # (monotonic expiry time, instance)
_Classes = Dict[str, Dict[str, _Entry]]  # class name -> objectId -> entry


class IdentityMap:
    """Instances by ``(scope, class name, objectId)``; ``ttl`` seconds fresh, at most ``maxsize`` per scope.

    When a scope is full, the entries stored longest ago (the first to expire) make room. Expired
    entries are never returned, and are dropped at least every ``ttl`` seconds (or one second, if
    less) when something is stored.
    ``ttl=0`` turns the map off: nothing is kept and every read goes to the backend.
    """

    def __init__(self, ttl: float = 60.0, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._scopes: Dict[str, _Classes] = {}
        self._purge_at: Dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when ``ttl`` or ``maxsize`` is zero."""
        return self.ttl > 0 and self.maxsize > 0

    def get(self, scope: str, class_name: str, object_id: str) -> Optional[Any]:
        """The fresh instance for that object in ``scope``, or None."""
        return self.get_many(scope, class_name, (object_id,))[0]

    def get_many(self, scope: str, class_name: str, object_ids: Sequence[str]) -> List[Optional[Any]]:
        """The fresh instance (or None) for each of ``object_ids`` in ``scope``, in order."""
        now = monotonic()
        with self._lock:
            entries = self._scopes.get(scope, {}).get(class_name)
            if not entries:
                return [None] * len(object_ids)
            get = entries.get
            return [entry[1] if (entry := get(oid)) is not None and entry[0] > now else None
                    for oid in object_ids]

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
            classes = self._scopes.get(scope)
            if classes is None:
                classes = self._scopes[scope] = {}
                self._purge_at[scope] = now + min(self.ttl, 1.0)
            entries = classes.get(class_name)
            if entries is None:
                entries = classes[class_name] = {}
            if entries:
                # re-stored entries must move to the end (their expiry is now the latest): drop first
                deque(map(entries.pop, object_ids, repeat(None)), maxlen=0)
            entries.update(zip(object_ids, zip(repeat(now + self.ttl), instances)))
            if now >= self._purge_at[scope] or sum(map(len, classes.values())) > self.maxsize:
                self._trim(classes, now)
                self._purge_at[scope] = now + min(self.ttl, 1.0)

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
        """Forget that object in every scope (it was deleted)."""
        with self._lock:
            for classes in self._scopes.values():
                entries = classes.get(class_name)
                if entries is not None:
                    entries.pop(object_id, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._scopes.clear()
            self._purge_at.clear()

    def __len__(self) -> int:
        """How many fresh entries there are, over every scope."""
        now = monotonic()
        with self._lock:
            return sum(1 for classes in self._scopes.values() for entries in classes.values()
                       for expires, _ in entries.values() if expires > now)


def _expiry(head: List[Any]) -> float:
    return head[0]
