"""Files: LeanCloud's ``_File`` objects and upload flow, Parse's ``files/<name>``, and the bytes on disk.

LeanCloud dialect: ``POST fileTokens`` makes the ``_File`` row and answers an ``upload_url`` on this
server (the ``s3`` provider's shape: the client PUTs the raw bytes there), then ``POST fileCallback``
confirms the upload (``result: false`` drops the row). ``POST files/<name>`` registers an external
``url`` (or takes ``base64`` bytes, the old flow); ``GET``/``DELETE files/<id>``.
Parse dialect: ``POST files/<name>`` with the raw bytes answers ``{url, name}``; ``DELETE files/<name>``
needs the master key.

Bytes live in ``LocalServer.files_dir`` under the file's objectId, written in chunks as they arrive (a
large upload is never held in memory), and are served without authentication at
``/files/<objectId>/<name>``: file URLs are public, as on LeanCloud and Parse.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import secrets
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Iterator, Optional, Tuple
from urllib.parse import quote, unquote

from . import objects
from .protocol import Body, Caller, Context, LocalResponse, ProtocolError, Readable, dumps, route

if TYPE_CHECKING:  # pragma: no cover
    from .server import LocalServer

__all__ = ["UPLOAD_PREFIX", "DOWNLOAD_PREFIX", "streams", "handle_raw", "open_download"]

FILE_CLASS = "_File"
UPLOAD_PREFIX = "/uploads/"
DOWNLOAD_PREFIX = "/files/"
CHUNK = 1024 * 1024
TOKEN_TTL = 3600.0



def streams(method: str, path: str) -> bool:
    """Whether a request's body is file bytes, to be passed on as a stream rather than read whole."""
    return (method == "PUT" and path.startswith(UPLOAD_PREFIX)) or \
        (method == "POST" and path.startswith("/parse/files/"))


def _path(server: "LocalServer", object_id: str) -> str:
    if not object_id.isalnum():  # ids name the files on disk: nothing else may reach the file system
        raise ProtocolError(101, "File not found.", 404)
    return os.path.join(server.files_dir, object_id)


