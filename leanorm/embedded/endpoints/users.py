"""Users: signing up, updating and deleting a user (its password, unique login fields, sessions) and
changing a password.

``classes.CLASS_HANDLERS`` sends ``classes/_User`` writes here (``auth_data`` first, for third-party
accounts); sessions and logging in are ``sessions``.
"""
from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Dict, Optional, Tuple

from ... import legacy_password
from ..access.authz import check_user_write
from .objects import PlannedWrite, plan, remove, save, write, write_options
from ..access.passwords import charge_hashing, checked_password, hash_password, legacy_hash
from ..access.phones import with_stored_number
from ..routing import Context, route
from ..answers import ProtocolError
from .sessions import end_other_sessions, new_session, password_matches, user_answer
from ..storage.store import table
from ..storage.values import canonical
from ..storage.interface import Connection

__all__ = ["signup", "plan_signup", "save_signup", "PlannedSignup", "update_user", "delete_user", "set_user_fields"]

UNIQUE_FIELDS = (("username", 202, "Username has already been taken."),
                 ("email", 203, "Email has already been taken."),
                 ("mobilePhoneNumber", 214, "Mobile phone number has already been taken."))


def _stored_hash(ctx: Context, body: Dict[str, Any], password: Any) -> Optional[str]:
    """What ``_passwords`` keeps for a user write: the legacy hash an import sent (master key only; it
    wins over ``password``, which an import fills with a random one), else ``password`` hashed, else
    None (no change). Takes the legacy field out of ``body``: it is never stored in the document."""
    if legacy_password.FIELD not in body:
        if password is None:
            return None
        checked_password(password)
        charge_hashing(ctx)
        return hash_password(password)
    record = body.pop(legacy_password.FIELD)
    if not ctx.caller.master:
        raise ProtocolError(119, f"{legacy_password.FIELD} can be written with the master key only.", 403)
    if not legacy_password.is_record(record):
        raise ProtocolError(111, f"{legacy_password.FIELD} must be {{scheme: {legacy_password.SCHEME!r}, "
                                 "hash, salt}.")
    return legacy_hash(record)


def _check_unique(ctx: Context, conn: Connection, body: Dict[str, Any], user_id: Optional[str]) -> None:
    if not ctx.store.has_class(conn, "_User"):
        return
    for name, code, message in UNIQUE_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value:
            hit = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, '$.{name}') = ? "
                               "AND objectId IS NOT ?", (value, user_id)).fetchone()
            if hit:
                raise ProtocolError(code, message)


