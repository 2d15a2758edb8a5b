"""The way out of one live connection: messages put from any thread (the change feed's reader, request
threads), taken on the connection's event loop, bounded."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Optional, Protocol

__all__ = ["Outlet", "LoopOutlet"]


class Outlet(Protocol):
    """Where a live connection's messages go (a WebSocket, an in-process connection)."""

    def put(self, data: bytes, force: bool = False) -> bool:
        """Queue one encoded message; False (nothing queued) when ``max_pending`` messages, or
        ``max_pending_bytes`` bytes with it, are waiting already, unless ``force`` (the last message of a
        connection being closed)."""

    def close(self) -> None:
        """End the connection once what is queued is sent."""


class LoopOutlet:
    """An :class:`Outlet` feeding an asyncio queue of ``loop`` from any thread: at most ``max_pending``
    messages and ``max_bytes`` bytes (past one message, so a large one still goes to a reader that keeps
    up) wait at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int, max_bytes: int) -> None:
        self.loop, self.max_pending, self.max_bytes = loop, max_pending, max_bytes
        self.queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
        self.closed = False
        self._lock = threading.Lock()  # put from the server's threads, taken on the loop
        self._waiting = 0  # messages put and not yet taken
        self._bytes = 0  # their size

    def _hand(self, item: Optional[bytes]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: so is the connection
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def put(self, data: bytes, force: bool = False) -> bool:
        if self.closed:
            return True
        with self._lock:
            if not force and self._waiting and (self._waiting >= self.max_pending
                                                or self._bytes + len(data) > self.max_bytes):
                return False
            self._waiting += 1
            self._bytes += len(data)
        self._hand(data)
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hand(None)

    async def get(self) -> Optional[bytes]:
        """The next message; None once the connection is closed and every message before was taken."""
        data = await self.queue.get()
        if data is not None:
            with self._lock:
                self._waiting -= 1
                self._bytes -= len(data)
        return data
