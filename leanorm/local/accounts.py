"""Accounts beyond username and password: SMS codes, captchas, third-party accounts and friendship.

Nothing is ever sent: every SMS code and captcha goes to the server's outbox (``LocalServer.outbox``)
where tests and developers read it. Codes are 6 digits, live ``CODE_TTL`` seconds in ``_codes`` and are
good for one use; a code is bound to its purpose (a login code cannot reset a password). A number
without ``+`` is read as a Chinese one (``+86``), as LeanCloud does, so ``138...`` and ``+86138...``
name the same phone.

Third-party accounts live in the user's ``authData`` (``{platform: {uid|openid|id: ..., ...}}``); one
platform account belongs to one user (208 otherwise). Friendship is LeanCloud's: following writes a
``_Followee`` row (``user`` follows ``followee``) and its mirror ``_Follower`` row, both public-read and
written only by the backend.
"""
from __future__ import annotations

import base64
import dataclasses
import re
import secrets
import sqlite3
import string
import time
from typing import Any, Dict, Iterable, Optional, Tuple

from .objects import remove, write
from .protocol import Context, ProtocolError, dumps, route
from .reads import fetch, list_answer, query
from .store import json_path, table
from .code_limits import WrongCode, check_allowed, counts_failures
from . import verifiers
from .hooks import ON_AUTH_DATA, auth_data, user_event
from .passwords import checked_password, hash_password
from .sessions import logged_in, login_with_password, user_answer
from .users import signup, update_user

__all__ = ["CODE_TTL"]

CODE_TTL = 10 * 60
VALIDATE_TTL = 10 * 60
PHONE = re.compile(r"\+?[0-9]{5,20}\Z")
#: where a platform's user id sits in its authData (LeanCloud: ``uid``; weixin/qq: ``openid``;
#: ``anonymous``: ``id``)
UID_KEYS = ("uid", "openid", "id")
_CAPTCHA_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1I")


# -- codes -------------------------------------------------------------------------------------------------
def _phone(body: Dict[str, Any]) -> str:
    phone = body.get("mobilePhoneNumber")
    if not isinstance(phone, str) or not phone:
        raise ProtocolError(212, "The mobile phone number is missing.")
    if not PHONE.match(phone):
        raise ProtocolError(127, "The mobile phone number was invalid.")
    return phone


def _e164(phone: str) -> str:
    return phone if phone.startswith("+") else "+86" + phone


def _issue(ctx: Context, recipient: str, purpose: str, ttl: float = CODE_TTL, kind: str = "sms",
           code: Optional[str] = None, extra: Optional[Dict[str, Any]] = None) -> str:
    """Store a new one-time code (replacing the recipient's previous one for that purpose) and put it in
    the outbox. Codes are unique per purpose, so endpoints that get only the code find its recipient."""
    with ctx.store.write() as conn:
        if kind == "sms" and ctx.server.sms_interval > 0:
            since = time.time() - ctx.server.sms_interval
            if conn.execute("SELECT 1 FROM _codes WHERE recipient=? AND purpose=? AND expires_at - ? > ?",
                            (recipient, purpose, ttl, since)).fetchone():
                raise ProtocolError(601, "SMS codes for this number were asked for too often: wait a minute.")
        while code is None or conn.execute("SELECT 1 FROM _codes WHERE purpose=? AND code=? AND recipient<>?",
                                           (purpose, code, recipient)).fetchone():
            code = f"{secrets.randbelow(10 ** 6):06d}"
        conn.execute("INSERT OR REPLACE INTO _codes VALUES (?, ?, ?, ?)", (recipient, purpose, code, time.time() + ttl))
    ctx.server.deliver(kind, recipient, purpose, code=code, body=extra)
    return code


def _consume(ctx: Context, conn: sqlite3.Connection, purpose: str, code: Any, recipient: Optional[str] = None,
             message: str = "Invalid SMS code.") -> str:
    """Use up a code: returns its recipient; 603 when it is wrong, expired or used (the endpoint counts
    that failure: ``code_limits.counts_failures``); 219 after too many wrong guesses."""
    check_allowed(ctx, conn, purpose, recipient)
    if not isinstance(code, str) or not code:
        raise WrongCode(message, purpose, recipient)
    sql = "SELECT recipient, code FROM _codes WHERE purpose=? AND expires_at > ?"
    args: Tuple[Any, ...] = (purpose, time.time())
    if recipient is not None:
        sql, args = sql + " AND recipient=?", args + (recipient,)
    for found, stored in conn.execute(sql, args).fetchall():
        if secrets.compare_digest(stored.upper().encode(), code.upper().encode()):
            conn.execute("DELETE FROM _codes WHERE recipient=? AND purpose=?", (found, purpose))
            return found
    raise WrongCode(message, purpose, recipient)


