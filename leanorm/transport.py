"""How a request reaches a backend: over HTTP, or in-process into the embedded server.

Over HTTP, a request's ``timeout`` is a deadline for all of it: connecting, sending, every read of the
answer, and the retries with their pauses. The socket is given what is left of it before each read and
write, so an answer dripped a byte at a time cannot outlast it. A failure says what is known:
:class:`~leanorm.errors.NotSent` when the request was never written whole (connect refused, reset while
sending: the server cannot have acted on it), :class:`~leanorm.errors.OutcomeUnknown` when it was sent and
no whole answer came (it may have been applied).

The async API (``leanorm.aio``) sends through :meth:`Transport.asend`: over HTTP,
:class:`AsyncHTTPTransport` (httpx, the ``leanorm[async]`` extra) under the same deadline, retry and
failure rules as :class:`HTTPTransport` (one place holds them: :class:`_HTTPRules`); into the embedded
server, its handler in a worker thread of a bounded pool, so that the event loop never waits on SQLite.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import socket
import ssl
import sys
import threading
import time
import urllib.request
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import (TYPE_CHECKING, Any, AsyncGenerator, AsyncIterator, Awaitable, Callable, ContextManager, Dict,
                    Iterator, Mapping, Optional, Protocol, Tuple, Type, TypeVar, Union)
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import ConfigurationError, NotSent, OutcomeUnknown, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .embedded import EmbeddedServer

__all__ = ["Request", "Response", "Transport", "HTTPTransport", "AsyncHTTPTransport", "LocalTransport", "Readable",
           "Body", "request_timeout"]

T = TypeVar("T")


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
    """Sends a :class:`Request` and returns a :class:`Response`: :meth:`send` blocking, :meth:`asend` on an
    event loop (the async API's sends)."""

    #: how many sends of the async API may run at once in the worker threads of :meth:`asend`'s default
    workers = 8

    def send(self, request: Request) -> Response:
        raise NotImplementedError

    async def asend(self, request: Request) -> Response:
        """Send on an event loop without blocking it. By default :meth:`send` runs in a worker thread
        (at most :attr:`workers` at once, the others wait their turn); transports with an async client
        of their own send through it instead."""
        return await self._in_worker(self.send, request)

    async def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in this transport's bounded pool of threads, in the caller's context.

        A task cancelled while waiting gets the cancellation once nothing of ``fn`` runs any more: a call
        no thread has started yet never starts; one already running (the embedded server handling the
        request) cannot be stopped, so it is waited for. What it does is then done before the task goes
        on (its next request cannot overtake it)."""
        pool = self.__dict__.get("_pool")
        if pool is None:
            with _pool_lock:
                pool = self.__dict__.get("_pool")
                if pool is None:
                    pool = self.__dict__["_pool"] = ThreadPoolExecutor(self.workers, "leanorm-send")
        call = pool.submit(contextvars.copy_context().run, fn, *args)
        outcome = asyncio.wrap_future(call)
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            if not call.cancel():  # running: let it end (asked to cancel again meanwhile, still let it end)
                while not outcome.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait({outcome})
                if not outcome.cancelled():
                    outcome.exception()  # its failure, if any, is superseded by the cancellation
            raise

    def _close_pool(self) -> None:
        pool = self.__dict__.pop("_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

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
        self._close_pool()

    async def aclose(self) -> None:
        """:meth:`close`, from async code (an async client's connections close on the loop)."""
        self.close()


_pool_lock = threading.Lock()

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


#: the redirect statuses (with a Location)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _refuse_redirect(what: str, status: int, headers: Mapping[str, str]) -> None:
    """Raise TransportError for a redirect, which neither HTTP transport follows: requests and httpx send
    custom headers on to any host a Location names (they drop only Authorization), so a hostile or
    spoofed server would get the app's keys (``X-LC-Key: <master key>,master``). ``headers`` look up
    names in any case (requests' and httpx's do)."""
    location = headers.get("Location") if status in _REDIRECTS else None
    if location is not None:
        raise TransportError(f"{what}: answered {status}, a redirect to {location!r}; leanorm follows no redirect "
                             "(the app's keys would go along): connect to the address the server means")


#: statuses that mean "not handled, ask again later" (safe requests are retried on them)
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class _HTTPRules:
    """What the sync and the async HTTP transports share: the base URL, the deadline of a request and
    which failures are retried. Requests that are safe to repeat (GET, HEAD) are retried with
    exponential backoff on connection errors and on 429/502/503/504 while the deadline allows; a write
    is sent again only when it never reached the server (:class:`~leanorm.errors.NotSent`, and its body
    is bytes), so a retry can never apply an Increment twice."""

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3, pool_size: int = 10,
                 backoff: float = 0.2) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.pool_size = pool_size
        self.backoff = backoff

    def seconds_for(self, request_timeout: Optional[float] = None) -> Optional[float]:
        return request_timeout or _block_timeout.get() or self.timeout

    def _plan(self, request: Request) -> "tuple[str, float, bool, bool]":
        """The request's URL, its deadline (time.monotonic), whether it is safe to repeat, and whether
        its body can be sent again."""
        absolute = request.path.startswith(("http://", "https://"))
        url = request.path if absolute else self.base_url + request.path
        seconds = self.seconds_for(request.timeout)
        assert seconds is not None
        replayable = request.body is None or isinstance(request.body, (bytes, bytearray))
        return url, time.monotonic() + seconds, request.method in ("GET", "HEAD"), replayable

    def _pause_after(self, outcome: Union[Response, NotSent, OutcomeUnknown], safe: bool, replayable: bool,
                     attempt_no: int, deadline: float) -> Optional[float]:
        """Seconds to wait before sending again after ``outcome`` (an answer or a failure), or None when
        it stands: not retryable, or retries or time used up."""
        if isinstance(outcome, NotSent):
            again = replayable
        elif isinstance(outcome, OutcomeUnknown):
            again = safe
        else:
            again = safe and outcome.status in _RETRY_STATUSES
        if not again or attempt_no >= self.retries:
            return None
        pause = self.backoff * (2 ** attempt_no)
        return pause if time.monotonic() + pause < deadline else None


class HTTPTransport(_HTTPRules, Transport):
    """HTTP through one pooled :class:`requests.Session`, each request bounded by a deadline.

    ``timeout`` (seconds) bounds a whole request: connect, send, read, retries; what is retried is
    :class:`_HTTPRules`'. The async API's sends go through an :class:`AsyncHTTPTransport` with the same
    settings (made on first use).
    """

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3, pool_size: int = 10,
                 backoff: float = 0.2) -> None:
        super().__init__(base_url, timeout, retries, pool_size, backoff)
        self.session = requests.Session()
        adapter = _TrackedAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._async: Optional[AsyncHTTPTransport] = None

    def send(self, request: Request) -> Response:
        url, deadline, safe, replayable = self._plan(request)
        attempt_no = 0
        while True:
            try:
                response = self._attempt(request, url, deadline)
            except (NotSent, OutcomeUnknown) as exc:
                pause = self._pause_after(exc, safe, replayable, attempt_no, deadline)
                if pause is None:
                    raise
            else:
                pause = self._pause_after(response, safe, replayable, attempt_no, deadline)
                if pause is None:
                    return response
            time.sleep(pause)
            attempt_no += 1

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
            r = self.session.request(request.method, url, params=request.params or None, data=request.body,
                                     headers=request.headers, timeout=(remaining, remaining), allow_redirects=False)
            _refuse_redirect(what, r.status_code, r.headers)
            return Response(r.status_code, r.content, r.headers)
        except requests.RequestException as exc:
            if attempt.written:
                raise OutcomeUnknown(f"{what}: sent, but no whole answer came: {exc}") from exc
            raise NotSent(f"{what}: not sent: {exc}") from exc
        finally:
            _deadline.reset(reset_deadline)
            _attempt.reset(reset_attempt)

    async def asend(self, request: Request) -> Response:
        if self._async is None:
            self._async = AsyncHTTPTransport(self.base_url, self.timeout, self.retries, self.pool_size,
                                             self.backoff)
        return await self._async.asend(request)

    def close(self) -> None:
        self.session.close()
        if self._async is not None:
            self._async.close()

    async def aclose(self) -> None:
        self.session.close()
        if self._async is not None:
            await self._async.aclose()


