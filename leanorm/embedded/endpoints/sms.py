"""SMS endpoints: codes to a phone number and what they prove (signing up or logging in by phone,
verifying a number, resetting a password, changing a user's number).

Numbers are E.164 (``phones``). A code is issued on behalf of a user and spent only by a request naming
the same purpose, number and user (``one_time_codes``): a login, verification or reset code is the
number's owner's when it was sent, a change-of-number code is the user's who asked; a ``requestSmsCode``
code proves the number alone (it is nobody's), and signing up or logging in with it opens the number's
owner's account at that moment. Every endpoint here that checks a code counts its failures
(``code_limits``). A login by code is ``POST login`` (``sessions``).
"""
from __future__ import annotations

import secrets
from typing import Any, List

from .auth_data import check_links, given_links, verified_links
from ..access.code_limits import counts_failures
from .hooks import user_event
from ..access.one_time_codes import NOBODY, issue, spend, spend_by_code
from ..access.passwords import checked_password, hash_password
from ..access.phones import known_phone, phone_number, user_by_phone
from ..routing import Context, route
from ..answers import ProtocolError
from .sessions import logged_in, user_answer
from .users import set_user_fields, signup
from ..storage.interface import Connection

__all__: List[str] = []


def _signed_in_user(ctx: Context) -> str:
    if ctx.caller.user_id is None:
        raise ProtocolError(206, "This needs a logged-in user (a session token).", 403)
    return ctx.caller.user_id


@route("POST", r"requestSmsCode")
@counts_failures
def _request_sms_code(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = phone_number(ctx, body)
    token = body.get("validate_token")
    if token is not None:
        with ctx.store.write() as conn:
            spend(ctx, conn, "captcha_validated", token, str(token), None, "Invalid or used captcha validate_token.")
    issue(ctx, phone, "sms", kind="voice" if body.get("smsType") == "voice" else "sms",
          extra={k: v for k, v in body.items() if k not in ("mobilePhoneNumber", "validate_token")})
    return {}


@route("POST", r"verifySmsCode/([^/]+)")
@counts_failures
def _verify_sms_code(ctx: Context) -> Any:
    # the number travels in the body (SDKs) or in the query string (LeanCloud's REST guide)
    phone = phone_number(ctx, {"mobilePhoneNumber": ctx.json_body().get("mobilePhoneNumber") or
                               ctx.params.get("mobilePhoneNumber")})
    with ctx.store.write() as conn:
        spend(ctx, conn, "sms", ctx.args[0], phone, None)
    return {}


@route("POST", r"usersByMobilePhone")
@counts_failures
def _users_by_mobile_phone(ctx: Context) -> Any:
    body = dict(ctx.json_body())
    phone = phone_number(ctx, body)
    code = body.pop("smsCode", None)
    # a new user's third-party accounts need the proof any link needs (they were stored unchecked)
    links = given_links(body)
    body.pop("authData", None)
    if links:
        body["authData"] = verified_links(ctx, links)
    with ctx.store.write() as conn:
        spend(ctx, conn, "sms", code, phone, None)
        check_links(ctx, conn, body.get("authData") or {}, None)
        user_id = user_by_phone(ctx, conn, phone)
        if user_id is not None:
            set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
            return logged_in(ctx, conn, user_id)
    # no password means none can log in with (LeanCloud's empty password): an unguessable one; the
    # username is the number as the client wrote it (LeanCloud's), the stored number its E.164 form
    body.setdefault("username", body["mobilePhoneNumber"])
    body.setdefault("password", secrets.token_urlsafe(32))
    _, created = signup(ctx.with_body(body))
    set_user_fields(ctx, created["objectId"], {"mobilePhoneVerified": True})
    return 201, user_answer(ctx, created["objectId"], created["sessionToken"])


def _code_to_known_phone(purpose: str) -> Any:
    """An endpoint sending a ``purpose`` code to the number of an existing user, on that user's behalf."""
    def handler(ctx: Context) -> Any:
        phone = phone_number(ctx, ctx.json_body())
        issue(ctx, phone, purpose, user=known_phone(ctx, phone))
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
        phone, user_id = spend_by_code(ctx, conn, "verify_phone", ctx.args[0])
        if user_id is None or user_by_phone(ctx, conn, phone) != user_id:  # the number changed hands since
            raise ProtocolError(213, "Could not find user with that mobile phone number.")
        answer = set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
    user_event(ctx, "functions/onVerified/sms", user_id, rejects=False)
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}


@route("PUT", r"resetPasswordBySmsCode/([^/]+)")
@counts_failures
def _reset_by_sms(ctx: Context) -> Any:
    body = ctx.json_body()
    password = checked_password(body.get("password"))
    phone = phone_number(ctx, body)  # needed: a code alone would match any user's pending reset
    hashed = hash_password(password)  # slow on purpose: outside the write lock
    with ctx.store.write() as conn:
        # reset codes are sent on the owner's behalf: for a number nobody has, none is pending (603)
        user_id = user_by_phone(ctx, conn, phone) or NOBODY
        spend(ctx, conn, "password_reset", ctx.args[0], phone, user_id)
        conn.execute("INSERT OR REPLACE INTO _passwords VALUES (?, ?)", (user_id, hashed))
        # LeanCloud gives the user a new session token after a reset: the old ones end
        conn.execute("DELETE FROM _sessions WHERE user_id=?", (user_id,))
        set_user_fields(ctx, user_id, {"mobilePhoneVerified": True})
    return {}


def _phone_taken(ctx: Context, conn: Connection, phone: str, user_id: str) -> None:
    owner = user_by_phone(ctx, conn, phone)
    if owner is not None and owner != user_id:
        raise ProtocolError(214, "Mobile phone number has already been taken.")


@route("POST", r"requestChangePhoneNumber")
def _request_change_phone(ctx: Context) -> Any:
    user_id = _signed_in_user(ctx)
    phone = phone_number(ctx, ctx.json_body())
    with ctx.store.read() as conn:
        _phone_taken(ctx, conn, phone, user_id)
    # on behalf of the user who asked: nobody else, and no request without its session, can spend it
    issue(ctx, phone, "change_phone", user=user_id)
    return {}


@route("POST", r"changePhoneNumber")
@counts_failures
def _change_phone(ctx: Context) -> Any:
    body = ctx.json_body()
    phone = phone_number(ctx, body)
    with ctx.store.write() as conn:
        # the code first, as LeanCloud: without a session the request is nobody's, and no change code
        # is (603, counted like any failure: 206 here told the right code from a wrong one)
        user_id = ctx.caller.user_id or NOBODY
        spend(ctx, conn, "change_phone", body.get("code"), phone, user_id)
        _phone_taken(ctx, conn, phone, user_id)
        answer = set_user_fields(ctx, user_id, {"mobilePhoneNumber": phone, "mobilePhoneVerified": True})
    return {"objectId": user_id, "updatedAt": answer["updatedAt"]}