def _user_by_phone(ctx: Context, conn: sqlite3.Connection, phone: str) -> Optional[str]:
    if not ctx.store.has_class(conn, "_User"):
        return None
    row = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, '$.mobilePhoneNumber') "
                       "IN (?, ?, ?)", (phone, _e164(phone), phone[3:] if phone.startswith("+86") else phone)
                       ).fetchone()
    return row[0] if row else None


def _known_phone(ctx: Context, phone: str) -> str:
    with ctx.store.read() as conn:
        user_id = _user_by_phone(ctx, conn, phone)
    if user_id is None:
        raise ProtocolError(213, "Could not find user with that mobile phone number.")
    return user_id


def _signed_in_user(ctx: Context) -> str:
    if ctx.caller.user_id is None:
        raise ProtocolError(206, "This needs a logged-in user (a session token).", 403)
    return ctx.caller.user_id


def _set_user(ctx: Context, user_id: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    """Write fields of a user as the backend itself (codes were the proof of the right to do it)."""
    return write(ctx.server.master_context(ctx), "_User", user_id, fields)[1]


def _with_body(ctx: Context, body: Dict[str, Any]) -> Context:
    """The same request with another JSON body (to hand a rewritten body to the users endpoints)."""
    return dataclasses.replace(ctx, raw_body=dumps(body).encode("utf-8"), _body=None, _parsed=False)


@route("POST", r"requestSmsCode")
@counts_failures
def _request_sms_code(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = _phone(body)
    token = body.get("validate_token")
    if token is not None:
        with ctx.store.write() as conn:
            _consume(ctx, conn, "captcha_validated", token, token, "Invalid or used captcha validate_token.")
    _issue(ctx, _e164(phone), "sms", kind="voice" if body.get("smsType") == "voice" else "sms",
           extra={k: v for k, v in body.items() if k not in ("mobilePhoneNumber", "validate_token")})
    return {}


@route("POST", r"verifySmsCode/([^/]+)")
@counts_failures
def _verify_sms_code(ctx: Context) -> Any:
    # the number travels in the body (SDKs) or in the query string (LeanCloud's REST guide)
    phone = _phone({"mobilePhoneNumber": ctx.json_body().get("mobilePhoneNumber") or
                    ctx.params.get("mobilePhoneNumber")})
    with ctx.store.write() as conn:
        _consume(ctx, conn, "sms", ctx.args[0], _e164(phone))
    return {}


@route("POST", r"usersByMobilePhone")
@counts_failures
def _users_by_mobile_phone(ctx: Context) -> Any:
    body = dict(ctx.json_body())
    phone = _phone(body)
    code = body.pop("smsCode", None)
    with ctx.store.write() as conn:
        _consume(ctx, conn, "sms", code, _e164(phone))
        user_id = _user_by_phone(ctx, conn, phone)
        if user_id is not None:
            _set_user(ctx, user_id, {"mobilePhoneVerified": True})
            return logged_in(ctx, conn, user_id)
    # no password means none can log in with (LeanCloud's empty password): an unguessable one
    body.setdefault("username", phone)
    body.setdefault("password", secrets.token_urlsafe(32))
    _, created = signup(_with_body(ctx, body))
    _set_user(ctx, created["objectId"], {"mobilePhoneVerified": True})
    return 201, user_answer(ctx, created["objectId"], created["sessionToken"])


def _code_to_known_phone(purpose: str) -> Any:
    """An endpoint sending a ``purpose`` code to the number of an existing user."""
    def handler(ctx: Context) -> Any:
        phone = _phone(ctx.json_body())
        _known_phone(ctx, phone)
        _issue(ctx, _e164(phone), purpose)
        return {}
    return handler


for _path, _purpose in (("requestMobilePhoneVerify", "verify_phone"),
                        ("requestPasswordResetBySmsCode", "password_reset"),
                        ("requestLoginSmsCode", "login")):
    route("POST", _path)(_code_to_known_phone(_purpose))


@route("POST", r"verifyMobilePhone/([^/]+)")
@counts_failures
def _verify_phone(ctx: Context) -> Any:
    with ctx.store.write() as conn:
        phone = _consume(ctx, conn, "verify_phone", ctx.args[0])
        user_id = _user_by_phone(ctx, conn, phone)
        if user_id is None:  # the number changed since the code was sent
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        answer = _set_user(ctx, user_id, {"mobilePhoneVerified": True})
    user_event(ctx, "functions/onVerified/sms", user_id, rejects=False)
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}


@route("PUT", r"resetPasswordBySmsCode/([^/]+)")
@counts_failures
def _reset_by_sms(ctx: Context) -> Any:
    body = ctx.json_body()
    password = checked_password(body.get("password"))
    phone = _e164(_phone(body))  # needed: a code alone would match any user's pending reset
    hashed = hash_password(password)  # slow on purpose: outside the write lock
    with ctx.store.write() as conn:
        phone = _consume(ctx, conn, "password_reset", ctx.args[0], phone)
        user_id = _user_by_phone(ctx, conn, phone)
        if user_id is None:
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        conn.execute("INSERT OR REPLACE INTO _passwords VALUES (?, ?)", (user_id, hashed))
        # LeanCloud gives the user a new session token after a reset: the old ones end
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (user_id,))
        _set_user(ctx, user_id, {"mobilePhoneVerified": True})
    return {}


