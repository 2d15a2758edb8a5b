"""Passwords: what a client may send as one, and how the backend stores and checks them.

Passwords are hashed with scrypt and a random salt, in ``_passwords`` (never in the user's document); a
user imported from LeanCloud keeps LeanCloud's hash (written once with the master key as
``legacyPassword``, see :mod:`leanorm.legacy_password`) until its first login, which stores the password
under scrypt; no hash, of either scheme, is ever in an answer.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Dict

from ... import legacy_password
from ..routing import Context
from ..answers import ProtocolError

__all__ = ["checked_password", "charge_hashing", "hash_password", "legacy_hash", "is_legacy", "verify_password"]

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def checked_password(password: Any) -> str:
    """A password a client sent: a non-empty string, else error 201."""
    if not isinstance(password, str) or not password:
        raise ProtocolError(201, "Password is missing or empty.")
    return password


def charge_hashing(ctx: Context) -> None:
    """Charge one scrypt computation (a hash, or a check of a password) to the request's budget
    (``budget.MAX_PASSWORD_HASHES``), before it runs; the master key (an import of users) is not bounded."""
    if not ctx.caller.master:
        ctx.budget.charge_password_hash()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def legacy_hash(record: Dict[str, str]) -> str:
    """The ``_passwords`` form of a LeanCloud hash (a :func:`leanorm.legacy_password.record`)."""
    return f"{legacy_password.SCHEME}${record['salt']}${record['hash']}"


def is_legacy(stored: str) -> bool:
    return stored.startswith(legacy_password.SCHEME + "$")


def verify_password(password: str, stored: str) -> bool:
    if is_legacy(stored):
        salt, digest = stored[len(legacy_password.SCHEME) + 1:].rsplit("$", 1)
        return legacy_password.matches(password, legacy_password.record(digest, salt))
    _, salt, digest = stored.split("$")
    check = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(check.hex(), digest)
