"""A live connection in-process: Parse's LiveQuery messages as Python dicts, without a socket
(``EmbeddedServer.live_connection()``, what a ``local://`` client's live queries use)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

import orjson

from ...errors import ConnectionLost
from .clients import LiveClient
from .hub import LiveQueries
from .messages import INVALID_MESSAGE, LiveError, error
from .outlet import LoopOutlet

__all__ = ["LocalLiveConnection", "LiveConnectionClosed"]


class LiveConnectionClosed(ConnectionLost):
    """The connection is closed (by :meth:`LocalLiveConnection.close`, or by the server) and every
    message it had received was read. A :class:`~leanorm.errors.ConnectionLost`: what the ORM's live
    queries expect of a connection that dropped (``leanorm.live_connection.LiveConnection``), so a
    ``local://`` client's live queries reconnect when the server closes their connection."""


class LocalLiveConnection:
    """One live connection to an embedded server in this process, speaking the same messages as the
    WebSocket of ``leanorm serve``: ``await send({"op": "connect", ...})``, then ``await receive()`` for
    ``connected``, ``subscribed``, events and errors, ``await close()`` at the end.

    It belongs to the event loop it is first used on (messages are handed to it from the server's
    threads). A message goes through JSON as over a socket: what JSON cannot carry is refused (error 1).
    """

    def __init__(self, hub: LiveQueries, address: str = "local") -> None:
        self._hub, self._address = hub, address
        self._outlet: Optional[LoopOutlet] = None
        self._client: Optional[LiveClient] = None
        self._refused: Optional[str] = None  # why the server would not open it (a bound)

    def _opened(self) -> LoopOutlet:
        if self._outlet is None:
            self._outlet = LoopOutlet(asyncio.get_running_loop(), self._hub.limits.max_pending,
                                      self._hub.limits.max_pending_bytes)
            try:
                self._client = self._hub.open(self._outlet, self._address)
            except LiveError as exc:  # past a bound: the one message, then the end, as over a socket
                self._refused = exc.message
                self._outlet.put(orjson.dumps(exc.as_message()), force=True)
                self._outlet.close()
        return self._outlet

    async def send(self, message: Dict[str, Any]) -> None:
        """Send one message (a dict) to the server; its answer comes through :meth:`receive`."""
        outlet = self._opened()
        if self._client is None or self._client.closed:
            raise LiveConnectionClosed(self._refused or "The live connection is closed.")
        try:
            data = orjson.dumps(message)
        except TypeError as exc:
            outlet.put(orjson.dumps(error(INVALID_MESSAGE, f"Invalid message: {exc}.")))
            return
        await asyncio.get_running_loop().run_in_executor(None, self._client.receive, data)

    async def receive(self) -> Dict[str, Any]:
        """The next message from the server; :class:`LiveConnectionClosed` once the connection is closed."""
        data = await self._opened().get()
        if data is None:
            raise LiveConnectionClosed("The live connection is closed.")
        message: Dict[str, Any] = orjson.loads(data)
        return message

    async def close(self) -> None:
        """End the connection and its subscriptions."""
        outlet = self._opened()
        if self._client is not None:
            self._hub.close(self._client)
        outlet.close()
