"""The client side of the LiveQuery protocol over one connection: connect, subscriptions by
``requestId``, and reconnecting.

A :class:`LiveSession` holds one :class:`~leanorm.live_connection.LiveConnection` for the live queries
of one client, event loop and caller (``auth_context.identity()``: the connection's ``connect`` message
carries that caller's session token, or the master key), and reads it in a task of its own, handing
each subscription its events. When the connection drops it reconnects, waiting :class:`Backoff`
between attempts, subscribes every live query again under its ``requestId``, and hands each one a
:class:`Gap` once it is live again: changes made meanwhile were not sent, and the server does not
replay them. It closes its connection when its last subscription ends.

Everything here is wire data (dicts); ``leanorm.query.live`` makes model instances of it.
"""
from __future__ import annotations

import asyncio
import datetime
import itertools
import random
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple, Union

from . import auth_context
from .errors import ConfigurationError, ConnectionLost, LeanORMError, NotSupported, error_for
from .live_connection import OPEN_TIMEOUT, Connector, LiveConnection, checked_live_url, websocket_connector
from .protocol.livequery import EVENT_KINDS, connect_message, object_data, subscribe_message, unsubscribe_message

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["WireEvent", "Gap", "Backoff", "Subscription", "LiveSession", "session_for"]


class WireEvent:
    """One change a subscription saw: its ``kind`` (``protocol.livequery.EVENT_KINDS``), the object as the
    REST API answers it, and the object before the change when the server sends it."""

    __slots__ = ("kind", "object", "original")

    def __init__(self, kind: str, object: Dict[str, Any], original: Optional[Dict[str, Any]]) -> None:
        self.kind = kind
        self.object = object
        self.original = original


class Gap:
    """Changes between ``since`` and ``until`` may not have been delivered (``reason`` says why)."""

    __slots__ = ("since", "until", "reason")

    def __init__(self, since: datetime.datetime, until: datetime.datetime, reason: str) -> None:
        self.since = since
        self.until = until
        self.reason = reason


