"""The async HTTP transport's connection pool: each origin's idle connections on a stack, O(1) a request.

httpx's own pool (httpcore's ``AsyncConnectionPool``) re-examines every connection, and every waiting
request, each time a request starts or ends (a poll of each idle socket among them), so its cost per
request grows with the connections it holds: measured at 1.5 ms of client CPU per request with 10
connections and 7.7 ms with 64, where the sync transport spends about 1 ms (benchmarks/README.md,
issue 22). Here a request takes the origin's most recently used idle connection, checking that one only
(its keep-alive time, and whether the server closed it), or opens a new one: at most ``limit`` are open
at once, the other requests wait their turn (the request's deadline, which the transport puts around the
whole exchange, bounds the wait). A connection goes back once its answer was read whole; after a failed
or cancelled exchange it is closed, never reused in an unknown state. Idle connections close after
``keepalive`` seconds (the oldest is checked at each hand-back).

The connections are httpcore's, as under httpx's own pool (HTTP/1.1, TLS with httpx's certificates, the
trace events the transport reads to tell ``NotSent`` from ``OutcomeUnknown``); httpx's client above it
builds the requests and follows redirects, and a URL the environment's proxy settings cover goes through
httpx's own transport instead. httpcore's errors are raised as httpx's.

Imported by the first async send over HTTP (``leanorm.transport``), as httpx is: the ``leanorm[async]``
extra.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any, AsyncIterator, Deque, Dict, Iterator, Tuple

import httpcore
import httpx

__all__ = ["ConnectionPool"]

#: an origin as a key: httpcore's ``Origin`` is not hashable
_Key = Tuple[bytes, bytes, int]


class ConnectionPool(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections for one event loop: at most ``limit`` open, idle ones kept ``keepalive`` s."""

    def __init__(self, limit: int, keepalive: float = 5.0) -> None:
        self._keepalive = keepalive
        self._ssl_context = httpx.create_ssl_context()
        self._idle: Dict[_Key, Deque[httpcore.AsyncHTTPConnection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        answer, key, connection = await self._exchange(httpcore.Request(
            request.method, httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions))
        return httpx.Response(answer.status, headers=answer.headers, extensions=answer.extensions,
                              stream=_Answer(answer.stream, self, key, connection))

    async def fetch(self, exchange: httpcore.Request) -> httpcore.Response:
        """Send ``exchange`` and read its answer whole (``.content``): the transport's requests with a
        small body, without httpx's request and response objects around them (their URL parsing and
        header handling: 15-19 % of the async client's CPU per request; benchmarks/README.md). The
        request goes as given: its ``Host`` and ``Content-Length`` headers are the caller's to set."""
        answer, key, connection = await self._exchange(exchange)
        try:
            with _as_httpx_errors():
                await answer.aread()
                await answer.aclose()
        finally:
            await self._hand_back(key, connection)
        return answer

    async def _exchange(self, exchange: httpcore.Request) -> "Tuple[httpcore.Response, _Key, httpcore.AsyncHTTPConnection]":
        """Send ``exchange`` on an idle or a new connection, holding one of the ``limit`` slots until the
        connection is handed back: its answer (headers read), the origin and the connection."""
        origin = exchange.url.origin
        key = (origin.scheme, origin.host, origin.port)
        await self._slots.acquire()
        try:
            connection = await self._idle_connection(key)
            if connection is None:
                connection = httpcore.AsyncHTTPConnection(origin, ssl_context=self._ssl_context,
                                                          keepalive_expiry=self._keepalive)
            try:
                with _as_httpx_errors():
                    answer = await connection.handle_async_request(exchange)
            except BaseException:
                await _close(connection)  # in whatever state the failure left it
                raise
        except BaseException:
            self._slots.release()
            raise
        return answer, key, connection

    async def _idle_connection(self, key: _Key) -> "httpcore.AsyncHTTPConnection | None":
        """The origin's most recently used idle connection still good to use, closing the ones that are
        not (expired, or closed by the server)."""
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.has_expired():
                return connection
            await _close(connection)
        return None

    async def _hand_back(self, key: _Key, connection: httpcore.AsyncHTTPConnection) -> None:
        """Take ``connection`` back once its answer was closed: kept if it is idle (the answer read whole),
        else closed; the origin's oldest idle connection closed if its keep-alive time is over."""
        self._slots.release()
        idle = self._idle.setdefault(key, collections.deque())
        if connection.is_idle() and not self._closed:
            idle.append(connection)
        else:
            await _close(connection)
        if idle and idle[0].has_expired():
            await _close(idle.popleft())

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                await _close(idle.pop())


class _Answer(httpx.AsyncByteStream):
    """An answer's body; closing it hands its connection back to the pool (once)."""

    def __init__(self, stream: Any, pool: ConnectionPool, key: _Key, connection: httpcore.AsyncHTTPConnection) -> None:
        self._stream, self._pool, self._key, self._connection = stream, pool, key, connection
        self._handed_back = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        try:
            with _as_httpx_errors():
                await self._stream.aclose()
        finally:
            if not self._handed_back:
                self._handed_back = True
                await self._pool._hand_back(self._key, self._connection)


async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
    """Close a connection that will not be used again (a failure to close it changes nothing)."""
    with contextlib.suppress(Exception):
        await connection.aclose()


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's errors as httpx's (the transport tells the kinds apart by httpx's)."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc)) from exc
    except httpcore.NetworkError as exc:
        raise httpx.NetworkError(str(exc)) from exc
    except httpcore.ProtocolError as exc:
        raise httpx.ProtocolError(str(exc)) from exc
    except (httpcore.ConnectionNotAvailable, httpcore.UnsupportedProtocol, httpcore.ProxyError) as exc:
        raise httpx.TransportError(str(exc)) from exc
