"""How a request reaches a backend: over HTTP, or in-process into the embedded server."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Protocol, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .local import LocalServer

__all__ = ["Request", "Response", "Transport", "HTTPTransport", "LocalTransport", "Readable", "Body"]


class Readable(Protocol):
    """A binary stream as far as an upload needs one: ``read(size)`` until it answers ``b""`` (an open
    file, or a multipart form built on the fly)."""

    def read(self, size: int = ..., /) -> bytes: ...


#: what a request body may be: bytes, or a binary stream (sent as it is read, never read whole)
Body = Union[bytes, bytearray, Readable]


@dataclass
class Request:
    """One protocol request: ``path`` already carries the dialect's prefix, or is an absolute URL (a
    storage provider's upload address). ``body`` is bytes, or a binary file object for file uploads,
    which transports stream instead of reading it into memory."""

    method: str
    path: str
    params: Dict[str, str] = field(default_factory=dict)
    headers: Dict[str, str] = field(default_factory=dict)
    body: Optional[Body] = None


@dataclass
class Response:
    """What came back: HTTP status and the raw body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport:
    """Sends a :class:`Request` and returns a :class:`Response`."""

    def send(self, request: Request) -> Response:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the transport holds (connections, the embedded database)."""


class HTTPTransport(Transport):
    """HTTP through one pooled :class:`requests.Session`.

    Only requests that are safe to repeat (GET, HEAD) are retried, with exponential backoff, on
    connection errors and on 429/502/503/504; writes are sent once, so a retry can never apply an
    Increment twice.
    """

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3, pool_size: int = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(total=retries, backoff_factor=0.2, status_forcelist=(429, 502, 503, 504),
                      allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, request: Request) -> Response:
        absolute = request.path.startswith(("http://", "https://"))
        url = request.path if absolute else self.base_url + request.path
        try:
            r = self.session.request(request.method, url, params=request.params or None,
                                     data=request.body, headers=request.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransportError(f"{request.method} {url}: {exc}") from exc
        return Response(r.status_code, r.content, r.headers)

    def close(self) -> None:
        self.session.close()


class LocalTransport(Transport):
    """Hands the request straight to an embedded :class:`~leanorm.local.LocalServer`: no socket, no thread."""

    def __init__(self, server: "LocalServer", owned: bool = True) -> None:
        self.server = server
        #: whether closing the transport closes the server (not for a client borrowed by the server's
        #: own cloud code: the server's owner closes it)
        self.owned = owned

    def send(self, request: Request) -> Response:
        # an absolute URL is one the embedded server handed out (a file upload address): its path is ours
        path = urlsplit(request.path).path if request.path.startswith(("http://", "https://")) else request.path
        r = self.server.handle(request.method, path, request.params, request.headers, request.body)
        return Response(r.status, r.body, r.headers)

    def close(self) -> None:
        if self.owned:
            self.server.close()
