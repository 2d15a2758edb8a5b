"""Who sent a request, as the server's layers see it (the query compiler filters rows by it, the access
rules check it, endpoints act as it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ["Caller"]


@dataclass
class Caller:
    """Who sent the request: the master key, or the principals an ACL grants to (``*``, the user's id,
    ``role:<name>`` of every role the user holds, inherited ones included)."""

    master: bool = False
    #: the request carried the app's hook key (``X-LC-Hook-Key``): LeanEngine's right to skip hooks
    hook: bool = False
    user_id: Optional[str] = None
    session_token: Optional[str] = None
    principals: Tuple[str, ...] = ("*",)
