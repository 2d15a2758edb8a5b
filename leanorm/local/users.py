"""Users, sessions and roles of the embedded backend.

Passwords are hashed with scrypt and a random salt (never stored in the user's document); a user
imported from LeanCloud keeps LeanCloud's hash (written once with the master key as
``legacyPassword``, see :mod:`leanorm.legacy_password`) until its first login, which stores the
password under scrypt; no hash, of either scheme, is ever in an answer. Session
tokens are random and live in ``_sessions``; repeated login failures for one login are throttled. A
caller's principals (for ACLs) are its user id and the names of its roles, inherited ones included: a
role listed in another role's ``roles`` relation gets that role's rights, as on Parse Server.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import legacy_password
from .authz import OBJECT_ID, check_user_write
from .hooks import user_event
from .objects import remove, write, write_options
from .protocol import Caller, Context, ProtocolError, route
from .reads import fetch
from .store import Store, table
from .values import now_iso

__all__ = ["authenticate", "ignores_stale_session", "hash_password", "verify_password"]

SESSION_DAYS = 365
MAX_FAILURES, FAILURE_WINDOW = 5, 15 * 60
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
UNIQUE_FIELDS = (("username", 202, "Username has already been taken."),
                 ("email", 203, "Email has already been taken."),
                 ("mobilePhoneNumber", 214, "Mobile phone number has already been taken."))


def checked_password(password: Any) -> str:
    """A password a client sent: a non-empty string, else error 201."""
    if not isinstance(password, str) or not password:
        raise ProtocolError(201, "Password is missing or empty.")
    return password


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


def _principals(conn: sqlite3.Connection, store: Store, user_id: str) -> Tuple[str, ...]:
    roles = {r for (r,) in conn.execute(
        "SELECT owner_id FROM _relations WHERE owner_class='_Role' AND key='users' AND target_id=?", (user_id,))}
    frontier = set(roles)
    while frontier:
        marks = ", ".join("?" * len(frontier))
        parents = {r for (r,) in conn.execute(
            f"SELECT owner_id FROM _relations WHERE owner_class='_Role' AND key='roles' AND target_id IN ({marks})",
            tuple(frontier))}
        frontier = parents - roles
        roles |= frontier
    names: List[str] = []
    if roles and store.has_class(conn, "_Role"):
        marks = ", ".join("?" * len(roles))
        names = [n for (n,) in conn.execute(
            f"SELECT json_extract(data, '$.name') FROM {table('_Role')} WHERE objectId IN ({marks})", tuple(roles))]
    # an id that could read as another principal (stored before ids were checked) grants nothing by itself
    own = (user_id,) if OBJECT_ID.match(user_id) else ()
    return ("*", *own, *(f"role:{n}" for n in names if n))


#: requests that start or look up a session: a token left over from a deleted or logged-out user is
#: ignored there (LeanCloud's SDKs keep sending the old current user's token until they log in again)
_STARTS_SESSION = {("POST", "login"), ("POST", "users"), ("POST", "classes/_User"), ("GET", "users/me"),
                   ("POST", "usersByMobilePhone")}


def ignores_stale_session(dialect: str, method: str, path: str) -> bool:
    """Whether an unknown session token on ``method path`` is ignored rather than refused (209)."""
    return dialect == "leancloud" and (method, path.strip("/")) in _STARTS_SESSION


def authenticate(store: Store, token: Optional[str], master: bool, tolerant: bool = False) -> Caller:
    """The caller a request's keys and session token make: error 209 for an unknown or expired token,
    unless the request uses the master key or is ``tolerant`` (then the token is ignored, as LeanCloud
    and Parse Server do)."""
    if not token:
        return Caller(master=master)
    with store.read() as conn:
        row = conn.execute("SELECT user_id FROM _sessions WHERE token=? AND expires_at > ?",
                           (token, now_iso())).fetchone()
        if row is None:
            if master or tolerant:
                return Caller(master=master)
            raise ProtocolError(209, "Invalid session token.", 400)
        return Caller(master=master, user_id=row[0], session_token=token,
                      principals=_principals(conn, store, row[0]))


def _new_session(conn: sqlite3.Connection, user_id: str) -> str:
    token = secrets.token_urlsafe(24)
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    conn.execute("INSERT INTO _sessions VALUES (?, ?, ?, ?)", (token, user_id, now_iso(), expires))
    return token


def _stored_hash(ctx: Context, body: Dict[str, Any], password: Any) -> Optional[str]:
    """What ``_passwords`` keeps for a user write: the legacy hash an import sent (master key only; it
    wins over ``password``, which an import fills with a random one), else ``password`` hashed, else
    None (no change). Takes the legacy field out of ``body``: it is never stored in the document."""
    if legacy_password.FIELD not in body:
        return None if password is None else hash_password(checked_password(password))
    record = body.pop(legacy_password.FIELD)
    if not ctx.caller.master:
        raise ProtocolError(119, f"{legacy_password.FIELD} can be written with the master key only.", 403)
    if not legacy_password.is_record(record):
        raise ProtocolError(111, f"{legacy_password.FIELD} must be {{scheme: {legacy_password.SCHEME!r}, "
                                 "hash, salt}.")
    return legacy_hash(record)


def _check_unique(ctx: Context, conn: sqlite3.Connection, body: Dict[str, Any], user_id: Optional[str]) -> None:
    if not ctx.store.has_class(conn, "_User"):
        return
    for name, code, message in UNIQUE_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value:
            hit = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, '$.{name}') = ? "
                               "AND objectId IS NOT ?", (value, user_id)).fetchone()
            if hit:
                raise ProtocolError(code, message)


def logged_in(ctx: Context, conn: sqlite3.Connection, user_id: str) -> Dict[str, Any]:
    """A login that succeeded: the Engine's onLogin hook may still refuse it; else a new session."""
    user_event(ctx, "functions/_User/onLogin", user_id, rejects=True)
    return _user_answer(ctx, user_id, _new_session(conn, user_id))


