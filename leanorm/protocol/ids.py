"""objectIds made outside a server's insert: by the embedded server, and by clients that choose their
objects' ids (so that sending a create again is safe)."""
from __future__ import annotations

import base64
import secrets

__all__ = ["new_object_id"]


def new_object_id() -> str:
    """24 characters of ``[a-z2-7]`` carrying 120 random bits, so that two makers never pick the same
    one (base32 of 15 random bytes: one C call, where drawing each character with ``secrets.choice``
    took a quarter of a bulk insert)."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
