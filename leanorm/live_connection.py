"""The connection a live query speaks over: JSON messages in, JSON messages out.

:class:`LiveConnection` is what the protocol logic (``leanorm.live_session``) needs of a transport:
``send`` a message, ``receive`` the next one, ``close``; a dropped connection raises
:class:`~leanorm.errors.ConnectionLost` from ``send`` or ``receive``. A :data:`Connector` opens one.
Over HTTP backends it is a WebSocket (the ``websockets`` library, the ``leanorm[live]`` extra, imported
when the first live query connects, never with leanorm); an embedded server in this process hands out
its connections itself (:func:`in_process_connector` over ``EmbeddedServer.live_connection``: no socket,
the same messages as dicts).
"""
from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any, Awaitable, Callable, Dict, Optional
from urllib.parse import urlsplit

from typing_extensions import Protocol

from .errors import ConfigurationError, ConnectionLost

__all__ = ["LiveConnection", "Connector", "WebSocketConnection", "websocket_connector", "in_process_connector",
           "live_url_for", "checked_live_url"]

#: the largest message a live connection takes (an event carries a whole object, as a query page does)
MAX_MESSAGE = 16 * 1024 * 1024
#: seconds to open a WebSocket (TCP, TLS and the upgrade) before the attempt counts as failed
OPEN_TIMEOUT = 10.0


class LiveConnection(Protocol):
    """One open connection to a LiveQuery server."""

    async def send(self, message: Dict[str, Any]) -> None:
        """Send one message; :class:`ConnectionLost` when the connection is gone."""

    async def receive(self) -> Dict[str, Any]:
        """The next message; :class:`ConnectionLost` when the connection dropped (or sent no JSON object)."""

    async def close(self) -> None:
        """Close the connection (a no-op when it is closed already)."""


#: opens a connection (raising :class:`ConnectionLost` when it cannot)
Connector = Callable[[], Awaitable[LiveConnection]]


class WebSocketConnection:
    """A :class:`LiveConnection` over a ``websockets`` client connection (text frames of JSON)."""

    def __init__(self, socket: Any, url: str) -> None:
        self.socket = socket
        self.url = url

    async def send(self, message: Dict[str, Any]) -> None:
        try:
            await self.socket.send(json.dumps(message, separators=(",", ":")))
        except _websockets().exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"the live connection to {self.url} dropped: {exc}") from exc

    async def receive(self) -> Dict[str, Any]:
        try:
            frame = await self.socket.recv()
        except _websockets().exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"the live connection to {self.url} dropped: {exc}") from exc
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.close()
            raise ConnectionLost(f"the live server at {self.url} sent what is not a JSON object: {str(frame)[:200]}")
        return message

    async def close(self) -> None:
        await self.socket.close()


def websocket_connector(url: str) -> Connector:
    """A connector opening WebSockets to ``url`` (``ws://`` or ``wss://``)."""
    async def open_websocket() -> LiveConnection:
        websockets = _websockets()
        client = importlib.import_module("websockets.asyncio.client")
        try:
            socket = await client.connect(url, open_timeout=OPEN_TIMEOUT, max_size=MAX_MESSAGE)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise ConnectionLost(f"cannot open the live connection to {url}: {exc!r}") from exc
        return WebSocketConnection(socket, url)
    return open_websocket


def in_process_connector(open_connection: Callable[[], LiveConnection]) -> Connector:
    """A connector to a LiveQuery server in this process: ``open_connection()`` makes each connection
    (``EmbeddedServer.live_connection``, whose connections raise a :class:`ConnectionLost` when closed)."""
    async def open_in_process() -> LiveConnection:
        return open_connection()
    return open_in_process


def live_url_for(server_url: str, prefix: str) -> str:
    """The WebSocket URL of a LiveQuery server sharing an HTTP server (as Parse Server's does): the same
    host, port and path, ``ws``/``wss`` for ``http``/``https``."""
    parts = urlsplit(server_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{prefix.rstrip('/') or '/'}"


def _websockets() -> Any:
    """The websockets module, imported when a live query first connects (the ``leanorm[live]`` extra),
    not with leanorm: a client that never goes live never loads it."""
    try:
        return importlib.import_module("websockets")
    except ImportError:
        raise ConfigurationError("live queries over WebSocket need websockets: pip install 'leanorm[live]'") from None


def checked_live_url(url: Optional[str]) -> Optional[str]:
    """``url`` when it is a WebSocket URL (``ws://``, ``wss://``) or None; ValueError otherwise."""
    if url is not None and urlsplit(url).scheme not in ("ws", "wss"):
        raise ValueError(f"live_url is a ws:// or wss:// URL, not {url!r}")
    return url
