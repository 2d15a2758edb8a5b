"""Where hosted files' bytes are kept: a folder beside the SQLite database (:class:`FolderBytes`), or a
table of the database itself (:class:`TableBytes`: the PostgreSQL store's default, so every node serving
the database serves every file, as Parse's GridFS adapter keeps files in its database).

The upload's bound and checksum are the caller's (``endpoints/hosted_files.py``): these take the bytes as
chunks it has checked, and give them back as a stream with its size."""
from __future__ import annotations

import io
import os
import secrets
from typing import BinaryIO, Iterable, Protocol, Tuple

from .interface import Store

__all__ = ["FileBytes", "FolderBytes", "TableBytes"]


class FileBytes(Protocol):
    """The bytes of hosted files, by their ``_File`` objectId (letters and digits only)."""

    def save(self, object_id: str, chunks: Iterable[bytes]) -> None:
        """Keep ``chunks`` as the file's bytes, replacing any; nothing is kept when ``chunks`` raises."""

    def open(self, object_id: str) -> Tuple[BinaryIO, int]:
        """The file's bytes as a stream and their size; ``FileNotFoundError`` when there are none."""

    def drop(self, object_id: str) -> None:
        """Forget the file's bytes (none is no error)."""


class FolderBytes:
    """Bytes in files of a folder, one per objectId, written under a temporary name then renamed (a
    reader never sees half a file)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def _path(self, object_id: str) -> str:
        if not object_id.isalnum():  # ids name the files on disk: nothing else may reach the file system
            raise FileNotFoundError(object_id)
        return os.path.join(self.folder, object_id)

    def save(self, object_id: str, chunks: Iterable[bytes]) -> None:
        os.makedirs(self.folder, exist_ok=True)
        target = self._path(object_id)
        temporary = f"{target}.{secrets.token_hex(4)}.part"
        try:
            with open(temporary, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def open(self, object_id: str) -> Tuple[BinaryIO, int]:
        handle = open(self._path(object_id), "rb")  # noqa: SIM115 - the caller streams and closes it
        return handle, os.fstat(handle.fileno()).st_size

    def drop(self, object_id: str) -> None:
        try:
            os.remove(self._path(object_id))
        except FileNotFoundError:
            pass


class TableBytes:
    """Bytes in the store's ``_file_bytes`` table, one row per file (held in memory while written and
    read: an upload is at most ``Settings.max_upload_size``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, object_id: str, chunks: Iterable[bytes]) -> None:
        data = b"".join(chunks)
        with self.store.write() as conn:
            conn.execute("INSERT OR REPLACE INTO _file_bytes VALUES (?, ?)", (object_id, data))

    def open(self, object_id: str) -> Tuple[BinaryIO, int]:
        with self.store.read() as conn:
            row = conn.execute("SELECT bytes FROM _file_bytes WHERE object_id=?", (object_id,)).fetchone()
        if row is None:
            raise FileNotFoundError(object_id)
        data = bytes(row[0])
        return io.BytesIO(data), len(data)

    def drop(self, object_id: str) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM _file_bytes WHERE object_id=?", (object_id,))
