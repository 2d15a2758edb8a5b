"""File URLs as the serving address makes them: the one place a file's address is given out.

A file this server hosts is stored with the URL it was given when it was written (``<base>/files/<id>/<name>``,
or ``<base>/<key>`` for a file saved under a key with the master key), but its address is where the server
is reached *now*: a database written in-process (``http://localhost``), imported, or moved to another domain
answers every hosted file under the serving address of the request being answered (``ctx.base_url``:
``--public-url``, else the request's ``Host``; ``X-Forwarded-*`` only with ``--trust-proxy``), as Parse
Server builds file URLs from its ``publicServerURL``. External files (an ``url`` registered as such, a file
of another host) keep the URL they were given.

:func:`rebase` runs on every answer the server gives (``EmbeddedServer._serve``), whatever route made it —
find, get, include, write answers, ``_File`` objects, batch, CQL, statuses — so no route rebuilds URLs
itself. It changes only File values (``__type: File``) and ``_File`` objects (their ``objectId`` is the
file's), never a user's own field that happens to hold a URL, and it looks the files up by objectId, one
query per answer.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

import orjson

from ..routing import Context
from ..storage.rows import to_json
from ..storage.store import table

__all__ = ["rebase", "encode_answer", "hosted_path"]

FILE_CLASS = "_File"
DOWNLOAD_PREFIX = "/files/"
#: what every candidate holds once serialised: a ``url`` key with an http(s) value
_URL_MARK = b'"url":"http'
#: ids looked up per query (SQLite's bound on parameters is far above; this keeps statements small)
_CHUNK = 500


def hosted_path(row: Dict[str, Any]) -> Optional[str]:
    """The path this server serves a ``_File`` row's bytes at (``/files/<id>/<name>`` or ``/<key>``) when
    its stored URL is one this server made, else None (an external file)."""
    url = row.get("url")
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
        return None
    name, key, object_id = row.get("name"), row.get("key"), row.get("objectId")
    if isinstance(name, str) and parts.path == f"{DOWNLOAD_PREFIX}{object_id}/{quote(name)}":
        return parts.path
    if isinstance(key, str) and key and parts.path == "/" + quote(key):
        return parts.path
    return None


def _candidate(value: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """``(objectId, path)`` of a dict that may name a hosted file: a File value or an object with a url."""
    url = value.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    path = urlsplit(url).path
    own = value.get("objectId") or (value.get("id") if value.get("__type") == "File" else None)
    if path.startswith(DOWNLOAD_PREFIX):
        object_id = path[len(DOWNLOAD_PREFIX):].split("/", 1)[0]
    elif isinstance(own, str):
        object_id = own
    else:
        return None
    if not object_id.isalnum() or (value.get("__type") != "File" and own != object_id):
        return None  # not a File value, and not the _File object itself: a user's field stays as it is
    return object_id, path


def _collect(value: Any, found: List[Tuple[Dict[str, Any], str, str]]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        candidate = _candidate(value)
        if candidate is not None:
            found.append((value, *candidate))
        for item in value.values():
            if isinstance(item, (dict, list)):
                _collect(item, found)


def rebase(ctx: Context, answer: Any) -> Any:
    """``answer`` with every hosted file's URL under ``ctx.base_url`` (changed in place; returned)."""
    if not isinstance(answer, (dict, list)) or _URL_MARK not in orjson.dumps(answer):
        return answer  # most answers hold no URL: one C pass over them, not a walk in Python
    return _rebased(ctx, answer)


def encode_answer(ctx: Context, answer: Any) -> bytes:
    """The JSON body of ``answer``, its hosted files under ``ctx.base_url``: serialised once, and again
    only when that shows a URL to rebase (an answer is not serialised twice to look for one)."""
    encoded = orjson.dumps(answer)
    if not isinstance(answer, (dict, list)) or _URL_MARK not in encoded:
        return encoded
    return orjson.dumps(_rebased(ctx, answer))


def _rebased(ctx: Context, answer: Any) -> Any:
    found: List[Tuple[Dict[str, Any], str, str]] = []
    _collect(answer, found)
    if not found:
        return answer
    ids = sorted({object_id for _, object_id, _ in found})
    hosted: Dict[str, str] = {}
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, FILE_CLASS):
            return answer
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in conn.execute(f"SELECT objectId, createdAt, updatedAt, NULL, data FROM {table(FILE_CLASS)} "
                                    f"WHERE objectId IN ({marks})", chunk):
                stored = to_json(row)
                path = hosted_path(stored)
                if path is not None:
                    hosted[stored["objectId"]] = path
    for value, object_id, path in found:
        if hosted.get(object_id) == path:
            value["url"] = ctx.base_url + path
    return answer
