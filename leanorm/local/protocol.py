"""The pieces every endpoint shares: the error the protocol answers, the response, the request context
and the route registry that endpoint modules add themselves to."""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Pattern, Protocol, Tuple, Union

import orjson

from .budget import Budget
from .limits import check_json

if TYPE_CHECKING:  # pragma: no cover
    from .server import LocalServer
    from .store import Store

__all__ = ["CloudCode", "ProtocolError", "LocalResponse", "Caller", "Context", "Handler", "Readable", "Body", "route", "handlers", "resolve",
           "dumps", "loads"]


class Readable(Protocol):
    """A binary stream as far as a request body needs one: ``read(size)`` until it answers ``b""``
    (a file, ``wsgi.input`` bounded to its Content-Length, a multipart form built on the fly)."""

    def read(self, size: int = ..., /) -> bytes: ...


#: a request body: bytes, or a stream for file uploads (read a chunk at a time, never whole)
Body = Union[bytes, bytearray, Readable, None]


class CloudCode(Protocol):
    """What the embedded server needs of cloud code (a :class:`leanorm.engine.Engine` is one): it asks
    whether a function or hook is declared, then runs it through one entry point with LeanEngine's
    payloads. Typed here so the server never imports the Engine, which is written with the ORM."""

    def has(self, path: str) -> bool: ...

    def job_names(self) -> List[str]:
        """The background jobs it declares (``POST jobs/NAME`` starts one)."""

    def serving(self, server: "LocalServer") -> "CloudCode":
        """This cloud code as ``server`` runs it: whatever requests the code itself makes (an ORM query in
        a hook) go to ``server``, not to the process's default backend."""

    def dispatch(self, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]] = ...,
                 session_token: Optional[str] = ..., master: bool = ..., prod: bool = ...,
                 remote_address: Optional[str] = ...) -> Dict[str, Any]: ...


