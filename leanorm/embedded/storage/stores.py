"""Which store a ``database`` names: a PostgreSQL URL (``postgresql://user:pass@host/db``) is the
PostgreSQL store, anything else the SQLite store (a file path or ``:memory:``).

The PostgreSQL store is imported by name on first use: it needs ``psycopg`` (``leanorm[postgresql]``),
which an app on SQLite need not install."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Optional, Type

from ..answers import ProtocolError
from .file_bytes import FileBytes, FolderBytes, TableBytes
from .interface import Store
from .s3_bytes import S3Bytes, is_s3_url
from .store import SQLiteStore

if TYPE_CHECKING:  # pragma: no cover - so that mypy checks the PostgreSQL store against the interface
    from .postgresql import PostgreSQLStore

__all__ = ["open_store", "is_postgresql_url", "file_bytes_of"]


def is_postgresql_url(database: str) -> bool:
    """Whether ``database`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return database.startswith(("postgresql://", "postgres://"))


def open_store(database: str) -> Store:
    """The store of ``database``: PostgreSQL for its URL, else a SQLite file (or ``:memory:``)."""
    if not is_postgresql_url(database):
        return SQLiteStore(database)
    try:
        module = importlib.import_module("leanorm.embedded.storage.postgresql")
    except ImportError as exc:
        raise ProtocolError(1, f"The PostgreSQL store needs {exc.name!r}: pip install 'leanorm[postgresql]'.",
                            503) from None
    store_class: Type["PostgreSQLStore"] = module.PostgreSQLStore
    return store_class(database)


def file_bytes_of(database: str, store: Store, files_dir: Optional[str] = None) -> FileBytes:
    """Where the hosted files' bytes of ``database`` are kept: ``files_dir`` when named (a folder, or a
    bucket: ``s3://bucket/prefix``), else the PostgreSQL store's own table (every node serving the
    database serves every file), else the folder ``<database>.files`` beside the SQLite file."""
    if files_dir is not None:
        return S3Bytes(files_dir) if is_s3_url(files_dir) else FolderBytes(files_dir)
    if is_postgresql_url(database):
        return TableBytes(store)
    return FolderBytes(database + ".files")
