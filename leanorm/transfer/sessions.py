"""Sessions crossing backends: the tokens users hold keep working after the move.

A LeanCloud export keeps each user's current token in the ``_User`` row (``sessionToken``); a Parse
export has ``_Session`` rows (``sessionToken``, ``user``, ``expiresAt``). Each becomes a session of the
target through ``POST classes/_Session`` with the master key, which the embedded backend (its own
session table) and Parse Server both take; a token already there is skipped (asked first: Parse Server
would store a second row with the same token).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set

from ..auth_context import using_master
from ..client import Client
from ..errors import LeanCloudError
from .report import ClassReport
from .retry import retrying

__all__ = ["KeptSession", "from_user_row", "from_session_row", "keep_sessions", "USER_TOKEN_DAYS"]

#: how long a token from a ``_User`` row (which says no expiry) lasts from the import: as long as a new
#: login's session on the embedded backend, so that it ends on every target alike
USER_TOKEN_DAYS = 365


@dataclass(frozen=True)
class KeptSession:
    """A token a user held on the source, and until when (an ISO date)."""

    token: str
    user_id: str
    expires_at: str

    def body(self) -> Dict[str, Any]:
        return {"sessionToken": self.token,
                "user": {"__type": "Pointer", "className": "_User", "objectId": self.user_id},
                "createdWith": {"action": "login", "authProvider": "password"},
                "expiresAt": {"__type": "Date", "iso": self.expires_at}}


def _from_now(days: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def from_user_row(row: Dict[str, Any]) -> Optional[KeptSession]:
    """The session an exported ``_User`` row carries (LeanCloud keeps one token per user), if any."""
    token, user_id = row.get("sessionToken"), row.get("objectId")
    if isinstance(token, str) and token and isinstance(user_id, str):
        return KeptSession(token, user_id, _from_now(USER_TOKEN_DAYS))
    return None


def from_session_row(row: Dict[str, Any]) -> Optional[KeptSession]:
    """The session of an exported ``_Session`` row, or None when it names no token and user."""
    token, user, expires = row.get("sessionToken"), row.get("user"), row.get("expiresAt")
    user_id = user.get("objectId") if isinstance(user, dict) else None
    if not (isinstance(token, str) and token and isinstance(user_id, str)):
        return None
    iso = expires.get("iso") if isinstance(expires, dict) else expires
    return KeptSession(token, user_id, iso if isinstance(iso, str) else _from_now(USER_TOKEN_DAYS))


def _present(target: Client, tokens: Sequence[str]) -> Set[str]:
    with using_master():
        answer = retrying(lambda: target.request("GET", "classes/_Session", {
            "where": {"sessionToken": {"$in": list(tokens)}}, "keys": "sessionToken", "limit": len(tokens)}))
    return {row.get("sessionToken") for row in answer.get("results", [])}


def keep_sessions(target: Client, sessions: List[KeptSession], report: ClassReport, dry_run: bool = False) -> int:
    """Open ``sessions`` on ``target``; how many were opened (or would be, in a dry run). A session the
    target refuses (an unknown user, a token too short to be safe) is a failure in ``report``; one it
    holds already is skipped."""
    if not sessions:
        return 0
    present = _present(target, [s.token for s in sessions])
    todo = [s for s in sessions if s.token not in present]
    report.skipped += len(sessions) - len(todo)
    if dry_run or not todo:
        return len(todo)
    with using_master():
        outcomes = retrying(lambda: target.batch([("POST", "classes/_Session", s.body()) for s in todo]))
    kept = 0
    for session, outcome in zip(todo, outcomes):
        if isinstance(outcome, LeanCloudError):
            report.fail(f"session of {session.user_id}", outcome)
        else:
            kept += 1
    return kept
