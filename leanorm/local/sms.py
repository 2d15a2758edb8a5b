"""SMS endpoints: codes to a phone number and what they prove (signing up or logging in by phone,
verifying a number, resetting a password, changing a user's number).

The codes are ``one_time_codes``; a login by code is ``POST login`` (``sessions``).
"""
from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any, List

from .auth_data import check_links, given_links, verified_links
from .code_limits import counts_failures
from .hooks import user_event
from .one_time_codes import consume, issue
from .passwords import checked_password, hash_password
from .phones import e164, known_phone, phone_number, user_by_phone
from .protocol import Context, ProtocolError, route
from .sessions import logged_in, user_answer
from .users import set_user_fields, signup

__all__: List[str] = []


def _signed_in_user(ctx: Context) -> str:
    if ctx.caller.user_id is None:
        raise ProtocolError(206, "This needs a logged-in user (a session token).", 403)
    return ctx.caller.user_id


@route("POST", r"requestSmsCode")
@counts_failures
def _request_sms_code(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = phone_number(body)
    token = body.get("validate_token")
    if token is not None:
        with ctx.store.write() as conn:
            consume(ctx, conn, "captcha_validated", token, token, "Invalid or used captcha validate_token.")
    issue(ctx, e164(phone), "sms", kind="voice" if body.get("smsType") == "voice" else "sms",
           extra={k: v for k, v in body.items() if k not in ("mobilePhoneNumber", "validate_token")})
    return {}


@route("POST", r"verifySmsCode/([^/]+)")
@counts_failures
def _verify_sms_code(ctx: Context) -> Any:
    # the number travels in the body (SDKs) or in the query string (LeanCloud's REST guide)
    phone = phone_number({"mobilePhoneNumber": ctx.json_body().get("mobilePhoneNumber") or
                    ctx.params.get("mobilePhoneNumber")})
    with ctx.store.write() as conn:
        consume(ctx, conn, "sms", ctx.args[0], e164(phone))
    return {}


@route("POST", r"usersByMobilePhone")
@counts_failures
def _users_by_mobile_phone(ctx: Context) -> Any:
    body = dict(ctx.json_body())
    phone = phone_number(body)
    code = body.pop("smsCode", None)
    # a new user's third-party accounts need the proof any link needs (they were stored unchecked)
    links = given_links(body)
    body.pop("authData", None)
    if links:
        body["authData"] = verified_links(ctx, links)
    with ctx.store.write() as conn:
        consume(ctx, conn, "sms", code, e164(phone))
        check_links(ctx, conn, body.get("authData") or {}, None)
        user_id = user_by_phone(ctx, conn, phone)
        if user_id is not None:
            set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
            return logged_in(ctx, conn, user_id)
    # no password means none can log in with (LeanCloud's empty password): an unguessable one
    body.setdefault("username", phone)
    body.setdefault("password", secrets.token_urlsafe(32))
    _, created = signup(ctx.with_body(body))
    set_user_fields(ctx, created["objectId"], {"mobilePhoneVerified": True})
    return 201, user_answer(ctx, created["objectId"], created["sessionToken"])


def _code_to_known_phone(purpose: str) -> Any:
    """An endpoint sending a ``purpose`` code to the number of an existing user."""
    def handler(ctx: Context) -> Any:
        phone = phone_number(ctx.json_body())
        known_phone(ctx, phone)
        issue(ctx, e164(phone), purpose)
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
        phone = consume(ctx, conn, "verify_phone", ctx.args[0])
        user_id = user_by_phone(ctx, conn, phone)
        if user_id is None:  # the number changed since the code was sent
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        answer = set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
    user_event(ctx, "functions/onVerified/sms", user_id, rejects=False)
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}


@route("PUT", r"resetPasswordBySmsCode/([^/]+)")
@counts_failures
def _reset_by_sms(ctx: Context) -> Any:
    body = ctx.json_body()
    password = checked_password(body.get("password"))
    phone = e164(phone_number(body))  # needed: a code alone would match any user's pending reset
    hashed = hash_password(password)  # slow on purpose: outside the write lock
    with ctx.store.write() as conn:
        phone = consume(ctx, conn, "password_reset", ctx.args[0], phone)
        user_id = user_by_phone(ctx, conn, phone)
        if user_id is None:
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        conn.execute("INSERT OR REPLACE INTO _passwords VALUES (?, ?)", (user_id, hashed))
        # LeanCloud gives the user a new session token after a reset: the old ones end
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (user_id,))
        set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
    return {}


def _phone_taken(ctx: Context, conn: sqlite3.Connection, phone: str, user_id: str) -> None:
    owner = user_by_phone(ctx, conn, phone)
    if owner is not None and owner != user_id:
        raise ProtocolError(214, "Mobile phone number has already been taken.")


@route("POST", r"requestChangePhoneNumber")
def _request_change_phone(ctx: Context) -> Any:
    user_id = _signed_in_user(ctx)
    phone = phone_number(ctx.json_body())
    with ctx.store.read() as conn:
        _phone_taken(ctx, conn, phone, user_id)
    # bound to the user who asked: nobody else can spend the code on their own account
    issue(ctx, e164(phone), f"change_phone:{user_id}")
    return {}


def _pending_change_code(ctx: Context, phone: str, code: Any) -> bool:
    """Whether ``code`` is a live change-of-number code sent to ``phone`` (for any user; not used up)."""
    with ctx.store.read() as conn:
        rows = conn.execute("SELECT code FROM _codes WHERE purpose LIKE 'change\\_phone:%' ESCAPE '\\' "
                            "AND recipient=? AND expires_at > ?", (e164(phone), time.time())).fetchall()
    return isinstance(code, str) and any(secrets.compare_digest(c.upper().encode(), code.upper().encode())
                                         for (c,) in rows)


@route("POST", r"changePhoneNumber")
@counts_failures
def _change_phone(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = phone_number(body)
    if ctx.caller.user_id is None and not _pending_change_code(ctx, phone, body.get("code")):
        raise ProtocolError(603, "Invalid SMS code.")  # LeanCloud checks the code before the session
    user_id = _signed_in_user(ctx)
    with ctx.store.write() as conn:
        consume(ctx, conn, f"change_phone:{user_id}", body.get("code"), e164(phone))
        _phone_taken(ctx, conn, phone, user_id)
        answer = set_user_fields(ctx, user_id, {"mobilePhoneNumber": phone, "mobilePhoneVerified": True})
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}
