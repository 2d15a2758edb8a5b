"""The LeanEngine HTTP protocol: what LeanCloud (and browsers, for functions) send to the engine.

Paths (each also under ``/1/`` and ``/__engine/1.1/``, ``/__engine/1/``):

=====================================  ==========================================  ===========
``POST /1.1/functions/NAME``           cloud function, JSON params in, ``{"result"}``  app key
``POST /1.1/call/NAME``                rpc: instances in, instances out              app key
``POST /1.1/functions/CLASS/HOOK``     class hook (beforeSave ... afterDelete)       hook key
``POST /1.1/functions/_User/onLogin``  ``onLogin``; ``_User/onAuthData`` likewise     hook key
``POST /1.1/functions/onVerified/K``   ``K`` = ``sms`` / ``email``                   hook key
``GET|POST /1.1/functions/_ops/metadatas``  declared names                           master key
``GET /__engine/1/ping``               health check                                 none
=====================================  ==========================================  ===========

Errors answer ``{"code": <int>, "error": "<message>"}``. This layer parses HTTP and checks keys only;
everything else is :meth:`Engine.dispatch`.
"""
from __future__ import annotations

import importlib.metadata
import platform
from typing import TYPE_CHECKING, Any, Dict, Iterable

from ..errors import LeanCloudError
from .declarations import METADATA_KEY, strip_prefix
from .keys import authenticate
from .wsgi_util import headers_of, json_response, read_json, remote_address

if TYPE_CHECKING:  # pragma: no cover
    from .app import Engine

__all__ = ["is_engine_path", "handle"]

_API_PREFIXES = ("/1.1/functions/", "/1/functions/", "/1.1/call/", "/1/call/", "/__engine/")
#: the installed leanorm's version, read from its metadata (importing the package root from here would be
#: a cycle: the root imports the engine)
_VERSION = importlib.metadata.version("leanorm")

PING_PATHS = ("/__engine/1/ping", "/__engine/1.1/ping", "/__engine/1/ping/", "/__engine/1.1/ping/")
#: browsers call functions cross-origin: allow the SDK headers
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, X-LC-Id, X-LC-Key, X-LC-Sign, X-LC-Session, X-LC-Prod, "
                                     "X-LC-UA, X-LC-Hook-Key, X-AVOSCloud-Application-Id, "
                                     "X-AVOSCloud-Application-Key, X-AVOSCloud-Session-Token, "
                                     "X-AVOSCloud-Request-Sign, X-Requested-With"),
    ("Access-Control-Max-Age", "86400"),
]


def is_engine_path(path: str) -> bool:
    """Whether ``path`` belongs to the LeanEngine protocol (the rest goes to the wrapped app)."""
    return path.startswith(_API_PREFIXES)


def handle(engine: "Engine", environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer one LeanEngine request."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path in PING_PATHS:
        runtime = f"{platform.python_implementation().lower()}-{platform.python_version()}"
        return json_response(start_response, 200, {"runtime": runtime, "version": _VERSION})
    if method == "OPTIONS":
        return json_response(start_response, 200, {}, CORS_HEADERS)
    try:
        body = read_json(environ)
    except ValueError:
        return _error(start_response, LeanCloudError(107, "Malformed json object. A json dictionary is expected."))
    if not isinstance(body, dict):
        body = {}
    caller = authenticate(headers_of(environ), body, engine.keys)
    key = strip_prefix(path)
    is_hook = key != METADATA_KEY and key.count("/") >= 2
    if not caller.app or (is_hook and not caller.hook):
        return _error(start_response, LeanCloudError(401, "Unauthorized.", 401))
    try:
        answer = engine.dispatch(key, body, session_token=caller.session_token, master=caller.master,
                                 prod=caller.prod, remote_address=remote_address(environ))
    except LeanCloudError as exc:
        return _error(start_response, exc)
    return json_response(start_response, 200, answer, CORS_HEADERS)


def _error(start_response: Any, exc: LeanCloudError) -> Iterable[bytes]:
    status = exc.status or (exc.code if exc.code in (401, 403, 404) else 400)
    return json_response(start_response, status, {"code": exc.code, "error": exc.message}, CORS_HEADERS)