def _user_answer(ctx: Context, user_id: str, token: str) -> Dict[str, Any]:
    return {**fetch(ctx.server.master_context(ctx), "_User", user_id), "sessionToken": token}


def _signup(ctx: Context) -> Any:
    body = dict(ctx.json_body())
    password = body.pop("password", None)
    if not isinstance(body.get("username"), str) or not body["username"]:
        raise ProtocolError(200, "Username is missing or empty.")
    if legacy_password.FIELD not in body:
        password = checked_password(password)
    if body.get("email") is not None and (not isinstance(body["email"], str) or "@" not in body["email"]):
        raise ProtocolError(125, "The email address was invalid.")
    body = check_user_write(ctx, {}, body)
    hashed = _stored_hash(ctx, body, password)  # slow on purpose: outside the write lock
    with ctx.store.write() as conn:
        _check_unique(ctx, conn, body, None)
        status, answer = write(ctx, "_User", None, body)
        user_id = answer["objectId"]
        if "ACL" not in body:
            conn.execute(f"UPDATE {table('_User')} SET acl=? WHERE objectId=?",
                         (f'{{"*":{{"read":true}},"{user_id}":{{"read":true,"write":true}}}}', user_id))
        conn.execute("INSERT INTO _passwords VALUES (?, ?)", (user_id, hashed))
        token = _new_session(conn, user_id)
    return 201, {**answer, "sessionToken": token}


def _throttled(conn: sqlite3.Connection, login: str) -> bool:
    since = time.time() - FAILURE_WINDOW
    conn.execute("DELETE FROM _login_failures WHERE at < ?", (since,))
    return conn.execute("SELECT COUNT(*) FROM _login_failures WHERE login=?", (login,)).fetchone()[0] >= MAX_FAILURES


def _checked_login(ctx: Context, body: Dict[str, Any]) -> str:
    """The id of the user ``body``'s login (username, email or phone) and password name; a wrong
    password counts towards the throttle."""
    password = body.get("password")
    for key in ("username", "email", "mobilePhoneNumber"):
        if isinstance(body.get(key), str) and body[key]:
            login_key, login = key, body[key]
            break
    else:
        raise ProtocolError(200, "Username is missing or empty.")
    password = checked_password(password)
    with ctx.store.read() as conn:
        row = None
        if ctx.store.has_class(conn, "_User"):
            row = conn.execute(f"SELECT u.objectId, p.hash FROM {table('_User')} u JOIN _passwords p "
                               f"ON p.user_id = u.objectId WHERE json_extract(u.data, '$.{login_key}') = ?",
                               (login,)).fetchone()
    parse = ctx.dialect == "parse"
    with ctx.store.write() as conn:
        if _throttled(conn, login):
            raise ProtocolError(219, "Too many failed login attempts: try again later.")
    if row is None:
        raise ProtocolError(101, "Invalid username/password.", 404) if parse else \
            ProtocolError(211, "Could not find user.")
    if not verify_password(password, row[1]):
        with ctx.store.write() as conn:
            conn.execute("INSERT INTO _login_failures VALUES (?, ?)", (login, time.time()))
        raise ProtocolError(101, "Invalid username/password.", 404) if parse else \
            ProtocolError(210, "The username and password mismatch.")
    rehashed = hash_password(password) if is_legacy(row[1]) else None  # the backend's own scheme from now on
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _login_failures WHERE login=?", (login,))
        if rehashed:
            conn.execute("UPDATE _passwords SET hash=? WHERE user_id=? AND hash=?", (rehashed, row[0], row[1]))
    return str(row[0])


def login_with_password(ctx: Context) -> Any:
    user_id = _checked_login(ctx, ctx.json_body())
    with ctx.store.write() as conn:
        return logged_in(ctx, conn, user_id)


@route("GET", r"verifyPassword")
@route("POST", r"verifyPassword")
def _verify_password(ctx: Context) -> Any:
    """Parse's check of a user's password that opens no session: the user, or error 101."""
    body = ctx.params if ctx.method == "GET" else ctx.json_body()
    return fetch(ctx.server.master_context(ctx), "_User", _checked_login(ctx, dict(body)))