@route("POST", r"login")
@counts_failures
def _login_by_code(ctx: Context) -> Any:
    """``{mobilePhoneNumber, smsCode}`` logs in with a login code; anything else is a password login."""
    body = ctx.json_body()
    if "smsCode" not in body:
        return login_with_password(ctx)
    phone = _phone(body)
    with ctx.store.write() as conn:
        _consume(ctx, conn, "login", body["smsCode"], _e164(phone))
        user_id = _user_by_phone(ctx, conn, phone)
        if user_id is None:
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        return logged_in(ctx, conn, user_id)


def _phone_taken(ctx: Context, conn: sqlite3.Connection, phone: str, user_id: str) -> None:
    owner = _user_by_phone(ctx, conn, phone)
    if owner is not None and owner != user_id:
        raise ProtocolError(214, "Mobile phone number has already been taken.")


@route("POST", r"requestChangePhoneNumber")
def _request_change_phone(ctx: Context) -> Any:
    user_id = _signed_in_user(ctx)
    phone = _phone(ctx.json_body())
    with ctx.store.read() as conn:
        _phone_taken(ctx, conn, phone, user_id)
    # bound to the user who asked: nobody else can spend the code on their own account
    _issue(ctx, _e164(phone), f"change_phone:{user_id}")
    return {}


def _pending_change_code(ctx: Context, phone: str, code: Any) -> bool:
    """Whether ``code`` is a live change-of-number code sent to ``phone`` (for any user; not used up)."""
    with ctx.store.read() as conn:
        rows = conn.execute("SELECT code FROM _codes WHERE purpose LIKE 'change\\_phone:%' ESCAPE '\\' "
                            "AND recipient=? AND expires_at > ?", (_e164(phone), time.time())).fetchall()
    return isinstance(code, str) and any(secrets.compare_digest(c.upper().encode(), code.upper().encode())
                                         for (c,) in rows)


@route("POST", r"changePhoneNumber")
@counts_failures
def _change_phone(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = _phone(body)
    if ctx.caller.user_id is None and not _pending_change_code(ctx, phone, body.get("code")):
        raise ProtocolError(603, "Invalid SMS code.")  # LeanCloud checks the code before the session
    user_id = _signed_in_user(ctx)
    with ctx.store.write() as conn:
        _consume(ctx, conn, f"change_phone:{user_id}", body.get("code"), _e164(phone))
        _phone_taken(ctx, conn, phone, user_id)
        answer = _set_user(ctx, user_id, {"mobilePhoneNumber": phone, "mobilePhoneVerified": True})
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}


