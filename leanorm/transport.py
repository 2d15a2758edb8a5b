"""How a request reaches a backend: over HTTP, or in-process into the embedded server.

Over HTTP, a request's ``timeout`` is a deadline for all of it: connecting, sending, every read of the
answer, and the retries with their pauses. The socket is given what is left of it before each read and
write, so an answer dripped a byte at a time cannot outlast it. A failure says what is known:
:class:`~leanorm.errors.NotSent` when the request was never written whole (connect refused, reset while
sending: the server cannot have acted on it), :class:`~leanorm.errors.OutcomeUnknown` when it was sent and
no whole answer came (it may have been applied).
"""
from __future__ import annotations

import contextlib
import socket
import ssl
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ContextManager, Dict, Iterator, Mapping, Optional, Protocol, Type, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import NotSent, OutcomeUnknown, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .local import LocalServer

__all__ = ["Request", "Response", "Transport", "HTTPTransport", "LocalTransport", "Readable", "Body",
           "request_timeout"]


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
    #: seconds for the whole request (retries included); None: the block's ``request_timeout()``, else
    #: the transport's own
    timeout: Optional[float] = None


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

    def seconds_for(self, request_timeout: Optional[float] = None) -> Optional[float]:
        """How long a request may take in all (``request_timeout``, else the enclosing
        ``leanorm.timeout()`` block's, else the transport's own); None where nothing bounds it."""
        return request_timeout or _block_timeout.get()

    def snapshot(self) -> Optional[ContextManager[None]]:
        """A block in which every read this thread sends sees the data as of one moment, where the backend
        can give one (the embedded backend in-process); None where it cannot (over HTTP each request is
        answered from the data as it is then)."""
        return None

    def close(self) -> None:
        """Release what the transport holds (connections, the embedded database)."""


_block_timeout: ContextVar[Optional[float]] = ContextVar("leanorm_request_timeout", default=None)


@contextlib.contextmanager
def request_timeout(seconds: float) -> Iterator[None]:
    """Bound every request sent inside the block (by this thread or task) to ``seconds``: connect, send,
    read and retries together. ``leanorm.timeout`` is this function."""
    if not seconds > 0:
        raise ValueError(f"a timeout is a positive number of seconds, not {seconds!r}")
    reset = _block_timeout.set(float(seconds))
    try:
        yield
    finally:
        _block_timeout.reset(reset)


class _Attempt:
    """What one attempt got done: whether the whole request was written to the socket."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


# the deadline (time.monotonic) of the request the current thread/task is sending, and its attempt
_deadline: ContextVar[Optional[float]] = ContextVar("leanorm_deadline", default=None)
_attempt: ContextVar[Optional[_Attempt]] = ContextVar("leanorm_attempt", default=None)


def _left(sock: Any) -> None:
    """Give ``sock`` what is left of the current request's deadline, or fail when nothing is."""
    deadline = _deadline.get()
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the request's deadline passed")
        sock.settimeout(remaining)


# the mixin below is a socket to the type checker; at run time it adds no base, so that a socket can be
# switched to a class that uses it by ``__class__`` assignment (the instance layout must not change)
if TYPE_CHECKING:  # pragma: no cover
    _SocketBase = socket.socket
else:
    _SocketBase = object