#: connections the async transport opens to a backend at most at once (the sync transport's
#: ``pool_size``, if larger): an async app's concurrent requests each get one, where ``pool_size`` (the
#: connections the sync transport keeps) would make them wait their turn; idle ones close after 5 s
ASYNC_CONNECTIONS = 100
#: httpx's trace events saying that the whole request (headers and body) has been written
_WRITTEN = frozenset({"http11.send_request_body.complete", "http2.send_request_body.complete"})
#: bytes read at a time from a file body sent by the async transport
_CHUNK = 64 * 1024


class AsyncHTTPTransport(_HTTPRules, Transport):
    """HTTP on an event loop, through httpx (the ``leanorm[async]`` extra), under the rules of
    :class:`HTTPTransport` (:class:`_HTTPRules`): one deadline for the whole request, retries of what is
    safe, and :class:`~leanorm.errors.NotSent` / :class:`~leanorm.errors.OutcomeUnknown` as there (httpx
    tells when the whole request was written). An httpx client's connections belong to the event loop
    that opened them: one pooled client per loop."""

    def __init__(self, base_url: str, timeout: float = 30.0, retries: int = 3, pool_size: int = 10,
                 backoff: float = 0.2) -> None:
        super().__init__(base_url, timeout, retries, pool_size, backoff)
        #: loop -> (its httpx client, the async generator that closes that client when the loop shuts down,
        #: the client's leanorm/http_pool.py pool or None under a proxy)
        self._clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Tuple[Any, Any, Any]]" = (
            weakref.WeakKeyDictionary())

    def send(self, request: Request) -> Response:
        raise TypeError("AsyncHTTPTransport sends from async code only (asend); HTTPTransport sends blocking")

    def _client(self) -> "Tuple[Any, Any, Any]":
        loop = asyncio.get_running_loop()
        held = self._clients.get(loop)
        if held is None:
            for other in [other for other in self._clients if other.is_closed()]:
                del self._clients[other]
            httpx = _httpx()
            limit = max(self.pool_size, ASYNC_CONNECTIONS)
            # as requests does: the environment's proxies and CA bundle honoured; no redirect followed
            # (_refuse_redirect)
            pool = None
            if set(urllib.request.getproxies()) - {"no"}:  # httpx's own pool, which routes through them
                limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
                client = httpx.AsyncClient(limits=limits, follow_redirects=False)
            else:  # a pool whose cost per request does not grow with its connections (leanorm/http_pool.py)
                pool = importlib.import_module("leanorm.http_pool").ConnectionPool(limit)
                client = httpx.AsyncClient(transport=pool, follow_redirects=False)
            held = self._clients[loop] = (client, _closed_with_the_loop(client), pool)
        return held

    async def asend(self, request: Request) -> Response:
        url, deadline, safe, replayable = self._plan(request)
        attempt_no = 0
        while True:
            try:
                response = await self._attempt(request, url, deadline)
            except (NotSent, OutcomeUnknown) as exc:
                pause = self._pause_after(exc, safe, replayable, attempt_no, deadline)
                if pause is None:
                    raise
            else:
                pause = self._pause_after(response, safe, replayable, attempt_no, deadline)
                if pause is None:
                    return response
            await asyncio.sleep(pause)
            attempt_no += 1

    async def _attempt(self, request: Request, url: str, deadline: float) -> Response:
        """Send once under what is left of the deadline; NotSent / OutcomeUnknown as
        :meth:`HTTPTransport._attempt`."""
        remaining = deadline - time.monotonic()
        what = f"{request.method} {url}"
        if remaining <= 0:
            raise NotSent(f"{what}: not sent, the deadline had passed")
        written = False

        async def trace(event: str, info: Any) -> None:
            nonlocal written
            if event in _WRITTEN:
                written = True

        body, headers = request.body, request.headers
        # A body goes in chunks of a known total: a connection lost while sending then fails the chunk after
        # it (NotSent), where one write of the whole would have "succeeded" into the event loop's buffer
        content: Any = body
        length = _known_length(body)
        if body is not None and not (isinstance(body, (bytes, bytearray)) and len(body) <= _CHUNK):
            content = _chunks_of(body)
            if length is not None:
                headers = {**headers, "Content-Length": str(length)}
        client, _, pool = self._client()
        try:
            # httpx (or httpcore) bounds each phase; the deadline bounds them together (a dripped answer included)
            if pool is not None and content is body:  # no body, or a small one: the pool's own lighter path
                answer = await _within(pool.fetch(_bare_request(request, url, remaining, trace)), remaining)
                got = _answer_of(answer)
            else:
                r = await _within(client.request(request.method, url, params=request.params or None, content=content,
                                                 headers=headers, timeout=remaining, extensions={"trace": trace}),
                                  remaining)
                got = Response(r.status_code, r.content, r.headers)
            _refuse_redirect(what, got.status, got.headers)
            return got
        except (OSError, asyncio.TimeoutError, _httpx().HTTPError) as exc:
            detail = str(exc) or type(exc).__name__
            if written:
                raise OutcomeUnknown(f"{what}: sent, but no whole answer came: {detail}") from exc
            raise NotSent(f"{what}: not sent: {detail}") from exc

    def close(self) -> None:
        # the connections of loops still running close with them; nothing can be awaited from here
        self._clients.clear()
        self._close_pool()

    async def aclose(self) -> None:
        held = self._clients.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held[0].aclose()
        self.close()