class Backoff:
    """The wait before each reconnection attempt: exponential from ``first`` seconds, capped at ``cap``,
    with full jitter (each wait drawn uniformly below its bound), so that the clients of a server that
    restarts do not all come back at the same instant."""

    def __init__(self, first: float = 0.5, cap: float = 30.0, draw: Callable[[], float] = random.random) -> None:
        self.first = first
        self.cap = cap
        self.draw = draw

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0 for the first after a drop)."""
        return min(self.cap, self.first * 2 ** min(attempt, 32)) * self.draw()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


Item = Union[WireEvent, Gap, BaseException]

#: events a subscription holds for a consumer that does not read them; past that, they are dropped and
#: a :class:`Gap` says so (a live query must not grow without bound behind a stalled consumer)
MAX_PENDING = 10_000


class Subscription:
    """One live query on a session: its events, in the order the server sent them."""

    def __init__(self, session: "LiveSession", request_id: int, message: Dict[str, Any]) -> None:
        self.session = session
        self.request_id = request_id
        #: the ``subscribe`` message, sent again after each reconnection
        self.message = message
        self.confirmed: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        #: when the connection dropped while this subscription was live (None while it is live)
        self.dropped_at: Optional[datetime.datetime] = None
        self._items: "asyncio.Queue[Item]" = asyncio.Queue()
        #: when the consumer last took an item (what was queued since may be dropped: :data:`MAX_PENDING`)
        self._last_read = _now()

    def put(self, item: Item) -> None:
        if isinstance(item, WireEvent) and self._items.qsize() >= MAX_PENDING:
            dropped = self._items.qsize() + 1
            while not self._items.empty():
                self._items.get_nowait()
            item = Gap(self._last_read, _now(), f"the live query fell {dropped} changes behind; they were dropped")
        self._items.put_nowait(item)

    async def next(self) -> Union[WireEvent, Gap]:
        """The next event or gap; the error that ended the subscription, once it ended."""
        item = await self._items.get()
        self._last_read = _now()
        if isinstance(item, BaseException):
            self.put(item)  # ended for good: every later call says so too
            raise item
        return item

    async def close(self) -> None:
        """End the subscription (``unsubscribe``)."""
        await self.session.unsubscribe(self)


class LiveSession:
    """One connection's live queries (see the module's docstring)."""

    def __init__(self, connector: Connector, hello: Dict[str, Any], backoff: Optional[Backoff] = None) -> None:
        self.connector = connector
        #: the ``connect`` message, sent on each connection
        self.hello = hello
        self.backoff = backoff or Backoff()
        self.subscriptions: Dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._connection: Optional[LiveConnection] = None
        self._reader: Optional["asyncio.Task[None]"] = None
        self._starting = asyncio.Lock()

    # -- subscriptions ----------------------------------------------------------------------------------
    async def subscribe(self, class_name: str, where: Dict[str, Any], keys: Optional[Sequence[str]] = None,
                        watch: Optional[Sequence[str]] = None) -> Subscription:
        """Subscribe to a query, once the server confirmed it: from then on, every change it sees is
        handed to the subscription. The server's refusal raises its error (``PermissionDenied``...), and
        so does a failure of the first connection (:class:`ConnectionLost`, or the refusal of ``connect``)."""
        await self._start()
        request_id = next(self._ids)
        message = subscribe_message(request_id, class_name, where, keys, watch, self.hello.get("sessionToken"))
        subscription = Subscription(self, request_id, message)
        self.subscriptions[request_id] = subscription
        if self._connection is not None:
            try:
                await self._connection.send(subscription.message)
            except ConnectionLost:
                pass  # the reader reconnects and sends it with the others
        try:
            await subscription.confirmed
        except BaseException:
            self.subscriptions.pop(request_id, None)
            await self._release()
            raise
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription``; the connection closes with the last one."""
        if self.subscriptions.pop(subscription.request_id, None) is None:
            return
        if self._connection is not None:
            try:
                await self._connection.send(unsubscribe_message(subscription.request_id))
            except ConnectionLost:
                pass
        await self._release()

    # -- the connection ---------------------------------------------------------------------------------
    async def _open(self) -> LiveConnection:
        """A new connection, past ``connect``: :class:`ConnectionLost` when it cannot be opened, the
        server's error when it refuses the keys."""
        connection = await self.connector()
        try:
            await connection.send(self.hello)
            answer = await asyncio.wait_for(connection.receive(), OPEN_TIMEOUT)
        except asyncio.TimeoutError:
            await connection.close()
            raise ConnectionLost("the live server did not answer connect") from None
        except BaseException:
            await connection.close()
            raise
        if answer.get("op") != "connected":
            await connection.close()
            raise _refusal(answer, "connect")
        return connection

    async def _start(self) -> None:
        async with self._starting:
            if self._reader is None:
                self._connection = await self._open()
                self._reader = asyncio.ensure_future(self._read())

    async def _release(self) -> None:
        """Close the connection and stop its reader once no subscription is left."""
        if self.subscriptions or self._reader is None:
            return
        reader, self._reader = self._reader, None
        connection, self._connection = self._connection, None
        reader.cancel()
        if connection is not None:
            await connection.close()

    async def _read(self) -> None:
        """The reader: hands out what the server sends; reconnects when the connection drops."""
        try:
            while True:
                connection = self._connection
                try:
                    while connection is not None:
                        self._dispatch(await connection.receive())
                except ConnectionLost:
                    pass
                dropped = _now()
                self._connection = None
                if connection is not None:
                    await connection.close()  # a server that asked for a reconnection may keep it open
                for subscription in self.subscriptions.values():
                    if subscription.confirmed.done() and subscription.dropped_at is None:
                        subscription.dropped_at = dropped
                await self._reconnect()
        except Exception as exc:
            # the server refused to take us back, or refused the connection itself (or the connection
            # failed in a way it should not): every live query ends with its reason
            if not isinstance(exc, LeanORMError):
                exc = ConnectionLost(f"the live connection failed: {exc!r}")
            connection, self._connection, self._reader = self._connection, None, None
            for subscription in self.subscriptions.values():
                _end(subscription, exc)
            self.subscriptions.clear()
            if connection is not None:
                await connection.close()

    async def _reconnect(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1
            try:
                connection = await self._open()
            except ConnectionLost:
                continue
            self._connection = connection
            try:
                for subscription in list(self.subscriptions.values()):
                    await connection.send(subscription.message)
            except ConnectionLost:
                self._connection = None
                await connection.close()
                continue
            return

    def _dispatch(self, message: Dict[str, Any]) -> None:
        op = message.get("op")
        request_id = message.get("requestId")
        subscription = self.subscriptions.get(request_id) if isinstance(request_id, int) else None
        if op in EVENT_KINDS:
            if subscription is not None and isinstance(message.get("object"), dict):
                original = message.get("original")
                subscription.put(WireEvent(op, object_data(message["object"]),
                                           object_data(original) if isinstance(original, dict) else None))
        elif op == "subscribed":
            if subscription is None:
                return
            if not subscription.confirmed.done():
                subscription.confirmed.set_result(None)
            elif subscription.dropped_at is not None:
                subscription.put(Gap(subscription.dropped_at, _now(), "the live connection dropped and was "
                                                                      "opened again"))
                subscription.dropped_at = None
        elif op == "error":
            error = _refusal(message, "subscribe")
            if subscription is None:
                if request_id is None and message.get("reconnect") is True:
                    # the server ends the connection and asks to be connected again (e.g. it fell
                    # behind and missed changes): a drop, with the server's reason
                    raise ConnectionLost(f"the live server closed the connection: {message.get('error', '')}")
                if request_id is None:  # about the connection itself: it cannot go on
                    raise error
                return
            if not subscription.confirmed.done() or subscription.dropped_at is not None:
                # refused (again, after a reconnection: a session that expired meanwhile)
                self.subscriptions.pop(subscription.request_id, None)
                _end(subscription, error)
            else:
                # the server failed to send one event (Parse: an afterEvent trigger that threw) and keeps
                # the subscription: that change was missed
                moment = _now()
                subscription.put(Gap(moment, moment, f"the server failed to send a change: {error}"))


def _end(subscription: Subscription, error: BaseException) -> None:
    if subscription.confirmed.done():
        subscription.put(error)
    else:
        subscription.confirmed.set_exception(error)


def _refusal(message: Dict[str, Any], what: str) -> LeanORMError:
    """The error a LiveQuery ``error`` message (or an unexpected answer) stands for."""
    if message.get("op") == "error":
        code = message.get("code")
        return error_for(code if isinstance(code, int) else 1,
                         f"the live server refused {what}: {message.get('error', '')}")
    return ConnectionLost(f"the live server answered {what} with {str(message)[:200]}")


#: loop -> client -> (identity, url) -> session: a session and its connection belong to one event loop
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Client, Dict[Tuple[str, Optional[str]], LiveSession]]]" = weakref.WeakKeyDictionary()


def session_for(client: "Client", url: Optional[str] = None) -> LiveSession:
    """The live session of ``client`` for the calling code's event loop and caller (its user's session
    token, or the master key when it uses it), over ``url`` when given, else the client's own
    connector (``Client.live_connector``); :class:`NotSupported` when the backend has none."""
    url = checked_live_url(url)
    connector = websocket_connector(url) if url else client.live_connector
    if connector is None:
        raise NotSupported("live queries", client.backend, "this backend has no LiveQuery server known to leanorm; "
                           "give its WebSocket URL: connect(..., live_url=...) or live(url=...)")
    master = auth_context.master_active()
    if master and not client.master_key:
        raise ConfigurationError("using_master() needs a master key: pass master_key to connect()")
    loop = asyncio.get_running_loop()
    by_client = _sessions.setdefault(loop, weakref.WeakKeyDictionary())
    sessions = by_client.setdefault(client, {})
    key = (auth_context.identity(), url)
    session = sessions.get(key)
    if session is None:
        hello = connect_message(client.app_id, client.app_key, client.master_key if master else None,
                                auth_context.session_token())
        session = sessions[key] = LiveSession(connector, hello, client.live_backoff)
    return session

