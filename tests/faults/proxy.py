"""A fault-injecting TCP proxy for tests: 127.0.0.1 on a port the OS picks, forwarding to one target.

It runs an asyncio loop in a thread of its own. Its ``mode`` decides what happens to the bytes of every
connection from the moment it is set (pooled keep-alive connections included):

``pass``          both ways as they come
``reset_before``  the client's bytes are not forwarded: its connection is reset (RST) when they arrive
``reset_after``   the client's bytes are forwarded; when the server answers, the client's connection is
                  reset instead of getting the answer (the server has acted on the request)
``stall``         the client's bytes are forwarded; the answer is held back, the connection stays open
``stall_before``  the client's bytes are held back (the server never sees the request), the connection
                  stays open
``drip``          the answer is passed on one byte every ``drip_delay`` seconds
``flaky``         a link that fails now and then (``fault("flaky", rate=0.05, seed=1)``): each exchange is
                  reset with probability ``rate``, half the time before the server sees the request,
                  half the time after it answered

``fault(mode, times=n)`` applies a mode to the next ``n`` faults only, then goes back to ``pass``;
``fault(mode, only=b"POST /1.1/batch")`` only to requests that start with those bytes (the last bytes
the client sent on the connection decide). ``faults`` counts the faults applied, ``connections`` the
connections accepted; ``resets`` counts the resets by kind (``before``, ``after``).
"""
from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from typing import List, Optional, Set

MODES = ("pass", "reset_before", "reset_after", "stall", "stall_before", "drip", "flaky")
CHUNK = 65536


class FaultProxy:
    """Forward 127.0.0.1:``port`` to ``target_host``:``target_port``, injecting the current mode's fault."""

    def __init__(self, target_host: str, target_port: int, drip_delay: float = 0.05) -> None:
        self.target = (target_host, target_port)
        self.drip_delay = drip_delay
        self.mode = "pass"
        self.remaining: Optional[int] = None  # faults left before going back to "pass" (None: no limit)
        self.only: bytes = b""  # the start of the requests the faults apply to (b"": all)
        self.rate = 0.0  # "flaky": the probability of a reset
        self._random = random.Random(0)
        self.faults = 0
        self.resets = {"before": 0, "after": 0}
        self.connections = 0
        self._lock = threading.Lock()
        self._writers: Set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop).result(10)
        self.port: int = self._server.sockets[0].getsockname()[1]

    def fault(self, mode: str, times: Optional[int] = None, only: bytes = b"", rate: float = 0.05,
              seed: int = 0) -> None:
        """Apply ``mode`` from now on (to the next ``times`` faults only, when given; to requests that
        start with ``only``, when given; ``flaky`` at ``rate``, its draws seeded by ``seed``)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        with self._lock:
            self.mode, self.remaining, self.only = mode, times, only
            self.rate, self._random = rate, random.Random(seed)

    def _take(self, request: bytes, *modes: str) -> Optional[str]:
        """The current mode if it is one of ``modes`` and applies to ``request`` (counting it as a fault
        applied), else None."""
        with self._lock:
            mode = self.mode
            if mode == "flaky":  # a reset, before forwarding (the up pump asks) or after (the down pump)
                mode = "reset_before" if "reset_before" in modes else "reset_after"
                if self._random.random() >= self.rate / 2:  # two draws an exchange: up, then down
                    return None
            if mode not in modes or not request.startswith(self.only):
                return None
            self.faults += 1
            if mode in ("reset_before", "reset_after"):
                self.resets[mode[len("reset_"):]] += 1
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining, self.only = "pass", None, b""
            return mode

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_writer)
            return
        self._writers.update((client_writer, server_writer))
        last = [b""]  # the last bytes the client sent: the request being answered
        upstream = asyncio.ensure_future(self._pump_up(client_reader, client_writer, server_writer, last))
        downstream = asyncio.ensure_future(self._pump_down(server_reader, client_writer, server_writer, last))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_writer, server_writer):
            self._writers.discard(writer)
            writer.close()

    async def _pump_up(self, reader: asyncio.StreamReader, client: asyncio.StreamWriter,
                       server: asyncio.StreamWriter, last: List[bytes]) -> None:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return
            if data[:1].isalpha():  # a request line starts here (bodies of ours are JSON or long strings)
                last[0] = data
            mode = self._take(last[0], "reset_before", "stall_before")
            if mode == "reset_before":
                _reset(client)
                _reset(server)
                return
            if mode == "stall_before":  # never forwarded: what else comes is dropped, until the client hangs up
                while await reader.read(CHUNK):
                    pass
                return
            server.write(data)
            await server.drain()

    async def _pump_down(self, reader: asyncio.StreamReader, client: asyncio.StreamWriter,
                         server: asyncio.StreamWriter, last: List[bytes]) -> None:
        held = False
        while True:
            data = await reader.read(CHUNK)
            if not data:
                if held:  # a stalled answer stays stalled: keep the client waiting
                    await asyncio.Event().wait()
                return
            mode = "stall" if held else self._take(last[0], "reset_after", "stall", "drip")
            if mode == "reset_after":
                _reset(client)
                _reset(server)
                return
            if mode == "stall":
                held = True
                continue
            if mode == "drip":
                for i in range(len(data)):
                    client.write(data[i:i + 1])
                    await client.drain()
                    await asyncio.sleep(self.drip_delay)
                continue
            client.write(data)
            await client.drain()

    def drop(self) -> None:
        """Reset every open connection now (both ends), as a link that went down; keep listening."""
        async def reset_all() -> None:
            for writer in list(self._writers):
                _reset(writer)
        asyncio.run_coroutine_threadsafe(reset_all(), self._loop).result(10)

    def hang_up(self) -> None:
        """Close every open connection (with a FIN, as a server ending idle keep-alive connections does);
        new ones are still accepted."""
        async def close_all() -> None:
            writers = list(self._writers)
            for writer in writers:
                writer.close()
            # closed once this returns: the FIN is on its way before the caller goes on
            await asyncio.gather(*(writer.wait_closed() for writer in writers), return_exceptions=True)
        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)

    def close(self) -> None:
        """Stop listening, drop every connection and stop the loop."""
        async def shut() -> None:
            self._server.close()
            for writer in list(self._writers):
                _reset(writer)
        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (RST), not a FIN: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
