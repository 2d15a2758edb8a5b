"""A TCP proxy that resets connections at random, for the migration's flaky-link test.

Each chunk a client sends is, with probability ``rate``: dropped and the client's connection reset
(the request never reached the server), or forwarded and the connection reset once the server starts
answering (the request was applied, the client never hears it). Everything else passes through.
"""
from __future__ import annotations

import random
import select
import socket
import struct
import threading
from typing import List, Optional, Tuple

__all__ = ["ResetProxy"]


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0), as a broken link does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class ResetProxy:
    """Listens on 127.0.0.1 (a port the OS picks) and forwards to ``upstream``; ``start()``/``stop()``."""

    def __init__(self, upstream: Tuple[str, int], rate: float, seed: int = 0) -> None:
        self.upstream, self.rate = upstream, rate
        self.random = random.Random(seed)
        self.resets = {"before": 0, "after": 0}
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: List[socket.socket] = []
        self._stopped = False

    def start(self) -> "ResetProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        for sock in list(self._open):
            try:
                sock.close()
            except OSError:
                pass

    def _fault(self) -> Optional[str]:
        with self._lock:
            if self.random.random() >= self.rate:
                return None
            kind = self.random.choice(("before", "after"))
            self.resets[kind] += 1
            return kind

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            _reset(client)
            return
        self._open += [client, server]
        doomed = False  # a request was forwarded under the "after" fault: reset when the answer starts
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [], 60)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is server:
                        if doomed:
                            _reset(client)
                            return
                        client.sendall(data)
                        continue
                    fault = None if doomed else self._fault()
                    if fault == "before":
                        _reset(client)
                        return
                    server.sendall(data)  # (the rest of a request sent in pieces goes on too)
                    doomed = doomed or fault == "after"
        except OSError:
            return
        finally:
            for sock in (client, server):
                try:
                    sock.close()
                except OSError:
                    pass
                if sock in self._open:
                    self._open.remove(sock)
