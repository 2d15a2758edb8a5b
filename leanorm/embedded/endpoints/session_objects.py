"""Sessions as Parse's ``_Session`` objects: ``classes/_Session`` (and ``sessions``) lists them, and a
session's owner (or the master key) deletes one; sessions are made by logging in, and by the master key
for a token a user held on another server (``sessions.keep_session``: ``leanorm import``).

The embedded backend keeps sessions in a table of its own (``_sessions``: token, user, dates), not as a
class, so they are listed here rather than by the query compiler: the master key lists every session
(``where`` may name ``user``, ``sessionToken`` or ``objectId``), a user its own, and a caller without
a session nothing (209, as Parse answers). A session's objectId is derived from its token.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Optional, Tuple

from ..routing import Context
from ..answers import ProtocolError
from .reads import DEFAULT_LIMIT, MAX_LIMIT, int_param

__all__ = ["session_id", "session_object", "sessions_answer", "delete_session", "refuse_session_write"]

#: the ``where`` keys a session listing understands (each compared for equality)
FILTERS = ("user", "sessionToken", "objectId")


def session_id(token: str) -> str:
    """The objectId a session is shown with (sessions live in a table of their own, keyed by token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


#: ``createdWith`` of a session kept from another server (``keep_session``), whose making is not known
_KEPT = {"action": "login", "authProvider": "password"}


def session_object(token: str, user_id: str, created: str, expires: str, installation: Optional[str] = None,
                   created_with: Optional[str] = None) -> Dict[str, Any]:
    """One session as Parse answers it (a row of ``_sessions``, in its column order)."""
    return {"objectId": session_id(token), "sessionToken": token,
            "user": {"__type": "Pointer", "className": "_User", "objectId": user_id},
            "createdWith": json.loads(created_with) if created_with else _KEPT, "restricted": False,
            **({"installationId": installation} if installation else {}),
            "expiresAt": {"__type": "Date", "iso": expires}, "createdAt": created, "updatedAt": created}


def _conditions(ctx: Context) -> Tuple[str, List[Any]]:
    """SQL over ``_sessions`` for the caller's ``where`` (equality on ``FILTERS``) and its own rights."""
    where = ctx.json_param("where") or {}
    if not isinstance(where, dict) or set(where) - set(FILTERS):
        raise ProtocolError(102, f"Invalid query: sessions can be filtered by {', '.join(FILTERS)} only.")
    sql, args = ["1"], []
    user = where.get("user")
    if "user" in where:
        sql.append("user_id = ?")
        args.append(user.get("objectId") if isinstance(user, dict) else None)
    if "sessionToken" in where:  # a token, or {"$in": [tokens]} (what an import asks before keeping them)
        token = where["sessionToken"]
        tokens = token.get("$in") if isinstance(token, dict) else [token]
        if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens) and len(tokens) <= MAX_LIMIT):
            raise ProtocolError(102, f"Invalid query: sessionToken takes a string or $in of at most {MAX_LIMIT}.")
        sql.append(f"token IN ({', '.join('?' * len(tokens)) or 'NULL'})")
        args.extend(tokens)
    if not ctx.caller.master:
        if ctx.caller.user_id is None:
            raise ProtocolError(209, "Session token required: a user lists only its own sessions.")
        sql.append("user_id = ?")
        args.append(ctx.caller.user_id)
    return " AND ".join(sql), args


def sessions_answer(ctx: Context) -> Any:
    """``GET classes/_Session[/<id>]``: the sessions the caller may see (see the module's docstring)."""
    limit = min(int_param(ctx, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    skip = int_param(ctx, "skip", 0)
    sql, args = _conditions(ctx)
    wanted = ctx.args[0] if ctx.args else (ctx.json_param("where") or {}).get("objectId")
    columns = "SELECT token, user_id, created_at, expires_at, installation_id, created_with FROM _sessions"
    with ctx.store.read() as conn:
        if wanted is None:  # a page, in SQL
            total = conn.execute(f"SELECT COUNT(*) FROM _sessions WHERE {sql}", args).fetchone()[0]
            rows = conn.execute(f"{columns} WHERE {sql} ORDER BY created_at, token LIMIT ? OFFSET ?",
                                [*args, limit, skip]).fetchall()
            found = [session_object(*row) for row in rows]
        else:  # an objectId is derived from the token: compared here
            found = [s for s in (session_object(*row) for row in conn.execute(f"{columns} WHERE {sql}", args))
                     if s["objectId"] == wanted]
            total = len(found)
            found = found[skip:skip + limit]
    if ctx.args:
        if not found:
            raise ProtocolError(101, "Object not found.", 404)
        return found[0]
    answer: Dict[str, Any] = {"results": found}
    if ctx.params.get("count") in ("1", "true"):
        answer["count"] = total
    return answer


def delete_session(ctx: Context) -> Any:
    """``DELETE classes/_Session/<id>``: the session ends (its owner's, or any with the master key)."""
    found = sessions_answer(ctx)  # 101 unless the caller may see it
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _sessions WHERE token=?", (found["sessionToken"],))
    return {}


def refuse_session_write(ctx: Context) -> Any:
    """Sessions are opened by logging in (``login``, ``loginAs``, a signup), never written as objects."""
    raise ProtocolError(119, "Sessions are made by logging in; they cannot be created or changed.", 403)