def _bare_request(request: Request, url: str, seconds: float, trace: Callable[..., Any]) -> Any:
    """``request`` (no body, or bytes) as httpcore's, with the headers httpx would add that the server
    needs: ``Host``, ``Content-Length``, and ``Accept-Encoding`` as requests sends it (the sync transport's)."""
    httpcore = importlib.import_module("httpcore")
    if request.params:
        url += ("&" if "?" in url else "?") + urlencode(request.params)
    host = urlsplit(url).netloc.rpartition("@")[2]  # as written: an IPv6 address keeps its brackets
    headers = [(b"Host", host.encode("idna")), (b"Accept-Encoding", b"gzip, deflate")]
    headers += [(name.encode("ascii"), value.encode("latin-1")) for name, value in request.headers.items()]
    body = request.body
    assert body is None or isinstance(body, (bytes, bytearray))  # larger and streamed bodies go through httpx
    if body is not None:
        headers.append((b"Content-Length", b"%d" % len(body)))
    phases = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    return httpcore.Request(request.method, httpcore.URL(url), headers=headers, content=body,
                            extensions={"timeout": phases, "trace": trace})


def _answer_of(answer: Any) -> Response:
    """httpcore's answer, read whole, as a :class:`Response` (its body decompressed as requests would)."""
    headers = CaseInsensitiveDict(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in answer.headers)
    body = answer.content
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "deflate") and body:
        try:
            body = zlib.decompress(body, 47 if encoding == "gzip" else zlib.MAX_WBITS)
        except zlib.error as exc:
            raise _httpx().DecodingError(f"an answer that says {encoding} but is not: {exc}") from exc
    return Response(answer.status, body, headers)


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, cancelled with :class:`asyncio.TimeoutError` after ``seconds``
    (``asyncio.timeout`` where there is one: no task of its own per request, as ``wait_for`` makes)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _closed_with_the_loop(client: Any) -> Any:
    """An async generator, started, whose end closes ``client``: the running loop tracks the generators
    first iterated on it and ends them when it shuts down (``asyncio.run`` does, so do servers), while it
    can still await. A loop's connections then close with it, rather than stay open, one set per loop, in
    a program that runs loops one after the other."""
    async def closer() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await client.aclose()

    generator = closer()
    try:
        generator.asend(None).send(None)  # to its first yield: no await before it, so this returns at once
    except StopIteration:
        pass
    return generator


