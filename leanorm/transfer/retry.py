"""Retrying what is safe to repeat, with backoff: reads, and writes that carry their objectIds (sent
twice, the second finds the object present: a duplicate id proves the first one landed).

>>> from leanorm.errors import TransportError
>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise TransportError("connection reset")
...     return "ok"
>>> retrying(flaky, base_delay=0)
'ok'
>>> len(calls)
3
"""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from ..errors import LeanCloudError, TransportError

__all__ = ["retrying", "ATTEMPTS"]

T = TypeVar("T")
ATTEMPTS = 8
#: server answers that mean "try again later", not "this request is wrong"
_TRANSIENT_CODES = frozenset({1, 155, 429, 503})


def _transient(exc: Exception) -> bool:
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, LeanCloudError) and (exc.code in _TRANSIENT_CODES or (exc.status or 0) >= 500)


def retrying(call: Callable[[], T], *, attempts: int = ATTEMPTS, base_delay: float = 0.2,
             max_delay: float = 10.0) -> T:
    """``call()``, repeated after a transport failure or a transient server error, waiting
    ``base_delay`` doubled at each attempt (with jitter, at most ``max_delay``); the last failure is
    raised. Only for calls that are safe to repeat."""
    for attempt in range(attempts):
        try:
            return call()
        except (TransportError, LeanCloudError) as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            time.sleep(min(max_delay, base_delay * 2 ** attempt) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")  # pragma: no cover
