"""A TCP link to a database server that a test can cut the way a network partition does: the server's
side of every open connection ends, and the client's side is never told (no FIN, no RST), until it sends
something, which is then refused (reset), as the server's machine refuses bytes for a connection it no
longer knows. New connections pass as before (the network is back)."""
from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import List, Tuple

CHUNK = 65536


class SilentLink:
    """Forward 127.0.0.1:``port`` to ``target`` (host, port)."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._listening = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listening.getsockname()[1]
        self._lock = threading.Lock()
        #: the open connections: (client's socket, server's socket, whether it was cut)
        self._pairs: List[Tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, name="silent-link", daemon=True).start()

    def cut(self) -> None:
        """End the server's side of every open connection, silently for its client."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for _, server, cut in pairs:
            cut.set()
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cut()
        self._listening.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listening.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            cut = threading.Event()
            with self._lock:
                self._pairs.append((client, server, cut))
            threading.Thread(target=self._pump, args=(client, server, cut, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, cut, False), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, cut: threading.Event, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            if cut.is_set():
                if from_client and data:  # the client spoke on a connection the server forgot: reset
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    source.close()
                return  # the server's end: the client is not told
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(data)
            except OSError:
                return