def _httpx() -> Any:
    """The httpx module, imported by the first async send over HTTP (the ``leanorm[async]`` extra), not
    with leanorm. By name: a type checker following it would read httpx's dependencies (click, anyio),
    whose sources need a newer Python than the one leanorm's users may check for."""
    try:
        return importlib.import_module("httpx")
    except ImportError:
        raise ConfigurationError("the async API over HTTP needs httpx: pip install 'leanorm[async]'") from None


async def _chunks_of(body: Body) -> AsyncIterator[bytes]:
    """A body a chunk at a time; a file's read in a worker thread (a disk read must not block the event
    loop), never whole."""
    if isinstance(body, (bytes, bytearray)):
        view = memoryview(body)
        for start in range(0, len(view), _CHUNK):
            yield bytes(view[start:start + _CHUNK])
        return
    while True:
        chunk = await asyncio.to_thread(body.read, _CHUNK)
        if not chunk:
            return
        yield chunk


def _known_length(body: Optional[Body]) -> Optional[int]:
    """How many bytes ``body`` holds when that is known without reading it (bytes; a form that counted
    its parts, as its ``len`` attribute; a file from its position to its end), else None (sent chunked)."""
    if body is None or isinstance(body, (bytes, bytearray)):
        return None if body is None else len(body)
    counted = getattr(body, "len", None)
    if isinstance(counted, int):
        return counted
    stream: Any = body  # a Readable that may also tell and seek (an open file)
    try:
        position = stream.tell()
        end = stream.seek(0, 2)
        stream.seek(position)
        return int(end - position)
    except (AttributeError, OSError, ValueError):
        return None


class LocalTransport(Transport):
    """Hands the request straight to an embedded :class:`~leanorm.embedded.EmbeddedServer`: no socket, no
    thread (the async API's sends run the same handler in a worker thread: :meth:`Transport.asend`)."""

    def __init__(self, server: "EmbeddedServer", owned: bool = True) -> None:
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
        self._close_pool()
        if self.owned:
            self.server.close()
