"""objectIds made outside a server's insert: by the embedded server, and by clients that choose their
objects' ids (so that sending a create again is safe)."""
from __future__ import annotations

import base64
import re
import secrets

__all__ = ["new_object_id", "OBJECT_ID", "is_object_id"]

#: what an objectId looks like on every backend: LeanCloud's 24 hex digits, Parse Server's 10 letters and
#: digits, the embedded backend's 24 base32 characters, and ids clients choose (``[A-Za-z0-9]{1,64}``)
OBJECT_ID = re.compile(r"[A-Za-z0-9]{1,64}\Z")


def is_object_id(value: object) -> bool:
    """Whether ``value`` has the form of an objectId (says nothing of whether such an object exists)."""
    return isinstance(value, str) and OBJECT_ID.match(value) is not None


def new_object_id() -> str:
    """24 characters of ``[a-z2-7]`` carrying 120 random bits, so that two makers never pick the same
    one (base32 of 15 random bytes: one C call, where drawing each character with ``secrets.choice``
    took a quarter of a bulk insert)."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
