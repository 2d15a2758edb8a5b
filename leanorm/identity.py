"""The identity map: one Python instance per stored object, per auth scope.

Entries live in :class:`cachetools.TTLCache` objects, one per scope (backend client + auth identity), so
an object read with one user's rights is never handed to another caller, and a fresh entry lets
``Model.objects.get(id=...)`` answer without a round trip.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Tuple

from cachetools import TTLCache

__all__ = ["IdentityMap"]

Key = Tuple[str, str]  # (class name, objectId)


class IdentityMap:
    """Instances by ``(scope, class name, objectId)``; ``ttl`` seconds fresh, at most ``maxsize`` per scope.

    ``ttl=0`` turns the map off: nothing is kept and every read goes to the backend.
    """

    def __init__(self, ttl: float = 60.0, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._scopes: Dict[str, "TTLCache[Key, Any]"] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when ``ttl`` or ``maxsize`` is zero."""
        return self.ttl > 0 and self.maxsize > 0

    def get(self, scope: str, class_name: str, object_id: str) -> Optional[Any]:
        """The fresh instance for that object in ``scope``, or None."""
        with self._lock:
            cache = self._scopes.get(scope)
            return cache.get((class_name, object_id)) if cache is not None else None

    def put(self, scope: str, class_name: str, object_id: str, instance: Any) -> None:
        """Remember ``instance`` as the one for that object in ``scope`` (restarts its TTL)."""
        if not self.enabled:
            return
        with self._lock:
            cache = self._scopes.get(scope)
            if cache is None:
                cache = self._scopes[scope] = TTLCache(maxsize=self.maxsize, ttl=self.ttl)
            cache[(class_name, object_id)] = instance

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
        with self._lock:
            return sum(len(c) for c in self._scopes.values())
