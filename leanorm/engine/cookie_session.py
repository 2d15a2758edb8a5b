"""``CookieSessionMiddleware``: keep the logged-in user of a browser in a signed cookie.

The cookie holds the user's objectId and session token, signed with HMAC-SHA256 under ``secret`` (not
encrypted: keep it ``HttpOnly``, and ``secure`` over HTTPS). Inside a request ``leanorm.current_user()``
is the cookie's user and requests send its session token (``leanorm.auth_context.acting_as``).

A login during the request (``User.login``, ``signup``, ``become``, ``refresh_session_token``: the
``leanorm.signals.logged_in`` signal) sets the cookie on the response; a logout of the cookie's session
(``logged_out``) clears it. The
new user becomes ``current_user()`` from the next request on. :func:`set_session_user` does either
explicitly.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import time
from contextvars import ContextVar
from email.utils import format_datetime
from http.cookies import SimpleCookie
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

from .. import signals
from ..auth import User
from ..auth_context import acting_as
from ..errors import LeanCloudError
from .https_redirect import ENGINE_PATH_PREFIXES
from .objects import instance_from_wire, model_named

__all__ = ["CookieSessionMiddleware", "set_session_user"]

_UNSET = object()


class _Session:
    """The session of one request: who the cookie named, and who the response should name."""

    def __init__(self, user: Optional[User], token: Optional[str]) -> None:
        self.user = user
        self.token = token
        self.next_user: Any = _UNSET  # a User to remember, None to forget, _UNSET to leave the cookie

    def outcome(self) -> Any:
        """The user the response's cookie should hold: a User, None (clear), or _UNSET (unchanged)."""
        return self.next_user


_session: ContextVar[Optional[_Session]] = ContextVar("leanorm_cookie_session", default=None)


def set_session_user(user: Optional[User]) -> None:
    """Make the response of the current request remember ``user`` (logged in) or forget the session
    (``None``). Outside a CookieSessionMiddleware request it does nothing."""
    session = _session.get()
    if session is not None:
        if user is not None and not user.session_token:
            raise ValueError(f"{user!r} has no session token: log in first")
        session.next_user = user


def _logged_in(sender: Any, instance: Any, **_: Any) -> None:
    """A login (or a refreshed token) inside a request: the response's cookie names the user."""
    session = _session.get()
    if session is not None and instance.session_token and instance.session_token != session.token:
        session.next_user = instance


def _logged_out(sender: Any, instance: Any, session_token: Optional[str] = None, **_: Any) -> None:
    """The cookie's session ended inside a request: the response clears the cookie."""
    session = _session.get()
    if session is not None and session_token is not None and session_token == session.token:
        session.next_user = None


signals.logged_in.connect(_logged_in)
signals.logged_out.connect(_logged_out)


class CookieSessionMiddleware:
    """Run each request as the user its signed cookie names.

    :param secret: the HMAC key (long and random; changing it logs everyone out)
    :param name: the cookie's name
    :param excluded_paths: path prefixes left alone (default: the engine's protocol paths, whose
        caller is named by the request itself)
    :param fetch_user: load the user from the backend each request (``User.become``: one round trip,
        and an expired session is noticed); otherwise ``current_user()`` knows its id and token and
        loads its fields on first read
    :param expires: the cookie's ``Expires`` (a datetime, or seconds from now)
    :param max_age: the cookie's ``Max-Age`` in seconds; older cookies are also refused when read
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], secret: Union[str, bytes], *,
                 name: str = "leanorm_session", excluded_paths: Sequence[str] = ENGINE_PATH_PREFIXES,
                 fetch_user: bool = False, expires: Union[None, int, _dt.datetime] = None,
                 max_age: Optional[int] = None, path: str = "/", secure: bool = False,
                 httponly: bool = True, samesite: Optional[str] = "Lax") -> None:
        if not secret:
            raise ValueError("CookieSessionMiddleware needs a secret")
        self.app = app
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.name = name
        self.excluded_paths = tuple(excluded_paths)
        self.fetch_user = fetch_user
        self.expires = expires
        self.max_age = max_age
        self.path = path
        self.secure = secure
        self.httponly = httponly
        self.samesite = samesite

    # -- cookie value ----------------------------------------------------------------------------------
    def _sign(self, data: bytes) -> str:
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def encode(self, user: User) -> str:
        """The cookie value naming ``user`` (with its session token)."""
        raw = json.dumps({"uid": user.id, "token": user.session_token, "iat": int(time.time())},
                         separators=(",", ":")).encode()
        data = base64.urlsafe_b64encode(raw).rstrip(b"=")
        return data.decode() + "." + self._sign(data)

    def decode(self, value: str) -> Optional[Dict[str, Any]]:
        """The cookie's content, or None when it is not signed by this secret or is too old."""
        data, _, mac = value.encode().partition(b".")
        if not mac or not hmac.compare_digest(mac.decode(), self._sign(data)):
            return None
        try:
            content = json.loads(base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4)))
        except ValueError:
            return None
        if not isinstance(content, dict) or not content.get("uid") or not content.get("token"):
            return None
        if self.max_age is not None and content.get("iat", 0) + self.max_age < time.time():
            return None
        return content

    # -- request -----------------------------------------------------------------------------------------
    def _session_from(self, environ: Dict[str, Any]) -> _Session:
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed Cookie header from the browser is no session, not an error
            return _Session(None, None)
        morsel = cookie.get(self.name)
        content = self.decode(morsel.value) if morsel is not None else None
        if content is None:
            return _Session(None, None)
        token = content["token"]
        model = model_named("_User", User)
        if not self.fetch_user:
            return _Session(instance_from_wire(model, {"objectId": content["uid"], "sessionToken": token},
                                               partial=True), token)
        session = _Session(None, token)
        try:
            session.user = model.become(token)
        except LeanCloudError:  # expired or revoked: anonymous, and the stale cookie goes
            session.token = None
            session.next_user = None
        return session

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self.excluded_paths):
            return self.app(environ, start_response)
        session = self._session_from(environ)

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            outcome = session.outcome()
            if outcome is not _UNSET:
                headers = list(headers) + [("Set-Cookie", self._set_cookie(outcome))]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        reset = _session.set(session)
        try:
            with acting_as(session.user, session.token):
                return self.app(environ, start)
        finally:
            _session.reset(reset)

    def _set_cookie(self, user: Optional[User]) -> str:
        if user is None:
            return f"{self.name}=; Path={self.path}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        parts = [f"{self.name}={self.encode(user)}", f"Path={self.path}"]
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.expires is not None:
            when = self.expires if isinstance(self.expires, _dt.datetime) else \
                _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=self.expires)
            parts.append("Expires=" + format_datetime(when.astimezone(_dt.timezone.utc), usegmt=True))
        if self.secure:
            parts.append("Secure")
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        return "; ".join(parts)
