"""What the function or hook being run was called with, for the code inside it.

Parameters arrive as keyword arguments and objects as model instances; everything else about the call
(the path, the caller, master key, production or staging, the caller's address) is here, read with
:func:`current_request`. It lives in a contextvar, so concurrent calls never see each other's request.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional

__all__ = ["EngineRequest", "current_request"]


@dataclass(frozen=True)
class EngineRequest:
    """One call of a cloud function or hook."""

    #: the LeanEngine path without ``/1.1/``: ``functions/hello``, ``functions/Post/beforeSave``
    path: str
    #: the request JSON as received (function params, or ``{"object": ..., "user": ...}`` for hooks)
    payload: Dict[str, Any] = field(default_factory=dict)
    #: the calling user (a ``leanorm.User`` instance) or None; also ``leanorm.current_user()``
    user: Optional[Any] = None
    #: the caller's session token, if any
    session_token: Optional[str] = None
    #: whether the caller used the master key (the code inside does *not* send it unless it asks)
    master: bool = False
    #: production (True) or staging (False), from ``X-LC-Prod``
    prod: bool = True
    #: the caller's address when known (``X-Real-IP``, ``X-Forwarded-For`` or the socket)
    remote_address: Optional[str] = None


_current: ContextVar[Optional[EngineRequest]] = ContextVar("leanorm_engine_request", default=None)


def current_request() -> Optional[EngineRequest]:
    """The call being run in this context, or None outside engine functions and hooks."""
    return _current.get()


@contextlib.contextmanager
def running(request: EngineRequest) -> Iterator[EngineRequest]:
    """Make ``request`` the current one inside the block."""
    reset = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(reset)
