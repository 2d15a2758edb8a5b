"""The identity map: one Python instance per stored object, per auth scope.

Entries are kept per scope (backend client + auth identity), so an object read with one user's rights
is never handed to another caller, and a fresh entry lets ``Model.objects.get(id=...)`` answer without
a round trip.

Each scope is an insertion-ordered dict of ``(class name, objectId) -> (expires_at, instance)``; storing
an entry again moves it to the end. As every entry lives ``ttl`` seconds from its last store, the front
is always the entry that expires first: expiry and the size bound both pop from the front, in O(1).
Query pages go through :meth:`IdentityMap.get_many`/:meth:`IdentityMap.put_many`, one lock and one
clock reading per page rather than per row (this is on the read path of every query).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from time import monotonic
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["IdentityMap"]

Key = Tuple[str, str]  # (class name, objectId)
_Entry = Tuple[float, Any]  # (monotonic expiry time, instance)


class IdentityMap:
    """Instances by ``(scope, class name, objectId)``; ``ttl`` seconds fresh, at most ``maxsize`` per scope.

    When a scope is full, the entry stored longest ago (the first to expire) makes room.
    ``ttl=0`` turns the map off: nothing is kept and every read goes to the backend.
    """

    def __init__(self, ttl: float = 60.0, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._scopes: Dict[str, "OrderedDict[Key, _Entry]"] = {}
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
            cache = self._scopes.get(scope)
            if cache is None:
                return [None] * len(object_ids)
            get = cache.get
            return [entry[1] if (entry := get((class_name, oid))) is not None and entry[0] > now else None
                    for oid in object_ids]

    def put(self, scope: str, class_name: str, object_id: str, instance: Any) -> None:
        """Remember ``instance`` as the one for that object in ``scope`` (restarts its TTL)."""
        self.put_many(scope, class_name, ((object_id, instance),))

    def put_many(self, scope: str, class_name: str, items: Iterable[Tuple[str, Any]]) -> None:
        """Remember each ``(objectId, instance)`` of ``items`` in ``scope`` (restarting their TTL)."""
        if not self.enabled:
            return
        now = monotonic()
        entry_expires = now + self.ttl
        with self._lock:
            cache = self._scopes.get(scope)
            if cache is None:
                cache = self._scopes[scope] = OrderedDict()
            move = cache.move_to_end
            for object_id, instance in items:
                key = (class_name, object_id)
                cache[key] = (entry_expires, instance)
                move(key)  # a re-stored entry now expires last: keep the order = expiry order
            self._trim(cache, now)

    def _trim(self, cache: "OrderedDict[Key, _Entry]", now: float) -> None:
        # drop expired entries (all at the front) so they do not keep instances alive, then any excess
        while cache:
            key, (expires, _) = next(iter(cache.items()))
            if expires > now:
                break
            del cache[key]
        excess = len(cache) - self.maxsize
        for _ in range(max(0, excess)):
            cache.popitem(last=False)

    def discard(self, class_name: str, object_id: str) -> None:
        """Forget that object in every scope (it was deleted)."""
        with self._lock:
            for cache in self._scopes.values():
                cache.pop((class_name, object_id), None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._scopes.clear()

    def __len__(self) -> int:
        """How many fresh entries there are, over every scope."""
        now = monotonic()
        with self._lock:
            return sum(1 for cache in self._scopes.values() for expires, _ in cache.values() if expires > now)