# -- captcha -----------------------------------------------------------------------------------------------
def _int(ctx: Context, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(ctx.params.get(name) or default)
    except ValueError:
        raise ProtocolError(1, f"{name} must be an integer.") from None
    return min(max(value, low), high)


def _captcha_image(code: str, width: int, height: int) -> str:
    """The captcha as a self-contained SVG ``data:`` URL (there is no image service to link to)."""
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
           f'<rect width="100%" height="100%" fill="#eee"/><text x="50%" y="65%" font-size="{height // 2}" '
           f'text-anchor="middle" font-family="monospace">{code}</text></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@route("GET", r"requestCaptcha")
def _request_captcha(ctx: Context) -> Any:
    size = _int(ctx, "size", 4, 3, 6)
    ttl = _int(ctx, "ttl", 60, 10, 180)
    token = "captcha:" + secrets.token_urlsafe(16)
    code = "".join(secrets.choice(_CAPTCHA_ALPHABET) for _ in range(size))
    _issue(ctx, token, "captcha", ttl, kind="captcha", code=code)
    return {"captcha_token": token,
            "captcha_url": _captcha_image(code, _int(ctx, "width", 85, 60, 200), _int(ctx, "height", 30, 20, 100))}


@route("POST", r"verifyCaptcha")
@counts_failures
def _verify_captcha(ctx: Context) -> Any:
    body = ctx.json_body()
    token = body.get("captcha_token")
    if not isinstance(token, str):
        raise ProtocolError(603, "Invalid captcha code.")
    validate_token = secrets.token_urlsafe(24)
    with ctx.store.write() as conn:
        _consume(ctx, conn, "captcha", body.get("captcha_code"), token, "Invalid captcha code.")
        conn.execute("INSERT INTO _codes VALUES (?, ?, ?, ?)",
                     (validate_token, "captcha_validated", validate_token, time.time() + VALIDATE_TTL))
    return {"validate_token": validate_token}


# -- third-party accounts (authData) -------------------------------------------------------------------------
def _uid(platform: str, data: Any) -> Tuple[str, str]:
    """The key and value of the platform's user id in its authData."""
    if isinstance(data, dict):
        for key in UID_KEYS:
            if isinstance(data.get(key), str) and data[key]:
                return key, data[key]
    raise ProtocolError(1, f"authData.{platform} needs the platform's user id under one of {', '.join(UID_KEYS)}.")


def _linked_user(ctx: Context, conn: sqlite3.Connection, platform: str, data: Any) -> Optional[str]:
    key, uid = _uid(platform, data)
    if not ctx.store.has_class(conn, "_User"):
        return None
    row = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, "
                       f"{json_path('authData', platform, key)}) = ?", (uid,)).fetchone()
    return row[0] if row else None


def _check_links(ctx: Context, conn: sqlite3.Connection, links: Dict[str, Any], user_id: Optional[str]) -> None:
    for platform, data in links.items():
        if data is not None:
            owner = _linked_user(ctx, conn, platform, data)
            if owner is not None and owner != user_id:
                raise ProtocolError(208, "this auth is already used")


