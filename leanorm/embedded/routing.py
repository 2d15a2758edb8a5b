"""How a request reaches its endpoint: the request :class:`Context` a handler receives, the route
registry that endpoint modules add themselves to, and what the server needs of cloud code."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Pattern, Protocol, Tuple, Union

from .answers import EmbeddedResponse, ProtocolError, dumps, loads
from .budget import Budget
from .caller import Caller
from .settings import Settings
from .storage.file_bytes import FileBytes
from .storage.interface import Store


__all__ = ["CloudCode", "Services", "InProcessServer", "Context", "Handler", "Readable", "Body", "route", "handlers", "resolve"]


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

    def serving(self, server: "InProcessServer") -> "CloudCode":
        """This cloud code as ``server`` runs it: whatever requests the code itself makes (an ORM query in
        a hook) go to ``server``, not to the process's default backend."""

    def dispatch(self, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]] = ...,
                 session_token: Optional[str] = ..., master: bool = ..., prod: bool = ...,
                 remote_address: Optional[str] = ...) -> Dict[str, Any]: ...


class InProcessServer(Protocol):
    """A server cloud code can send its own requests to in-process (``EmbeddedServer`` is one)."""

    settings: Settings

    def handle(self, method: str, path: str, params: Optional[Mapping[str, str]] = ...,
               headers: Optional[Mapping[str, str]] = ..., body: "Body" = ...,
               client_address: str = ...) -> EmbeddedResponse: ...


class Services(Protocol):
    """What an endpoint may reach of the server that runs it, through its request's :class:`Context`:
    the store, the settings, the cloud code, a batch's way back into routing, and the outbox.
    ``EmbeddedServer`` is one; a test of a handler can hand a small object of its own."""

    store: Store
    settings: Settings
    cloud_code: Optional[CloudCode]
    #: where hosted files' bytes are kept (a folder, or the PostgreSQL store's table)
    file_bytes: FileBytes

    def sub_request(self, ctx: "Context", item: Any) -> Dict[str, Any]:
        """One request of a batch, routed and answered as ``{"success": ...}`` or ``{"error": ...}``."""

    def deliver(self, kind: str, recipient: str, purpose: str, code: Optional[str] = None,
                body: Optional[Dict[str, Any]] = None) -> None:
        """Keep an SMS or e-mail the server would have sent (the outbox)."""


@dataclass
class Context:
    """One request on its way through an endpoint: what was asked, by whom, and the server's
    :class:`Services` (never the server itself)."""

    services: Services
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
    #: the client's installation (Parse's ``X-Parse-Installation-Id``): a session it opens belongs to it
    installation_id: Optional[str] = None
    _body: Any = None
    _parsed: bool = False
    #: the class-level permissions this request has read, by class (``permissions.class_permissions``):
    #: one find asked for them two or three times, a quarter of the request's time
    class_permissions: Dict[str, Optional[Dict[str, Any]]] = field(default_factory=dict, repr=False)
    #: what the request's queries have cost so far (``budget.Budget``): one per request, a batch's items
    #: and every copy of the context (``as_master``, ``with_body``) share it
    budget: Budget = field(default_factory=Budget, repr=False)
    #: headers the answer carries besides its JSON (Parse's ``X-Parse-Job-Status-Id``)
    response_headers: Dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def cloud_code(self) -> Optional[CloudCode]:
        """The cloud code the server runs (None: none)."""
        return self.services.cloud_code

    def as_master(self) -> "Context":
        """The same request acting with the master key (for what the server does on its own behalf)."""
        return dataclasses.replace(self, caller=Caller(master=True))

    def sub_request(self, item: Any) -> Dict[str, Any]:
        """One request of this batch, answered as ``{"success": ...}`` or ``{"error": {code, error}}``."""
        return self.services.sub_request(self, item)

    def deliver(self, kind: str, recipient: str, purpose: str, code: Optional[str] = None,
                body: Optional[Dict[str, Any]] = None) -> None:
        """Keep an SMS or e-mail the server would have sent (the outbox)."""
        self.services.deliver(kind, recipient, purpose, code, body)

    @property
    def body(self) -> Any:
        """The JSON body (``{}`` when empty); malformed JSON is error 107."""
        if not self._parsed:
            self._parsed = True
            raw = self.raw_body
            if raw is not None and not isinstance(raw, (bytes, bytearray)):
                # a stream (``files.streams`` took the path for an upload's) read by an endpoint taking JSON
                # (``POST /parse/files/`` without a name routes to ``files``): read whole, within its cap
                raw = raw.read()
            if raw:
                try:
                    self._body = loads(raw)
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