@route("GET", r"sessions/me")
def _current_session(ctx: Context) -> Any:
    """The caller's session as Parse's ``_Session`` object (the embedded backend keeps sessions in a
    table of its own: the objectId is derived from the token)."""
    token = ctx.caller.session_token
    if not token:
        raise ProtocolError(209, "Session token required.", 400)
    with ctx.store.read() as conn:
        created, expires = conn.execute("SELECT created_at, expires_at FROM _sessions WHERE token=?",
                                        (token,)).fetchone()
    return {"objectId": hashlib.sha256(token.encode()).hexdigest()[:24], "sessionToken": token,
            "user": {"__type": "Pointer", "className": "_User", "objectId": ctx.caller.user_id},
            "createdWith": {"action": "login", "authProvider": "password"}, "restricted": False,
            "expiresAt": {"__type": "Date", "iso": expires}, "createdAt": created, "updatedAt": created}


@route("GET", r"users/me")
def _me(ctx: Context) -> Any:
    # The official SDK's User.become() sends the token as the ``session_token`` parameter, not a header.
    token = ctx.params.get("session_token")
    caller = authenticate(ctx.store, token, ctx.caller.master, tolerant=True) if token else ctx.caller
    if caller.user_id is None:  # the SDK's is_authenticated() reads LeanCloud's 211 as "not logged in"
        raise ProtocolError(209, "Invalid session token.", 400) if ctx.dialect == "parse" else \
            ProtocolError(211, "Could not find user.", 400)
    return _user_answer(ctx, caller.user_id, caller.session_token or "")


@route("POST", r"logout")
def _logout(ctx: Context) -> Any:
    if ctx.caller.session_token:
        with ctx.store.write() as conn:
            conn.execute("DELETE FROM _sessions WHERE token=?", (ctx.caller.session_token,))
    return {}


def _update_user(ctx: Context) -> Any:
    body = dict(ctx.json_body())
    hashed = _stored_hash(ctx, body, body.pop("password", None))
    where, fetch_when_save = write_options(ctx)
    with ctx.store.write() as conn:
        _check_unique(ctx, conn, body, ctx.args[0])
        body = check_user_write(ctx, _stored_addresses(ctx, conn, ctx.args[0]), body)
        answer = write(ctx, "_User", ctx.args[0], body, where, fetch_when_save)
        if hashed:
            conn.execute("INSERT OR REPLACE INTO _passwords VALUES (?, ?)", (ctx.args[0], hashed))
            _end_other_sessions(ctx, conn, ctx.args[0])
    return answer


def _stored_addresses(ctx: Context, conn: sqlite3.Connection, user_id: str) -> Dict[str, Any]:
    """The stored email and phone number of a user (empty when there is none: the write answers 101)."""
    if not ctx.store.has_class(conn, "_User"):
        return {}
    row = conn.execute(f"SELECT json_extract(data, '$.email'), json_extract(data, '$.mobilePhoneNumber') "
                       f"FROM {table('_User')} WHERE objectId=?", (user_id,)).fetchone()
    return {"email": row[0], "mobilePhoneNumber": row[1]} if row else {}


def _end_other_sessions(ctx: Context, conn: sqlite3.Connection, user_id: str) -> None:
    """A new password ends every session of the user but the one that changed it."""
    conn.execute("DELETE FROM _sessions WHERE user_id=? AND token IS NOT ?", (user_id, ctx.caller.session_token))


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
    if row is None or not isinstance(old, str) or not verify_password(old, row[0]):
        raise ProtocolError(210, "The username and password mismatch.")
    hashed = hash_password(new)
    with ctx.store.write() as conn:
        conn.execute("UPDATE _passwords SET hash=? WHERE user_id=?", (hashed, ctx.args[0]))
        _end_other_sessions(ctx, conn, ctx.args[0])
    return _user_answer(ctx, ctx.args[0], ctx.caller.session_token or "")


@route("PUT", r"users/([^/]+)/refreshSessionToken")
def _refresh_token(ctx: Context) -> Any:
    if ctx.caller.user_id != ctx.args[0] and not ctx.caller.master:
        raise ProtocolError(206, "Only the user can refresh its session token.", 403)
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (ctx.args[0],))
        token = _new_session(conn, ctx.args[0])
    return _user_answer(ctx, ctx.args[0], token)


#: the e-mails a client can ask for, by endpoint (LeanCloud's names, and Parse's for verification)
MAIL_PURPOSES = {"requestPasswordReset": "password_reset", "requestEmailVerify": "email_verify",
                 "verificationEmailRequest": "email_verify"}


@route("POST", r"(requestPasswordReset|requestEmailVerify|verificationEmailRequest)")
def _mail(ctx: Context) -> Any:
    purpose = MAIL_PURPOSES[ctx.args[0]]
    email = ctx.json_body().get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ProtocolError(125, "The email address was invalid.")
    with ctx.store.read() as conn:
        known = ctx.store.has_class(conn, "_User") and conn.execute(
            f"SELECT 1 FROM {table('_User')} WHERE json_extract(data, '$.email') = ?", (email,)).fetchone()
    if not known:
        raise ProtocolError(205, f"No user found with email {email}.")
    ctx.server.deliver("email", email, purpose, code=secrets.token_urlsafe(16))
    return {}