def _auth_data(body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    links = body.get("authData")
    if links is None:
        return None
    if not isinstance(links, dict) or not all(isinstance(v, dict) or v is None for v in links.values()):
        raise ProtocolError(107, "authData must be {platform: {...}}.")
    return links


def _verified(ctx: Context, links: Dict[str, Any]) -> Dict[str, Any]:
    """``links`` once each platform's verifier accepted it (error 252 for a platform without one). An
    Engine's ``onAuthData`` is the app's own check, of every platform: what it answers is what counts."""
    if ctx.server.engine is not None and ctx.server.engine.has(ON_AUTH_DATA):
        return _given_links({"authData": auth_data(ctx, links)})
    for platform, data in links.items():
        verifier = ctx.server.auth_verifiers.get(platform)
        if verifier is None:
            raise verifiers.unsupported(platform)
        verifier.verify(platform, data)
    return links


def _given_links(body: Dict[str, Any]) -> Dict[str, Any]:
    """The platforms ``body``'s authData names (a platform set to null names none)."""
    return {k: v for k, v in (_auth_data(body) or {}).items() if v is not None}


def signup_or_link(ctx: Context) -> Any:
    """A signup carrying ``authData`` logs in the user linked to that account (200) or creates one
    (201); any other signup is the usual one. The Engine's ``onAuthData`` sees the authData first and
    may rewrite it (what it answers is what is looked up and stored) or refuse the request."""
    body = dict(ctx.json_body())
    links = _given_links(body)
    if not links:
        return signup(ctx)
    links = _verified(ctx, links)  # outside the write lock: a verifier calls out, the hook may query
    if not links:
        raise ProtocolError(107, "onAuthData answered no authData to log in with.")
    with ctx.store.write() as conn:
        for platform, data in links.items():
            user_id = _linked_user(ctx, conn, platform, data)
            if user_id is not None:
                _check_links(ctx, conn, links, user_id)
                stored = fetch(ctx.server.master_context(ctx), "_User", user_id, keys="authData")
                _set_user(ctx, user_id, {"authData": {**(stored.get("authData") or {}), **links}})
                return 200, logged_in(ctx, conn, user_id)
    # a new user: LeanCloud makes up a username, and no password can log in (an unguessable one)
    body["authData"] = links
    body.setdefault("username", secrets.token_hex(12))
    body.setdefault("password", secrets.token_urlsafe(32))
    with ctx.store.write() as conn:
        _check_links(ctx, conn, links, None)  # again: another request may have linked it meanwhile
        _, created = signup(_with_body(ctx, body))
    return 201, user_answer(ctx, created["objectId"], created["sessionToken"])


def update_or_link(ctx: Context) -> Any:
    """Linking (``authData: {platform: {...}}``) merges platforms into the stored ``authData``;
    unlinking takes ``authData: {platform: null}`` (Parse) or ``authData.platform: Delete`` (LeanCloud)."""
    body = dict(ctx.json_body())
    links = _auth_data(body) or {}
    for key in [k for k in body if k.startswith("authData.")]:
        op = body.pop(key)
        if not (isinstance(op, dict) and op.get("__op") == "Delete"):
            raise ProtocolError(107, f"{key} can only be deleted ({{'__op': 'Delete'}}).")
        links[key[len("authData."):]] = None
    if not links:
        return update_user(ctx)
    # linking needs the same proof as logging in; unlinking (null) needs none
    links = {**{k: v for k, v in links.items() if v is None},
             **_verified(ctx, {k: v for k, v in links.items() if v is not None})}
    user_id = ctx.args[0]
    with ctx.store.write() as conn:
        _check_links(ctx, conn, links, user_id)
        try:
            stored = fetch(ctx.server.master_context(ctx), "_User", user_id, keys="authData").get("authData") or {}
        except ProtocolError:
            stored = {}  # the update answers "not found" itself
        merged = {k: v for k, v in {**stored, **links}.items() if v is not None}
        body["authData"] = merged if merged else {"__op": "Delete"}
        return update_user(_with_body(ctx, body))


# -- friendship ----------------------------------------------------------------------------------------------
def _pointer(user_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def _friendship(ctx: Context) -> Tuple[str, str]:
    user_id, target_id = ctx.args
    if ctx.caller.user_id != user_id and not ctx.caller.master:
        raise ProtocolError(206, "Only the user can change whom it follows; log in first.", 403)
    return user_id, target_id


def _rows(ctx: Context, user_id: str, target_id: str) -> Iterable[Tuple[str, str]]:
    """(class, objectId) of the _Followee and _Follower rows of ``user_id`` following ``target_id``."""
    master = ctx.server.master_context(ctx)
    for class_name, where in (("_Followee", {"user": _pointer(user_id), "followee": _pointer(target_id)}),
                              ("_Follower", {"user": _pointer(target_id), "follower": _pointer(user_id)})):
        rows, _ = query(master, class_name, where, limit=1000, keys="objectId")
        yield from ((class_name, row["objectId"]) for row in rows)


@route("POST", r"users/([^/]+)/friendship/([^/]+)")
def _follow(ctx: Context) -> Any:
    user_id, target_id = _friendship(ctx)
    if user_id == target_id:
        raise ProtocolError(1, "A user cannot follow itself.")
    given = {} if ctx.body is None else ctx.json_body()  # the official SDK sends the JSON body null
    attributes = {k: v for k, v in given.items() if k not in ("user", "followee", "follower", "ACL")}
    master = ctx.server.master_context(ctx)
    fetch(master, "_User", target_id, keys="objectId")  # 101 when there is no such user
    public = {"*": {"read": True}}
    with ctx.store.write():
        if not any(True for _ in _rows(ctx, user_id, target_id)):
            write(master, "_Followee", None, {**attributes, "user": _pointer(user_id),
                                              "followee": _pointer(target_id), "ACL": public})
            write(master, "_Follower", None, {**attributes, "user": _pointer(target_id),
                                              "follower": _pointer(user_id), "ACL": public})
    return {}


@route("DELETE", r"users/([^/]+)/friendship/([^/]+)")
def _unfollow(ctx: Context) -> Any:
    user_id, target_id = _friendship(ctx)
    master = ctx.server.master_context(ctx)
    with ctx.store.write():
        for class_name, object_id in list(_rows(ctx, user_id, target_id)):
            remove(master, class_name, object_id)
    return {}


def _friends(ctx: Context, class_name: str, key: str) -> Any:
    where = {"user": _pointer(ctx.args[0])}
    given = ctx.json_param("where")
    params = {**ctx.params, "where": dumps({"$and": [where, given]} if given else where),
              "include": ctx.params.get("include") or key}
    return list_answer(dataclasses.replace(ctx, params=params), class_name)


@route("GET", r"users/([^/]+)/followees")
def _followees(ctx: Context) -> Any:
    return _friends(ctx, "_Followee", "followee")


@route("GET", r"users/([^/]+)/followers")
def _followers(ctx: Context) -> Any:
    return _friends(ctx, "_Follower", "follower")
