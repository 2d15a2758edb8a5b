"""The file of a ``multipart/form-data`` upload (the qcloud and qiniu providers' form), as a stream.

The form is parsed as its bytes arrive (the ``multipart`` package's push parser): only the file field's
bytes come out of :class:`FilePart`, a chunk at a time, so an upload of any size, of a known length or
chunked, is never held in memory. The other fields (``op``, ``token``, ``key``) are read and dropped:
the upload address already names the upload.
"""
from __future__ import annotations

from typing import Iterator

from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from ..answers import ProtocolError
from ..routing import Readable

__all__ = ["FilePart"]

#: the file field's name, lowercased: qcloud's SDKs send fileContent or filecontent, qiniu's file
FILE_FIELDS = ("filecontent", "file")
CHUNK = 1024 * 1024


class FilePart:
    """A readable of the bytes of the form's file field, pulled from ``stream`` as they are read; a
    form that is not multipart, is malformed or has no file field is error 107."""

    def __init__(self, stream: Readable, content_type: str) -> None:
        kind, options = parse_options_header(content_type or "")
        boundary = options.get("boundary")
        if kind != "multipart/form-data" or not boundary:
            raise ProtocolError(107, "An upload form must be multipart/form-data with a boundary.")
        self._chunks = self._file_chunks(stream, boundary)
        self._buffer = bytearray()

    @staticmethod
    def _file_chunks(stream: Readable, boundary: str) -> Iterator[bytes]:
        inside = found = False
        try:
            with PushMultipartParser(boundary) as parser:
                while not parser.closed:
                    for event in parser.parse(stream.read(CHUNK)):  # b"" at the end closes the parser
                        if isinstance(event, MultipartSegment):
                            inside = not found and (event.name or "").lower() in FILE_FIELDS
                        elif event is None:
                            found, inside = found or inside, False
                        elif inside:
                            yield bytes(event)
        except ParserError as exc:
            raise ProtocolError(107, f"Malformed upload form: {exc}.") from None
        if not found:
            raise ProtocolError(107, "The upload form has no file field.")

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        cut = len(self._buffer) if size < 0 else size
        out = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return out