class ProtocolError(Exception):
    """An answer in LeanCloud's error shape: ``{"code": code, "error": message}`` with HTTP ``status``."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_json(self) -> Dict[str, Any]:
        return {"code": self.code, "error": self.message}


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: Any) -> Any:
    """Strict JSON: ``NaN``/``Infinity`` are refused (they would be stored as text SQLite cannot read back),
    and so are nesting deeper than ``limits.MAX_JSON_DEPTH`` and lone UTF-16 surrogates (which no answer
    could encode); all raise ``ValueError``."""
    try:
        return check_json(json.loads(raw, parse_constant=_not_json))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """Compact JSON, the one form the engine writes (stored documents and answers alike)."""
    return orjson.dumps(value).decode()


@dataclass
class LocalResponse:
    """What :meth:`LocalServer.handle` answers: HTTP status, headers and a JSON body (bytes)."""

    status: int
    body: bytes
    headers: Dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json; charset=utf-8"})


@dataclass
class Caller:
    """Who sent the request: the master key, or the principals an ACL grants to (``*``, the user's id,
    ``role:<name>`` of every role the user holds, inherited ones included)."""

    master: bool = False
    #: the request carried the app's hook key (``X-LC-Hook-Key``): LeanEngine's right to skip hooks
    hook: bool = False
    user_id: Optional[str] = None
    session_token: Optional[str] = None
    principals: Tuple[str, ...] = ("*",)


@dataclass
class Context:
    """One request on its way through an endpoint."""

    server: "LocalServer"
    method: str
    path: str                      # below the dialect prefix, e.g. ``classes/Post/abc``
    dialect: str                   # ``leancloud`` or ``parse``
    params: Dict[str, str]
    caller: Caller
    raw_body: Body                 # bytes; a stream only for file uploads (``files.streams``)
    args: Tuple[str, ...] = ()      # the groups of the route's pattern
    base_url: str = "http://localhost"   # how clients reach this server (file URLs are made from it)
    client_address: str = "local"   # the peer's IP address over HTTP (rate limits count per address)
    content_type: Optional[str] = None   # the request's Content-Type (a LeanCloud upload's bytes carry theirs)
    #: whether this is one request of a batch (LeanCloud answers a missing object there as ``null``)
    batch_item: bool = False
    _body: Any = None
    _parsed: bool = False
    #: the class-level permissions this request has read, by class (``permissions.class_permissions``):
    #: one find asked for them two or three times, a quarter of the request's time
    class_permissions: Dict[str, Optional[Dict[str, Any]]] = field(default_factory=dict, repr=False)
    #: what the request's queries have cost so far (``budget.Budget``): one per request, a batch's items
    #: and every copy of the context (``master_context``, ``with_body``) share it
    budget: Budget = field(default_factory=Budget, repr=False)
    #: headers the answer carries besides its JSON (Parse's ``X-Parse-Job-Status-Id``)
    response_headers: Dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> "Store":
        return self.server.store

    @property
    def body(self) -> Any:
        """The JSON body (``{}`` when empty); malformed JSON is error 107."""
        if not self._parsed:
            self._parsed = True
            if self.raw_body:
                try:
                    self._body = loads(self.raw_body)
                except ValueError:
                    raise ProtocolError(107, "Malformed json object. A json dictionary is expected.") from None
            else:
                self._body = {}
        return self._body

    def json_body(self) -> Dict[str, Any]:
        """The body, which must be a JSON object."""
        body = self.body
        if not isinstance(body, dict):
            raise ProtocolError(107, "Malformed json object. A json dictionary is expected.")
        return body

    def with_body(self, body: Dict[str, Any]) -> "Context":
        """The same request with another JSON body (a rewritten signup or update handed on)."""
        return dataclasses.replace(self, raw_body=dumps(body).encode("utf-8"), _body=None, _parsed=False)

    def json_param(self, name: str, default: Any = None) -> Any:
        """A query-string parameter holding JSON (``where``); malformed JSON is error 107."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return loads(raw)
        except ValueError:
            raise ProtocolError(107, f"Malformed json in parameter {name!r}.") from None

    def require_master(self) -> None:
        if not self.caller.master:
            raise ProtocolError(1 if self.dialect == "leancloud" else 119,
                                "This operation needs the master key.", 403)


Handler = Callable[[Context], Any]
_ROUTES: List[Tuple[str, Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register an endpoint: ``pattern`` is a regular expression over the path below the prefix. A
    handler returns the JSON answer, or ``(status, answer)``; it raises :class:`ProtocolError`. A request
    has one handler: :func:`resolve` refuses a path that two patterns of its method match."""
    compiled = re.compile(pattern + r"/?\Z")

    def register(handler: Handler) -> Handler:
        if any(m == method and p.pattern == compiled.pattern for m, p, _ in _ROUTES):
            raise ValueError(f"{method} {pattern} has a handler already")
        _ROUTES.append((method, compiled, handler))
        return handler

    return register


def handlers(method: str, path: str) -> List[Tuple[Handler, Tuple[str, ...]]]:
    """Every handler whose pattern matches ``method path``, with the groups it captured."""
    found = []
    for m, pattern, handler in _ROUTES:
        match = pattern.match(path) if m == method else None
        if match:
            found.append((handler, match.groups()))
    return found


def resolve(method: str, path: str) -> Tuple[Handler, Tuple[str, ...]]:
    """The handler of ``method path`` and the groups its pattern captured; unknown endpoints are 404."""
    found = handlers(method, path)
    if len(found) == 1:
        return found[0]
    if found:  # a server bug: routes must not overlap
        raise RuntimeError(f"{method} /{path} has {len(found)} handlers")
    if any(pattern.match(path) for _, pattern, _ in _ROUTES):
        raise ProtocolError(1, f"Method {method} is not allowed on /{path}.", 405)
    raise ProtocolError(1, f"Unknown endpoint: {method} /{path}.", 404)
