"""The way out of one live connection: messages put from any thread (the change feed's reader, request
threads), taken on the connection's event loop, bounded."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Optional, Protocol

__all__ = ["Outlet", "LoopOutlet"]


class Outlet(Protocol):
    """Where a live connection's messages go (a WebSocket, an in-process connection)."""

    def put(self, data: bytes, force: bool = False) -> bool:
        """Queue one encoded message; False (nothing queued) when ``max_pending`` are waiting already,
        unless ``force`` (the last message of a connection being closed)."""

    def close(self) -> None:
        """End the connection once what is queued is sent."""


class LoopOutlet:
    """An :class:`Outlet` feeding an asyncio queue of ``loop`` from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int) -> None:
        self.loop, self.max_pending = loop, max_pending
        self.queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
        self.closed = False

    def _hand(self, item: Optional[bytes]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: so is the connection
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def put(self, data: bytes, force: bool = False) -> bool:
        if self.closed:
            return True
        if not force and self.queue.qsize() >= self.max_pending:  # read across threads: a bound, not a count
            return False
        self._hand(data)
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hand(None)

    async def get(self) -> Optional[bytes]:
        """The next message; None once the connection is closed and every message before was taken."""
        return await self.queue.get()
