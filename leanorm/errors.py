"""Typed exceptions.

Every error a backend answers becomes a :class:`LeanCloudError` subclass carrying the server's ``code`` and
``message``; codes that users handle on purpose (object not found, duplicate value, permission, rate
limit, ...) get a class of their own so they can be caught by name.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type

__all__ = [
    "LeanORMError", "LeanCloudError", "ObjectNotFound", "DuplicateValue", "PermissionDenied",
    "RateLimited", "InvalidSession", "NoEffect", "InvalidQuery", "InvalidType", "AuthenticationFailed",
    "UserNotFound", "UsernameTaken", "EmailTaken", "MobilePhoneTaken", "AccountAlreadyLinked",
    "InvalidVerificationCode", "UnsupportedAuthProvider", "ScriptError", "HookRejected",
    "ConfigurationError", "ValidationError", "FieldError", "NotSupported", "BulkWriteError", "TransportError", "NotSent",
    "OutcomeUnknown", "ConnectionLost", "TransactionFailed", "error_for",
]


class LeanORMError(Exception):
    """Base class of everything leanorm raises on purpose."""


class LeanCloudError(LeanORMError):
    """An error answered by the backend, with its protocol ``code`` and ``message``."""

    #: the protocol code a subclass stands for (``None`` on the generic class)
    code_of_class: Optional[int] = None

    def __init__(self, code: int, message: str, status: Optional[int] = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status
        #: the whole error answer (a failed transactional batch of the embedded backend carries its
        #: items' outcomes in ``results``)
        self.answer: Dict[str, Any] = {}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


_BY_CODE: Dict[int, Type[LeanCloudError]] = {}


def _register(*codes: int):
    def wrap(cls: Type[LeanCloudError]) -> Type[LeanCloudError]:
        cls.code_of_class = codes[0]
        for code in codes:
            _BY_CODE[code] = cls
        return cls
    return wrap


@_register(101)
class ObjectNotFound(LeanCloudError):
    """101: the object (or class) does not exist, or the caller may not see it."""


@_register(102)
class InvalidQuery(LeanCloudError):
    """102: the backend refused the query."""


@_register(111)
class InvalidType(LeanCloudError):
    """111: a value's type differs from the type the class's schema has for that field."""


@_register(119, 403)
class PermissionDenied(LeanCloudError):
    """119/403: the operation is forbidden to this caller (ACL, class permission, master key needed)."""


@_register(137)
class DuplicateValue(LeanCloudError):
    """137: a unique field (or objectId) was given a value that is already taken."""


@_register(141)
class ScriptError(LeanCloudError):
    """141: a cloud function or hook failed."""


@_register(142)
class HookRejected(LeanCloudError):
    """142: a before-hook on the server rejected the write."""


@_register(155, 429, 601)
class RateLimited(LeanCloudError):
    """155/429: too many requests; 601: SMS codes asked for too often."""


@_register(202)
class UsernameTaken(LeanCloudError):
    """202: the username is already taken."""


@_register(203)
class EmailTaken(LeanCloudError):
    """203: the e-mail address is already taken."""


@_register(208)
class AccountAlreadyLinked(LeanCloudError):
    """208: this third-party account (``authData`` platform and uid) is linked to another user."""


@_register(252)
class UnsupportedAuthProvider(LeanCloudError):
    """252: the server has no verifier for this third-party login platform, so it refuses the login."""


@_register(209)
class InvalidSession(LeanCloudError):
    """209: the session token is invalid or expired."""


@_register(210)
class AuthenticationFailed(LeanCloudError):
    """210: the username and password do not match."""


@_register(211, 213)
class UserNotFound(LeanCloudError):
    """211: no user with that username or e-mail; 213: no user with that mobile phone number."""


@_register(214)
class MobilePhoneTaken(LeanCloudError):
    """214: the mobile phone number is already taken."""


@_register(603)
class InvalidVerificationCode(LeanCloudError):
    """603: the SMS code is wrong, expired or already used."""


@_register(305)
class NoEffect(LeanCloudError):
    """305: a conditional update or delete matched nothing (its ``where`` did not hold)."""


def error_for(code: int, message: str, status: Optional[int] = None) -> LeanCloudError:
    """Build the most specific :class:`LeanCloudError` subclass for a protocol error code."""
    return _BY_CODE.get(code, LeanCloudError)(code, message, status)


class TransportError(LeanORMError):
    """The backend could not be reached, or answered something that is not the protocol."""


class NotSent(TransportError):
    """The request never reached the server whole (connection refused, reset or deadline before it was
    written): nothing was applied, and sending it again is safe."""


class OutcomeUnknown(TransportError):
    """The request was sent but no whole answer came (reset, timeout): it may or may not have been
    applied. A create that carries a client-made objectId is safe to send again."""


class ConnectionLost(TransportError):
    """A live query's connection (docs/live.md) could not be opened, or dropped: the live query
    reconnects by itself, and raises this only when its first connection fails."""


class ConfigurationError(LeanORMError):
    """The client is not configured for what the code asked (e.g. ``using_master()`` without a master
    key): nothing was sent."""


class ValidationError(LeanORMError, ValueError):
    """Client-side validation failed; nothing was sent.

    ``errors`` maps each failing field name to its list of messages, so one exception reports every
    problem at once.
    """

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors: Dict[str, List[str]] = {k: list(v) for k, v in errors.items()}
        detail = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in self.errors.items())
        super().__init__(detail)


class FieldError(LeanORMError, ValueError):
    """A query or a write named a field or lookup that does not exist."""


class NotSupported(LeanORMError):
    """The connected backend lacks a capability; ``backend`` and ``feature`` say which. ``backend`` is
    None when no backend can do it (the protocol has no way to say it); ``reason`` then says why."""

    def __init__(self, feature: str, backend: Optional[str], reason: str = "") -> None:
        self.feature = feature
        self.backend = backend
        where = f" by the {backend} backend" if backend is not None else ""
        super().__init__(f"{feature} is not supported{where}" + (f": {reason}" if reason else ""))


class BulkWriteError(LeanORMError):
    """Some items of a batch were not written, or may not have been. Items that succeeded are saved and
    stay saved (they have their ids).

    ``succeeded`` lists the objects written; ``failed`` lists ``(object, error)`` pairs of items that
    were not applied (the server refused them, or :class:`NotSent`); ``unknown`` lists
    ``(object, OutcomeUnknown)`` pairs of items that were sent without an answer: they may have been
    applied. Creates that carried client-made ids are never unknown: leanorm reads which of them landed.
    """

    def __init__(self, succeeded: Sequence[Any], failed: Sequence[Tuple[Any, LeanORMError]],
                 unknown: Sequence[Tuple[Any, LeanORMError]] = ()) -> None:
        self.succeeded = list(succeeded)
        self.failed = list(failed)
        self.unknown = list(unknown)
        problems = self.failed + self.unknown
        lines = ", ".join(f"{obj!r}: {err}" for obj, err in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        total = len(problems) + len(self.succeeded)
        super().__init__(f"{len(self.failed)} of {total} batch items failed and {len(self.unknown)} have an "
                         f"unknown outcome: {lines}{more}")


class TransactionFailed(LeanORMError):
    """An atomic block's transaction was undone: nothing of it is stored. ``failed`` lists each queued
    write's object (or request) with the error it failed with, or with the error that undid it; ``cause``
    is the server's error."""

    def __init__(self, failed: Sequence[Tuple[Any, LeanORMError]], cause: LeanORMError) -> None:
        self.failed = list(failed)
        self.cause = cause
        lines = ", ".join(f"{obj!r}: {err}" for obj, err in self.failed[:5])
        more = f" (+{len(self.failed) - 5} more)" if len(self.failed) > 5 else ""
        super().__init__(f"the transaction of {len(self.failed)} writes was undone ({cause}): {lines}{more}")