def _save_bytes(server: "LocalServer", object_id: str, body: Body) -> Tuple[int, str]:
    """Write ``body`` to the file of ``object_id`` chunk by chunk; returns its size and MD5."""
    os.makedirs(server.files_dir, exist_ok=True)
    target = _path(server, object_id)
    temporary = f"{target}.{secrets.token_hex(4)}.part"
    if body is None:
        body = b""
    stream: Readable = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
    digest, size = hashlib.md5(), 0
    try:
        with open(temporary, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return size, digest.hexdigest()


def _drop_bytes(server: "LocalServer", object_id: str) -> None:
    try:
        os.remove(_path(server, object_id))
    except FileNotFoundError:
        pass


def _url(ctx: Context, object_id: str, name: str) -> str:
    return f"{ctx.base_url}{DOWNLOAD_PREFIX}{object_id}/{quote(name)}"


def _create(ctx: Context, name: str, fields: Dict[str, Any], acl: Any = None) -> Dict[str, Any]:
    """Write a new ``_File`` row (its url needs the id, so the id is chosen here); returns it."""
    object_id = objects.new_object_id()
    body = {"objectId": object_id, "name": name, "url": _url(ctx, object_id, name), **fields}  # fields may
    # carry an external file's own url
    if acl is not None:
        body["ACL"] = acl
    _, answer = objects.write(ctx, FILE_CLASS, None, {k: v for k, v in body.items() if k != "objectId"},
                              new_id=object_id)
    return {**body, **answer}


def _merge_meta(ctx: Context, object_id: str, extra: Dict[str, Any]) -> Dict[str, Any]:
    master = ctx.server.master_context(ctx)
    meta = objects.fetch(master, FILE_CLASS, object_id).get("metaData") or {}
    meta = {**meta, **extra}
    objects.write(master, FILE_CLASS, object_id, {"metaData": meta})
    return meta


def _mime(name: str, given: Any) -> str:
    if isinstance(given, str) and given:
        return given
    import mimetypes
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _owner(ctx: Context) -> str:
    return ctx.caller.user_id or "unknown"


# -- LeanCloud: tokens, upload, callback ---------------------------------------------------------------
@route("POST", r"fileTokens")
def _file_tokens(ctx: Context) -> Any:
    body = ctx.json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ProtocolError(107, "fileTokens needs a name.")
    meta = dict(body.get("metaData") or {})
    meta.setdefault("owner", _owner(ctx))
    row = _create(ctx, name, {"mime_type": _mime(name, body.get("mime_type")), "metaData": meta,
                              "provider": "s3", "bucket": "leanorm", "key": ""}, body.get("ACL"))
    token = secrets.token_urlsafe(24)
    with ctx.store.write() as conn:
        conn.execute("INSERT INTO _file_uploads VALUES (?, ?, ?)", (token, row["objectId"], time.time() + TOKEN_TTL))
    return {"objectId": row["objectId"], "createdAt": row["createdAt"], "url": row["url"], "token": token,
            "upload_url": f"{ctx.base_url}{UPLOAD_PREFIX}{token}", "provider": "s3", "bucket": "leanorm",
            "key": row["objectId"], "mime_type": row["mime_type"]}


def _token_file(ctx: Context, token: str) -> Optional[str]:
    with ctx.store.read() as conn:
        row = conn.execute("SELECT object_id FROM _file_uploads WHERE token=? AND expires_at > ?",
                           (token, time.time())).fetchone()
    return row[0] if row else None


@route("POST", r"fileCallback")
def _file_callback(ctx: Context) -> Any:
    body = ctx.json_body()
    token = body.get("token")
    object_id = _token_file(ctx, token) if isinstance(token, str) else None
    if object_id is None:
        raise ProtocolError(1, "Unknown or expired file token.")
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _file_uploads WHERE token=?", (token,))
    if body.get("result") is False:
        objects.remove(ctx.server.master_context(ctx), FILE_CLASS, object_id)
        _drop_bytes(ctx.server, object_id)
    return {}


def _upload(server: "LocalServer", token: str, body: Body) -> LocalResponse:
    """The provider side: PUT of the raw bytes to the ``upload_url`` a token was given."""
    ctx = Context(server, "PUT", "", "leancloud", {}, Caller(master=True), None)
    object_id = _token_file(ctx, token)
    if object_id is None:
        raise ProtocolError(1, "Unknown or expired upload address.", 403)
    size, checksum = _save_bytes(server, object_id, body)
    _merge_meta(ctx, object_id, {"size": size, "_checksum": checksum})
    return LocalResponse(200, b"", {"ETag": f'"{checksum}"'})


# -- files/<name> and files/<id> -----------------------------------------------------------------------
@route("POST", r"files/([^/]+)")
def _create_file(ctx: Context) -> Any:
    name = unquote(ctx.args[0])
    if ctx.dialect == "parse":
        return _parse_upload(ctx, name)
    body = ctx.json_body()
    meta = dict(body.get("metaData") or {})
    meta.setdefault("owner", _owner(ctx))
    fields = {"mime_type": _mime(name, body.get("mime_type")), "metaData": meta}
    if isinstance(body.get("url"), str):  # an external file: only its address is kept
        meta["__source"] = "external"
        row = _create(ctx, name, {**fields, "url": body["url"]}, body.get("ACL"))
    elif isinstance(body.get("base64"), str):
        try:
            data = base64.b64decode(body["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(107, "Invalid base64 file data.") from None
        row = _create(ctx, name, fields, body.get("ACL"))
        size, checksum = _save_bytes(ctx.server, row["objectId"], data)
        meta = _merge_meta(ctx, row["objectId"], {"size": size, "_checksum": checksum})
    else:
        raise ProtocolError(107, "A file needs a url (external file) or base64 data; upload bytes through "
                                 "fileTokens.")
    return 201, {"objectId": row["objectId"], "createdAt": row["createdAt"], "url": row["url"], "name": name,
                 "mime_type": fields["mime_type"], "metaData": meta, **({"size": meta["size"]} if "size" in meta else {})}


def _parse_upload(ctx: Context, name: str) -> Any:
    # Parse prefixes a random part so that names are unique; the name is the file's handle there
    stored = f"{secrets.token_hex(16)}_{name}"
    body = ctx.raw_body
    master = ctx.server.master_context(ctx)
    row = _create(master, stored, {"mime_type": _mime(name, None), "metaData": {"owner": _owner(ctx)}})
    size, checksum = _save_bytes(ctx.server, row["objectId"], body)
    _merge_meta(master, row["objectId"], {"size": size, "_checksum": checksum})
    return 201, {"url": row["url"], "name": stored}


@route("GET", r"files/([^/]+)")
def _get_file(ctx: Context) -> Any:
    return objects.fetch(ctx, FILE_CLASS, ctx.args[0])


def _remove(ctx: Context, object_id: str) -> Dict[str, Any]:
    objects.remove(ctx, FILE_CLASS, object_id, body=ctx.json_body())
    _drop_bytes(ctx.server, object_id)
    return {}


@route("DELETE", r"files/([^/]+)")
def _delete_file(ctx: Context) -> Any:
    if ctx.dialect != "parse":
        return _remove(ctx, ctx.args[0])
    ctx.require_master()
    rows, _ = objects.query(ctx, FILE_CLASS, {"name": unquote(ctx.args[0])}, limit=1)
    if not rows:
        raise ProtocolError(153, "Could not delete file.", 400)
    return _remove(ctx, rows[0]["objectId"])


@route("DELETE", r"classes/_File/([^/]+)", priority=1)
def _delete_file_object(ctx: Context) -> Any:
    """Deleting the ``_File`` object deletes its bytes too."""
    return _remove(ctx, ctx.args[0])


# -- serving the bytes ---------------------------------------------------------------------------------
def open_download(server: "LocalServer", path: str) -> Tuple[BinaryIO, int, str]:
    """The open file, size and MIME type for ``/files/<objectId>/<name>``; 404 when there is none."""
    object_id = path[len(DOWNLOAD_PREFIX):].split("/", 1)[0]
    ctx = Context(server, "GET", "", "leancloud", {}, Caller(master=True), None)
    rows, _ = objects.query(ctx, FILE_CLASS, {"objectId": object_id}, limit=1)
    try:
        handle = open(_path(server, object_id), "rb")  # noqa: SIM115 - the caller streams and closes it
    except (FileNotFoundError, ProtocolError):
        raise ProtocolError(101, "File not found.", 404) from None
    if not rows:
        handle.close()
        raise ProtocolError(101, "File not found.", 404)
    return handle, os.fstat(handle.fileno()).st_size, rows[0].get("mime_type") or "application/octet-stream"


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The bytes of an open file, a chunk at a time, closing it at the end."""
    with handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            yield chunk


def handle_raw(server: "LocalServer", method: str, path: str, body: Body) -> LocalResponse:
    """Requests outside the API prefixes: uploads to an ``upload_url`` and downloads of file bytes
    (in-process; over WSGI downloads stream from disk instead, see ``LocalServer.__call__``)."""
    try:
        if path.startswith(UPLOAD_PREFIX) and method == "PUT":
            return _upload(server, path[len(UPLOAD_PREFIX):].strip("/"), body)
        if path.startswith(DOWNLOAD_PREFIX) and method in ("GET", "HEAD"):
            handle, _, mime = open_download(server, path)
            data = b"".join(chunks(handle))
            return LocalResponse(200, b"" if method == "HEAD" else data, {"Content-Type": mime})
        raise ProtocolError(1, f"Unknown endpoint: {method} {path}.", 404)
    except ProtocolError as exc:
        return LocalResponse(exc.status, dumps(exc.as_json()).encode("utf-8"))