class _Bounded(_SocketBase):
    """Every read and write of the socket bounded by the current request's deadline."""

    __slots__ = ()

    def recv_into(self, *args: Any, **kwargs: Any) -> int:
        _left(self)
        return super().recv_into(*args, **kwargs)

    def recv(self, *args: Any, **kwargs: Any) -> bytes:
        _left(self)
        return super().recv(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        _left(self)
        super().sendall(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> int:
        _left(self)
        return super().send(*args, **kwargs)


class _DeadlineSocket(_Bounded, socket.socket):
    """A plain socket, bounded."""

    __slots__ = ()


class _DeadlineSSLSocket(_Bounded, ssl.SSLSocket):
    """A TLS socket, bounded."""

    __slots__ = ()


_BOUNDED: Dict[type, type] = {socket.socket: _DeadlineSocket, ssl.SSLSocket: _DeadlineSSLSocket}


class _TrackedHTTPConnection(HTTPConnection):
    """Records when the whole request has been written, and bounds its socket by the deadline."""

    def connect(self) -> None:
        super().connect()
        bounded = _BOUNDED.get(type(self.sock))
        if bounded is not None:
            self.sock.__class__ = bounded  # same layout: only the methods above change

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        attempt = _attempt.get()
        if attempt is not None:
            attempt.written = True


class _TrackedHTTPSConnection(_TrackedHTTPConnection, HTTPSConnection):
    """:class:`_TrackedHTTPConnection` over TLS."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackedAdapter(HTTPAdapter):
    """requests' adapter with the tracked connections above (and no retries of its own)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools: Dict[str, Type[HTTPConnectionPool]] = {"http": _HTTPPool, "https": _HTTPSPool}
        self.poolmanager.pool_classes_by_scheme = pools


#: statuses that mean "not handled, ask again later" (safe requests are retried on them)
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class HTTPTransport(Transport):
    """HTTP through one pooled :class:`requests.Session`, each request bounded by a deadline.

    ``timeout`` (seconds) bounds a whole request: connect, send, read, retries. Requests that are safe
    to repeat (GET, HEAD) are retried with exponential backoff on connection errors and on
    429/502/503/504 while the deadline allows; a write is sent again only when it never reached the
    server (:class:`~leanorm.errors.NotSent`, and its body is bytes), so a retry can never apply an
    Increment twice.
    """

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3, pool_size: int = 10,
                 backoff: float = 0.2) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        adapter = _TrackedAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def seconds_for(self, request_timeout: Optional[float] = None) -> Optional[float]:
        return request_timeout or _block_timeout.get() or self.timeout

    def send(self, request: Request) -> Response:
        absolute = request.path.startswith(("http://", "https://"))
        url = request.path if absolute else self.base_url + request.path
        seconds = self.seconds_for(request.timeout)
        assert seconds is not None
        deadline = time.monotonic() + seconds
        safe = request.method in ("GET", "HEAD")
        replayable = request.body is None or isinstance(request.body, (bytes, bytearray))
        attempt_no = 0
        while True:
            try:
                response = self._attempt(request, url, deadline)
            except NotSent:
                if not replayable or not self._pause(attempt_no, deadline):
                    raise
            except OutcomeUnknown:
                if not safe or not self._pause(attempt_no, deadline):
                    raise
            else:
                if not (safe and response.status in _RETRY_STATUSES and self._pause(attempt_no, deadline)):
                    return response
            attempt_no += 1

    def _pause(self, attempt_no: int, deadline: float) -> bool:
        """Sleep before another attempt; False when retries or time are used up."""
        if attempt_no >= self.retries:
            return False
        pause = self.backoff * (2 ** attempt_no)
        if time.monotonic() + pause >= deadline:
            return False
        time.sleep(pause)
        return True

    def _attempt(self, request: Request, url: str, deadline: float) -> Response:
        """Send once; NotSent when the request was not written whole, OutcomeUnknown when it was and no
        whole answer came."""
        remaining = deadline - time.monotonic()
        what = f"{request.method} {url}"
        if remaining <= 0:
            raise NotSent(f"{what}: not sent, the deadline had passed")
        attempt = _Attempt()
        reset_deadline, reset_attempt = _deadline.set(deadline), _attempt.set(attempt)
        try:
            # no redirect is followed: requests sends custom headers on to any host a Location names (it
            # drops only Authorization), so a hostile or spoofed server would have got the master key
            r = self.session.request(request.method, url, params=request.params or None, data=request.body,
                                     headers=request.headers, timeout=(remaining, remaining), allow_redirects=False)
            if r.is_redirect:
                raise TransportError(f"{what}: answered {r.status_code}, a redirect to {r.headers.get('Location')!r}; "
                                     "leanorm follows no redirect (the app's keys would go along): connect to "
                                     "the address the server means")
            return Response(r.status_code, r.content, r.headers)
        except requests.RequestException as exc:
            if attempt.written:
                raise OutcomeUnknown(f"{what}: sent, but no whole answer came: {exc}") from exc
            raise NotSent(f"{what}: not sent: {exc}") from exc
        finally:
            _deadline.reset(reset_deadline)
            _attempt.reset(reset_attempt)

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

    def snapshot(self) -> Optional[ContextManager[None]]:
        """One read transaction of the embedded store for the block (``Store.snapshot``)."""
        return self.server.store.snapshot()

    def close(self) -> None:
        if self.owned:
            self.server.close()
