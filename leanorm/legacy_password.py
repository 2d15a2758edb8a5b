"""LeanCloud's password hashes, so users imported from a LeanCloud export keep their passwords.

A LeanCloud ``_User`` row carries ``password`` = base64 of SHA-512 over (salt + password), then SHA-512
applied 512 more times to the digest, and the ``salt`` beside it. Neither the embedded backend nor Parse
Server stores that scheme, so an import writes the pair as a :data:`FIELD` value (a
:func:`record`); the backend keeps it out of every answer and checks it at the first login, which then
stores the password under the backend's own scheme.

>>> digest = leancloud_hash("password", "h60d8x797d3oa0naxybxxv9bn7xpt2yiowz68mpiwou7gwr2")
>>> digest[:20]
'tA7BLW+NK0UeARng0693'
>>> matches("password", record(digest, "h60d8x797d3oa0naxybxxv9bn7xpt2yiowz68mpiwou7gwr2"))
True
>>> matches("Password", record(digest, "h60d8x797d3oa0naxybxxv9bn7xpt2yiowz68mpiwou7gwr2"))
False
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Dict

__all__ = ["FIELD", "LOGIN_FUNCTION", "SCHEME", "leancloud_hash", "record", "is_record", "matches"]

#: the ``_User`` field an import writes the legacy hash into (master-only; the embedded backend never
#: stores it in the user's document)
FIELD = "legacyPassword"
#: the cloud function (``leanorm.engine``, registered on Parse Server) that checks a legacy hash once
LOGIN_FUNCTION = "leanormLegacyLogin"
SCHEME = "leancloud-sha512"
_ROUNDS = 512


def leancloud_hash(password: str, salt: str) -> str:
    """LeanCloud's stored form of ``password`` with ``salt``."""
    digest = hashlib.sha512((salt + password).encode()).digest()
    for _ in range(_ROUNDS):
        digest = hashlib.sha512(digest).digest()
    return base64.b64encode(digest).decode()


def record(password_hash: str, salt: str) -> Dict[str, str]:
    """The :data:`FIELD` value for one exported user's ``password`` and ``salt``."""
    return {"scheme": SCHEME, "hash": password_hash, "salt": salt}


def is_record(value: Any) -> bool:
    """Whether ``value`` is a well-formed :func:`record`."""
    return (isinstance(value, dict) and value.get("scheme") == SCHEME
            and isinstance(value.get("hash"), str) and bool(value["hash"])
            and isinstance(value.get("salt"), str))


def matches(password: str, stored: Any) -> bool:
    """Whether ``password`` is the one ``stored`` (a :func:`record`) was made from."""
    if not is_record(stored) or not isinstance(password, str):
        return False
    return hmac.compare_digest(leancloud_hash(password, stored["salt"]), stored["hash"])
