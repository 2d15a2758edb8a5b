"""File values as LeanCloud answers them: the whole ``_File`` object in place of the reference.

Clients store a file in a field as ``{"__type": "File", "id": ..., "name", "url"}`` (LeanCloud's SDKs) or
``{"__type": "File", "objectId": ...}``. LeanCloud answers every such value with the ``_File`` object it
names (objectId, name, url, mime_type, metaData, createdAt, updatedAt): the official Python SDK decodes a
File from its ``objectId`` and fails without it. Parse keeps ``{"__type": "File", "name", "url"}``.

A client names any id it likes in a File value, so expanding one is a read of that ``_File`` object like
``GET files/<id>``: it passes the read filter (``authz.ReadPolicy.reveal``, operation ``get``), and a
File the caller may not read stays the value it stored (an owner-only external file's signed url, its
metaData, were answered to whoever stored a value naming it).
"""
from __future__ import annotations

from typing import Any, Dict, List

from ..access.authz import ReadPolicy
from ..routing import Context
from ..storage.rows import ROW, to_json
from ..storage.store import table
from ..storage.interface import Connection

__all__ = ["expand_files"]

FILE_CLASS = "_File"


def _file_id(value: Dict[str, Any]) -> Any:
    return value.get("objectId") or value.get("id")


def _references(value: Any, found: List[Dict[str, Any]]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, found)
    elif isinstance(value, dict):
        if value.get("__type") == "File" and isinstance(_file_id(value), str):
            found.append(value)
            return
        for item in value.values():
            _references(item, found)


def expand_files(ctx: Context, conn: Connection, rows: List[Dict[str, Any]], policy: ReadPolicy) -> None:
    """Replace (in place) every File value in ``rows`` that names a ``_File`` object ``policy``'s caller
    may read with that object, in the LeanCloud dialect; one query for all of them."""
    if ctx.dialect != "leancloud" or not ctx.store.has_class(conn, FILE_CLASS):
        return
    found: List[Dict[str, Any]] = []
    for row in rows:
        for key, value in row.items():
            if key != "ACL":
                _references(value, found)
    ids = sorted({_file_id(v) for v in found})
    if not ids:
        return
    marks = ", ".join("?" * len(ids))
    files = {r[0]: policy.reveal(FILE_CLASS, to_json(r), "get") for r in conn.execute(
        f"SELECT {ROW} FROM {table(FILE_CLASS)} WHERE objectId IN ({marks})", ids)}
    for value in found:
        shown = files.get(_file_id(value))
        if shown is not None:
            value.clear()
            value.update({"__type": "File", **{k: v for k, v in shown.items() if k != "ACL"}})
