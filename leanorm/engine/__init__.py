"""The server side: cloud functions and hooks (LeanEngine), and Parse Server webhooks.

>>> from leanorm.engine import Engine
>>> engine = Engine()
>>> @engine.define
... def hello(name="world"):
...     return f"hello, {name}"

``engine`` is a WSGI app (``engine.wrap(flask_app)`` serves both); ``engine.dispatch(path, payload)``
runs a declaration in-process. See docs/engine.md.
"""
from __future__ import annotations

from typing import NoReturn

from ..errors import error_for
from .app import Engine
from .context import EngineRequest, current_request
from .cookie_session import CookieSessionMiddleware
from .https_redirect import HttpsRedirectMiddleware
from ..protocol.markers import sign_marker, verify_marker
from .live_triggers import LiveConnectRequest, LiveEventRequest, LiveSubscribeRequest
from .objects import updated_keys

__all__ = ["Engine", "EngineRequest", "current_request", "reject", "updated_keys", "CookieSessionMiddleware",
           "HttpsRedirectMiddleware", "sign_marker", "verify_marker", "LiveConnectRequest", "LiveSubscribeRequest",
           "LiveEventRequest"]


def reject(message: str, code: int = 142) -> NoReturn:
    """Refuse the write (in a before-hook) or fail the call: the caller gets ``code`` and ``message``.
    The default 142 is LeanCloud's "validation failed" (:class:`~leanorm.errors.HookRejected`)."""
    raise error_for(code, message, 400)
