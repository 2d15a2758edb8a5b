"""Request bodies read from a WSGI server's ``wsgi.input`` as streams, never whole.

Plain servers such as ``wsgiref`` (the engine in tests, or one a ``EmbeddedServer`` is mounted in as a WSGI
app) hand over the raw socket: reading past Content-Length blocks, and a ``Transfer-Encoding: chunked``
body (what clients send for a stream of unknown length, and Node for Parse webhooks) arrives with its
chunk framing.
"""
from __future__ import annotations

from typing import BinaryIO, List

__all__ = ["BoundedInput", "ChunkedInput", "MalformedBody"]


class MalformedBody(ValueError):
    """A chunked body whose framing is broken or cut short."""


class BoundedInput:
    """``wsgi.input`` limited to the request's Content-Length."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self.stream, self.left = stream, length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(size)
        self.left -= len(data)
        return data


class ChunkedInput:
    """A chunked body decoded as it is read; broken framing raises :class:`MalformedBody`."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.left = 0        # bytes left in the current chunk
        self.done = False

    def _next_chunk(self) -> None:
        line = self.stream.readline(1024)
        try:
            self.left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise MalformedBody(f"bad chunk size line {line[:40]!r}") from None
        if self.left == 0:
            while self.stream.readline(1024).strip():  # trailer headers, up to the blank line
                pass
            self.done = True

    def read(self, size: int = -1) -> bytes:
        parts: List[bytes] = []
        while not self.done and size != 0:
            if self.left == 0:
                self._next_chunk()
                continue
            data = self.stream.read(self.left if size < 0 else min(size, self.left))
            if not data:
                raise MalformedBody("the chunked body ended early")
            self.left -= len(data)
            if self.left == 0:
                self.stream.readline(8)  # the CRLF closing the chunk
            parts.append(data)
            if size > 0:
                size -= len(data)
        return b"".join(parts)
