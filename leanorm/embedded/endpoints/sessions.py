"""Sessions: who a request's keys and token make its caller, logging in and out, and the session endpoints.

Session tokens are random and live in ``_sessions``; repeated login failures for one account are throttled.
A caller's principals (for ACLs) are its user id and the names of its roles, inherited ones included: a
role listed in another role's ``roles`` relation gets that role's rights, as on Parse Server.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ..access.authz import OBJECT_ID
from ..access.code_limits import counts_failures
from .hooks import user_event
from .objects import record_login
from ..access.one_time_codes import NOBODY, spend
from ..access.passwords import charge_hashing, checked_password, hash_password, is_legacy, verify_password
from ..access.phones import e164, phone_number, user_by_phone
from ..caller import Caller
from ..routing import Context, route
from ..answers import ProtocolError
from .reads import fetch, own_user
from .session_objects import session_id, session_object
from ..storage.store import table
from ..storage.interface import Connection, Store
from ..storage.values import now_iso

__all__ = ["authenticate", "valid_tokens", "ignores_stale_session", "new_session", "logged_in", "user_answer",
           "end_other_sessions", "keep_session", "password_matches"]

SESSION_DAYS = 365
MAX_FAILURES, FAILURE_WINDOW = 5, 15 * 60


def _principals(conn: Connection, store: Store, user_id: str) -> Tuple[str, ...]:
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


def _user_exists(conn: Connection, store: Store, user_id: str) -> bool:
    """Whether a session's user is still stored. A deleted account does not act through a token it
    held, however it went (``DELETE users/<id>``, a batch, ``purge/_User``): LeanCloud keeps accepting
    such a token, Parse Server refuses a session whose user no longer resolves (docs/security.md)."""
    return store.has_class(conn, "_User") and conn.execute(
        f"SELECT 1 FROM {table('_User')} WHERE objectId=?", (user_id,)).fetchone() is not None


def authenticate(store: Store, token: Optional[str], master: bool, tolerant: bool = False) -> Caller:
    """The caller a request's keys and session token make: error 209 for an unknown or expired token,
    or one whose user is gone, unless the request uses the master key or is ``tolerant`` (then the token
    is ignored, as LeanCloud and Parse Server do)."""
    if not token:
        return Caller(master=master)
    with store.read() as conn:
        row = conn.execute("SELECT user_id FROM _sessions WHERE token=? AND expires_at > ?",
                           (token, now_iso())).fetchone()
        if row is not None and not _user_exists(conn, store, row[0]):
            row = None
        if row is None:
            if master or tolerant:
                return Caller(master=master)
            raise ProtocolError(209, "Invalid session token.", 400)
        return Caller(master=master, user_id=row[0], session_token=token,
                      principals=_principals(conn, store, row[0]))


def valid_tokens(store: Store, tokens: Iterable[str]) -> Set[str]:
    """Those of ``tokens`` :func:`authenticate` takes now (a session not expired, whose user is still
    stored), read at once: the live query reader checks its subscriptions' before each batch of changes
    by this same rule (it checked the session row alone, so after ``purge/_User`` a deleted user's
    subscriptions went on hearing what its ACLs granted, while every request with its token was 209)."""
    wanted = sorted(set(tokens))
    if not wanted:
        return set()
    with store.read() as conn:
        rows = conn.execute("SELECT token, user_id FROM _sessions WHERE token IN (SELECT value FROM json_each(?)) "
                            "AND expires_at > ?", (json.dumps(wanted), now_iso())).fetchall()
        stored = {user for user in {user for _, user in rows} if _user_exists(conn, store, user)}
    return {token for token, user in rows if user in stored}


def new_session(ctx: Context, conn: Connection, user_id: str, action: str = "login",
                provider: str = "password") -> str:
    """A new session of ``user_id`` for the request's client: it records the client's installation and
    how it was made (Parse's ``createdWith``: ``action`` signup or login, ``provider`` password, a
    platform of ``authData``, or masterkey). A user has one session per installation, as on Parse
    Server: an earlier one there ends."""
    token = secrets.token_urlsafe(24)
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    if ctx.installation_id is not None:
        conn.execute("DELETE FROM _sessions WHERE user_id=? AND installation_id=?", (user_id, ctx.installation_id))
    conn.execute("INSERT INTO _sessions VALUES (?, ?, ?, ?, ?, ?)",
                 (token, user_id, now_iso(), expires, ctx.installation_id,
                  json.dumps({"action": action, "authProvider": provider})))
    return token


#: an imported token shorter than this is refused: it would be guessable (LeanCloud's have 25 characters,
#: Parse Server's 34)
MIN_IMPORTED_TOKEN = 16


def keep_session(ctx: Context) -> Any:
    """``POST classes/_Session`` with the master key: a session that goes on with the token a user held
    on another server (``leanorm import``: nobody is logged out by a move; Parse Server takes the same
    write). ``{sessionToken, user: Pointer<_User>, expiresAt?}``; without ``expiresAt`` it lasts as a
    new login's does. Sending it again is answered with the same session; a token another user holds
    is 137."""
    if not ctx.caller.master:
        raise ProtocolError(119, "Sessions are opened by logging in: only the master key creates one.", 403)
    body = ctx.json_body()
    token, user, expires = body.get("sessionToken"), body.get("user"), body.get("expiresAt")
    if not (isinstance(token, str) and len(token) >= MIN_IMPORTED_TOKEN and token.isascii() and token.isprintable()
            and " " not in token):
        raise ProtocolError(111, f"sessionToken must be at least {MIN_IMPORTED_TOKEN} printable ASCII characters.")
    if not (isinstance(user, dict) and user.get("__type") == "Pointer" and user.get("className") == "_User"
            and isinstance(user.get("objectId"), str)):
        raise ProtocolError(111, "user must be a Pointer to _User.")
    if expires is None:
        until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    elif isinstance(expires, dict) and expires.get("__type") == "Date" and isinstance(expires.get("iso"), str):
        until = expires["iso"]
    else:
        raise ProtocolError(111, "expiresAt must be a Date.")
    fetch(ctx, "_User", user["objectId"])  # 101 when there is no such user
    with ctx.store.write() as conn:
        held = conn.execute("SELECT user_id, created_at FROM _sessions WHERE token=?", (token,)).fetchone()
        if held is not None and held[0] != user["objectId"]:
            raise ProtocolError(137, "A session with this token exists already.")
        created = held[1] if held is not None else now_iso()
        if held is None:
            conn.execute("INSERT INTO _sessions (token, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                         (token, user["objectId"], created, until))
    return 201, {"objectId": session_id(token), "createdAt": created}


def logged_in(ctx: Context, conn: Connection, user_id: str, provider: str = "password") -> Dict[str, Any]:
    """A login that succeeded (with a password, an SMS code, or ``provider``'s authData): the Engine's
    onLogin hook may still refuse it; else a new session."""
    user_event(ctx, "functions/_User/onLogin", user_id, rejects=True)
    token = new_session(ctx, conn, user_id, provider=provider)
    record_login(ctx, conn, user_id)
    return user_answer(ctx, user_id, token)


def user_answer(ctx: Context, user_id: str, token: str) -> Dict[str, Any]:
    """A user's answer about itself (a login, ``users/me``): its object, read as itself, and its token."""
    return {**own_user(_as_user(ctx, user_id, token)), "sessionToken": token}


def _as_user(ctx: Context, user_id: str, token: Optional[str] = None) -> Context:
    """The request acting as the user a password, code or token just proved."""
    with ctx.store.read() as conn:
        principals = _principals(conn, ctx.store, user_id)
    return dataclasses.replace(ctx, caller=Caller(user_id=user_id, session_token=token, principals=principals))


def _reserve_attempt(conn: Connection, user_id: str) -> None:
    """Count a password attempt on the account before its hash is checked (219 past the limit): in the
    write transaction that reads the count, so attempts sent at once each see the ones before them. The
    account is the key, whatever names it (username, e-mail or phone), so each gives no further guesses."""
    now = time.time()
    conn.execute("DELETE FROM _login_failures WHERE at < ?", (now - FAILURE_WINDOW,))
    if conn.execute("SELECT COUNT(*) FROM _login_failures WHERE login=?", (user_id,)).fetchone()[0] >= MAX_FAILURES:
        raise ProtocolError(219, "Too many failed login attempts: try again later.")
    conn.execute("INSERT INTO _login_failures VALUES (?, ?)", (user_id, now))


def _checked_login(ctx: Context, body: Dict[str, Any]) -> str:
    """The id of the user ``body``'s login (username, email or phone) and password name; every attempt
    counts towards the account's throttle until the password proves right."""
    password = body.get("password")
    for key in ("username", "email", "mobilePhoneNumber"):
        if isinstance(body.get(key), str) and body[key]:
            login_key, login = key, body[key]
            break
    else:
        raise ProtocolError(200, "Username is missing or empty.")
    password = checked_password(password)
    if login_key == "mobilePhoneNumber":  # one spelling per phone: for the lookup and for the throttle
        login = e164(login, ctx.settings.phone_region)
    with ctx.store.read() as conn:
        row = None
        if ctx.store.has_class(conn, "_User"):
            # a number two accounts share (an earlier version's spellings) is 214: the owner is not known
            condition, value = ("u.objectId = ?", user_by_phone(ctx, conn, login)) if login_key == "mobilePhoneNumber" \
                else (f"json_extract(u.data, '$.{login_key}') = ?", login)
            row = conn.execute(f"SELECT u.objectId, p.hash, json_extract(u.data, '$.email'), "
                               f"json_extract(u.data, '$.emailVerified') FROM {table('_User')} u JOIN _passwords p "
                               f"ON p.user_id = u.objectId WHERE {condition}", (value,)).fetchone()
    parse = ctx.dialect == "parse"
    if row is None:
        raise ProtocolError(101, "Invalid username/password.", 404) if parse else \
            ProtocolError(211, "Could not find user.")
    if not password_matches(ctx, row[0], row[1], password):
        raise ProtocolError(101, "Invalid username/password.", 404) if parse else \
            ProtocolError(210, "The username and password mismatch.")
    if ctx.settings.prevent_login_with_unverified_email and row[2] and row[3] != 1:
        raise ProtocolError(205, "User email is not verified.")  # after the password: it tells nothing
    rehashed = hash_password(password) if is_legacy(row[1]) else None  # the backend's own scheme from now on
    if rehashed:
        with ctx.store.write() as conn:
            conn.execute("UPDATE _passwords SET hash=? WHERE user_id=? AND hash=?", (rehashed, row[0], row[1]))
    return str(row[0])


def password_matches(ctx: Context, user_id: str, stored: str, password: str) -> bool:
    """Whether ``password`` is the account's (``stored`` its hash): the one check of a password a client
    sends, for a login as for a password change, under the account's throttle (219 past it) and the
    request's hashing budget. A match clears the account's failures."""
    charge_hashing(ctx)
    with ctx.store.write() as conn:
        _reserve_attempt(conn, user_id)
    if not verify_password(password, stored):
        return False
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _login_failures WHERE login=?", (user_id,))
    return True


@route("POST", r"login")
@counts_failures
def _login(ctx: Context) -> Any:
    """``{mobilePhoneNumber, smsCode}`` logs in with a login code (``sms``); anything else is a password login."""
    body = ctx.json_body()
    if "smsCode" not in body:
        return _login_with_password(ctx)
    phone = phone_number(ctx, body)
    with ctx.store.write() as conn:
        # login codes are sent on the owner's behalf: one sent while another user had the number is not
        # this one's, and for a number nobody has none is pending (603)
        user_id = user_by_phone(ctx, conn, phone) or NOBODY
        spend(ctx, conn, "login", body["smsCode"], phone, user_id)
        return logged_in(ctx, conn, user_id)


def _login_with_password(ctx: Context) -> Any:
    user_id = _checked_login(ctx, ctx.json_body())
    with ctx.store.write() as conn:
        return logged_in(ctx, conn, user_id)


@route("GET", r"verifyPassword")
@route("POST", r"verifyPassword")
def _verify_password(ctx: Context) -> Any:
    """Parse's check of a user's password that opens no session: the user, or error 101."""
    body = ctx.params if ctx.method == "GET" else ctx.json_body()
    return own_user(_as_user(ctx, _checked_login(ctx, dict(body))))


@route("GET", r"sessions/me")
def _current_session(ctx: Context) -> Any:
    token = ctx.caller.session_token
    if not token or ctx.caller.user_id is None:
        raise ProtocolError(209, "Session token required.", 400)
    with ctx.store.read() as conn:
        row = conn.execute("SELECT created_at, expires_at, installation_id, created_with FROM _sessions "
                           "WHERE token=?", (token,)).fetchone()
    return session_object(token, str(ctx.caller.user_id), *row)


@route("GET", r"users/me")
def _me(ctx: Context) -> Any:
    # The official SDK's User.become() sends the token as the ``session_token`` parameter, not a header.
    token = ctx.params.get("session_token")
    caller = authenticate(ctx.store, token, ctx.caller.master, tolerant=True) if token else ctx.caller
    if caller.user_id is None:  # the SDK's is_authenticated() reads LeanCloud's 211 as "not logged in"
        raise ProtocolError(209, "Invalid session token.", 400) if ctx.dialect == "parse" else \
            ProtocolError(211, "Could not find user.", 400)
    return user_answer(ctx, caller.user_id, caller.session_token or "")


@route("POST", r"loginAs")
def _login_as(ctx: Context) -> Any:
    """Parse's ``loginAs``: the master key opens a session for a user (``userId``) without its password,
    as Parse Server does for support and testing; no login hook runs, as on Parse."""
    ctx.require_master()
    user_id = ctx.json_body().get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ProtocolError(162, "userId must not be empty, null, or undefined")
    with ctx.store.write() as conn:
        known = ctx.store.has_class(conn, "_User") and conn.execute(
            f"SELECT 1 FROM {table('_User')} WHERE objectId=?", (user_id,)).fetchone()
        if not known:
            raise ProtocolError(101, "user not found", 404)
        return user_answer(ctx, user_id, new_session(ctx, conn, user_id, provider="masterkey"))


@route("POST", r"logout")
def _logout(ctx: Context) -> Any:
    if ctx.caller.session_token:
        with ctx.store.write() as conn:
            conn.execute("DELETE FROM _sessions WHERE token=?", (ctx.caller.session_token,))
    return {}


def end_other_sessions(ctx: Context, conn: Connection, user_id: str) -> None:
    """A new password ends every session of the user but the one that changed it."""
    conn.execute("DELETE FROM _sessions WHERE user_id=? AND token IS NOT ?", (user_id, ctx.caller.session_token))


@route("PUT", r"users/([^/]+)/refreshSessionToken")
def _refresh_token(ctx: Context) -> Any:
    if ctx.caller.user_id != ctx.args[0] and not ctx.caller.master:
        raise ProtocolError(206, "Only the user can refresh its session token.", 403)
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (ctx.args[0],))
        token = new_session(ctx, conn, ctx.args[0])
    return user_answer(ctx, ctx.args[0], token)
