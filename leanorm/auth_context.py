"""Who the current code acts as, kept in contextvars.

Threads and asyncio tasks each see their own values, so one thread's user or master key never leaks
into another's requests.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
from contextvars import ContextVar
from typing import Any, Iterator, Optional

__all__ = ["using_master", "without_master", "master_active", "session_token", "current_user", "acting_as",
           "identity"]

_master: ContextVar[bool] = ContextVar("leanorm_master", default=False)
_user: ContextVar[Optional[Any]] = ContextVar("leanorm_user", default=None)
_token: ContextVar[Optional[str]] = ContextVar("leanorm_session_token", default=None)


@contextlib.contextmanager
def using_master() -> Iterator[None]:
    """Send the master key for the requests made inside the block, and only for them."""
    reset = _master.set(True)
    try:
        yield
    finally:
        _master.reset(reset)


@contextlib.contextmanager
def without_master() -> Iterator[None]:
    """Do not send the master key inside the block, even when an enclosing block does (engine code run
    in-process for a master-key caller sends it only where it asks, as on LeanEngine)."""
    reset = _master.set(False)
    try:
        yield
    finally:
        _master.reset(reset)


def master_active() -> bool:
    """Whether the current context sends the master key."""
    return _master.get()


def session_token() -> Optional[str]:
    """The session token the current context sends, if any."""
    return _token.get()


def identity() -> str:
    """Who the current context acts as, as the identity map scopes instances: ``master``, ``anonymous``
    or a digest of the session token (``Client.auth_identity()``). An object read with one user's
    rights is never served to another caller.
    """
    # the context variables read here directly: every pointer's first read asks (models._PagePointers)
    if _master.get():
        return "master"
    token = _token.get()
    return _token_identity(token) if token else "anonymous"


@functools.lru_cache(maxsize=1024)
def _token_identity(token: str) -> str:
    """A session token's identity: a digest, so the token itself is never a key (cached: it is asked for
    on the read path)."""
    return "session:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def current_user() -> Optional[Any]:
    """The user the current context acts as, if any."""
    return _user.get()


@contextlib.contextmanager
def acting_as(user: Optional[Any], token: Optional[str]) -> Iterator[None]:
    """Act as ``user`` (with its session ``token``) inside the block."""
    reset_user, reset_token = _user.set(user), _token.set(token)
    try:
        yield
    finally:
        _user.reset(reset_user)
        _token.reset(reset_token)