def set_user_fields(ctx: Context, user_id: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    """Write fields of a user as the backend itself (a code or a verified account was the proof of the
    right to do it); returns the write's answer."""
    return write(ctx.as_master(), "_User", user_id, fields)[1]


@dataclasses.dataclass
class PlannedSignup:
    """A signup checked, its password hashed and its before hook run (:func:`plan_signup`): what
    :func:`save_signup` writes in a transaction, before :meth:`PlannedWrite.finish` runs the after hook."""

    write: PlannedWrite
    hashed: Optional[str]


def signup(ctx: Context) -> Any:
    """A new user with its password and first session, in one transaction; the hooks outside it (a hook
    may take seconds or write through the server, and every writer waits for a user write's lock)."""
    planned = plan_signup(ctx)
    with ctx.store.write() as conn:
        answer = save_signup(ctx, conn, planned)
    planned.write.finish(ctx)
    return answer


def plan_signup(ctx: Context) -> PlannedSignup:
    """Everything of a signup that holds no lock: its checks, the password's hash, the before hook."""
    body = with_stored_number(ctx, dict(ctx.json_body()))
    password = body.pop("password", None)
    if not isinstance(body.get("username"), str) or not body["username"]:
        raise ProtocolError(200, "Username is missing or empty.")
    if legacy_password.FIELD not in body:
        password = checked_password(password)
    if body.get("email") is not None and (not isinstance(body["email"], str) or "@" not in body["email"]):
        raise ProtocolError(125, "The email address was invalid.")
    body = check_user_write(ctx, {}, body)
    hashed = _stored_hash(ctx, body, password)  # slow on purpose: outside the write lock
    return PlannedSignup(plan(ctx, "_User", None, body), hashed)


def save_signup(ctx: Context, conn: Connection, planned: PlannedSignup) -> Tuple[int, Dict[str, Any]]:
    """Write a planned signup in ``conn``'s transaction: the user, its ACL, password and session."""
    body = planned.write.body
    _check_unique(ctx, conn, body, None)
    status, answer = save(ctx, planned.write)
    user_id = answer["objectId"]
    if "ACL" not in body:
        conn.execute(f"UPDATE {table('_User')} SET acl=? WHERE objectId=?",
                     (f'{{"*":{{"read":true}},"{user_id}":{{"read":true,"write":true}}}}', user_id))
    elif ctx.dialect == "parse" and isinstance(body["ACL"], dict):
        # Parse Server gives a new user read and write on itself whatever ACL its signup names: else a
        # signup with {"*": {"read": true}} made a user who could never change its own fields
        conn.execute(f"UPDATE {table('_User')} SET acl=? WHERE objectId=?",
                     (canonical({**body["ACL"], user_id: {"read": True, "write": True}}), user_id))
    conn.execute("INSERT INTO _passwords VALUES (?, ?)", (user_id, planned.hashed))
    links = body.get("authData")
    provider = next(iter(links), "password") if isinstance(links, dict) else "password"
    token = new_session(ctx, conn, user_id, action="signup", provider=provider)
    _send_verification(ctx, body.get("email"))
    return 201, {**answer, "sessionToken": token}


def _send_verification(ctx: Context, email: Any) -> None:
    """The verification mail of a new address, when the server verifies emails (``verify_user_emails``)."""
    if ctx.settings.verify_user_emails and isinstance(email, str) and email:
        ctx.deliver("email", email, "email_verify", code=secrets.token_urlsafe(16))


def update_user(ctx: Context) -> Any:
    """A user's fields (and password) written, its hooks run outside the write's transaction."""
    body = with_stored_number(ctx, dict(ctx.json_body()))
    hashed = _stored_hash(ctx, body, body.pop("password", None))
    where, fetch_when_save = write_options(ctx)
    user_id = ctx.args[0]
    with ctx.store.read() as conn:
        body = check_user_write(ctx, _stored_addresses(ctx, conn, user_id), body)
    planned = plan(ctx, "_User", user_id, body, where, fetch_when_save)
    with ctx.store.write() as conn:
        _check_unique(ctx, conn, planned.body, user_id)
        stored = _stored_addresses(ctx, conn, user_id)
        # what changed meanwhile decides too: an address the write changes is no longer verified
        planned.body = check_user_write(ctx.as_master(), stored, planned.body)
        answer = save(ctx, planned)
        if "email" in planned.body and planned.body["email"] != stored.get("email"):
            _send_verification(ctx, planned.body["email"])
        if hashed:
            conn.execute("INSERT OR REPLACE INTO _passwords VALUES (?, ?)", (user_id, hashed))
            end_other_sessions(ctx, conn, user_id)
    planned.finish(ctx)
    return answer


def _stored_addresses(ctx: Context, conn: Connection, user_id: str) -> Dict[str, Any]:
    """The stored email and phone number of a user (empty when there is none: the write answers 101)."""
    if not ctx.store.has_class(conn, "_User"):
        return {}
    row = conn.execute(f"SELECT json_extract(data, '$.email'), json_extract(data, '$.mobilePhoneNumber') "
                       f"FROM {table('_User')} WHERE objectId=?", (user_id,)).fetchone()
    return {"email": row[0], "mobilePhoneNumber": row[1]} if row else {}


def delete_user(ctx: Context) -> Any:
    remove(ctx, "_User", ctx.args[0], ctx.json_param("where"), ctx.json_body())
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (ctx.args[0],))
        conn.execute("DELETE FROM _passwords WHERE user_id=?", (ctx.args[0],))
    return {}


@route("PUT", r"users/([^/]+)/updatePassword")
def _update_password(ctx: Context) -> Any:
    body = ctx.json_body()
    old, new = body.get("old_password"), body.get("new_password")
    if ctx.caller.user_id != ctx.args[0] and not ctx.caller.master:
        raise ProtocolError(206, "Only the user can change its password; log in first.", 403)
    new = checked_password(new)
    with ctx.store.read() as conn:
        row = conn.execute("SELECT hash FROM _passwords WHERE user_id=?", (ctx.args[0],)).fetchone()
    # the old password is checked like a login's (a stolen session guessed it without limit, then changed it)
    if row is None or not isinstance(old, str) or not password_matches(ctx, ctx.args[0], row[0], old):
        raise ProtocolError(210, "The username and password mismatch.")
    charge_hashing(ctx)
    hashed = hash_password(new)
    with ctx.store.write() as conn:
        conn.execute("UPDATE _passwords SET hash=? WHERE user_id=?", (hashed, ctx.args[0]))
        end_other_sessions(ctx, conn, ctx.args[0])
    return user_answer(ctx, ctx.args[0], ctx.caller.session_token or "")
