"""Idempotent writes by request id (Parse Server's ``idempotencyOptions``): a ``POST`` or ``PUT`` whose path
matches one of the configured patterns and that carries ``X-Parse-Request-Id`` is served once; the same id
again within ``ttl`` seconds is refused with error 159 ("Duplicate request") before any work, so a client
retrying a write whose answer it lost never applies it twice.

The ids are claimed in the database (``_request_ids``), so every worker process of ``leanorm serve`` sees
them; expired ones are deleted as new ones are claimed. Off unless paths are configured, as on Parse.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Optional, Pattern, Tuple

from .answers import ProtocolError
from .storage.interface import Store

__all__ = ["Idempotency", "DEFAULT_TTL", "MAX_REQUEST_ID"]

#: seconds a request id is remembered (Parse Server's default)
DEFAULT_TTL = 300.0
#: the longest request id kept (the SDKs send a UUID): a longer one is error 107
MAX_REQUEST_ID = 128
#: the methods that write (Parse Server deduplicates its create, update, function and job routes)
WRITES = ("POST", "PUT")


@dataclass(frozen=True)
class Idempotency:
    """Which requests are deduplicated: ``paths`` are regular expressions matched from the start of the
    path below the mount (``classes/.*``, ``functions/pay``; ``.*`` for every write), ``ttl`` seconds."""

    paths: Tuple[str, ...] = ()
    ttl: float = DEFAULT_TTL
    _patterns: Tuple[Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise ValueError("the idempotency ttl must be a positive number of seconds")
        try:
            patterns = tuple(re.compile(p if p.startswith("^") else "^" + p) for p in self.paths)
        except re.error as exc:
            raise ValueError(f"an idempotency path is not a regular expression: {exc}") from None
        object.__setattr__(self, "_patterns", patterns)

    def applies(self, method: str, path: str) -> bool:
        return method in WRITES and any(p.match(path.strip("/")) for p in self._patterns)

    def claim(self, store: Store, request_id: Optional[str], method: str, path: str) -> None:
        """Record ``request_id`` for this write, or refuse the request (159) if it was seen within ``ttl``.
        A request without an id, or on a path not configured, is served as usual."""
        if not request_id or not self.applies(method, path):
            return
        if len(request_id) > MAX_REQUEST_ID:
            raise ProtocolError(107, f"X-Parse-Request-Id is at most {MAX_REQUEST_ID} characters.")
        now = time.time()
        with store.write() as conn:
            conn.execute("DELETE FROM _request_ids WHERE expires_at < ?", (now,))
            try:
                conn.execute("INSERT INTO _request_ids VALUES (?, ?)", (request_id, now + self.ttl))
            except store.integrity_errors:
                raise ProtocolError(159, "Duplicate request") from None
