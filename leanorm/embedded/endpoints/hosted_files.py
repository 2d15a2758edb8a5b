"""Files: LeanCloud's ``_File`` objects and upload flow, Parse's ``files/<name>``, and the bytes on disk.

LeanCloud dialect: ``POST fileTokens`` makes the ``_File`` row and answers an ``upload_url`` on this
server with the ``qcloud`` provider (the client POSTs a multipart form holding the bytes there; SDKs
stream it without knowing its size, which they refuse to do for ``s3``; an S3-style PUT of the raw bytes
works too), then ``POST fileCallback`` confirms the upload (``result: false`` drops the row).
``POST files/<name>`` registers an external ``url`` (or takes ``base64`` bytes, the old flow);
``GET``/``DELETE files/<id>``.
Parse dialect: ``POST files/<name>`` with the raw bytes answers ``{url, name}``; ``DELETE files/<name>``
needs the master key.

Bytes live where ``Services.file_bytes`` keeps them (``storage/file_bytes.py``: files of ``Settings.files_dir``
under the file's objectId, or the PostgreSQL store's table), read in chunks as they arrive, and are served without authentication at
``/files/<objectId>/<name>``: file URLs are public, as on LeanCloud and Parse.

Safety: a file uploaded without an ACL gets one (everyone reads; only its uploader, or no one but the
master key when the upload was anonymous, writes), so nobody else can delete or repoint it; an upload
address takes one upload; downloads say ``X-Content-Type-Options: nosniff``, carry a sandboxing
Content-Security-Policy and are attachments unless their type is a passive one (raster images, audio,
video, plain text), so an uploaded page never runs in this server's origin.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import mimetypes
import re
import secrets
import time
from typing import Any, BinaryIO, Dict, Iterator, Optional, Tuple
from urllib.parse import quote, unquote

from ...protocol.ids import new_object_id
from . import objects, reads
from .form_upload import FilePart
from ..access.permissions import permit
from ..routing import Body, Context, Readable, Services, route
from ..budget import MAX_REGEX_CHARS
from ..caller import Caller
from ..answers import EmbeddedResponse, ProtocolError, dumps
from ..storage.store import table


__all__ = ["UPLOAD_PREFIX", "DOWNLOAD_PREFIX", "is_download", "streams", "handle_raw", "open_download",
           "upload_address_open", "closed_address", "too_large"]

FILE_CLASS = "_File"
UPLOAD_PREFIX = "/uploads/"
DOWNLOAD_PREFIX = "/files/"
CHUNK = 1024 * 1024
TOKEN_TTL = 3600.0
#: what fileTokens answers: the SDKs POST a form to a qcloud upload_url, streamed without a known size
PROVIDER = "qcloud"
#: the storage bucket LeanCloud names in upload answers (the SDKs read it back, nothing depends on it)
BUCKET = "leanorm"
#: an upload address that was used is kept under this prefix, for the callback that follows it
SPENT = "spent:"
#: a MIME type served as it was given: ``type/subtype`` and parameters, nothing that could split a header
MIME = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[ -~]*)?\Z")
#: what a browser shows in place without running anything: raster images, audio, video and plain text.
#: Every other type is an attachment (a browser saves it, never renders it as this origin's page), as the
#: list of types a browser turns into a document that runs script is long and grows (HTML, XHTML, SVG,
#: XML with an XSLT stylesheet, ``text/xsl``, PDF with its own scripts...). SVG is a document, not an
#: image; PDF is left out too: viewers run its scripts and a sandboxed response cannot show it in Chrome.
#: ``<img>``, ``<audio>`` and ``<video>`` embed an attachment all the same.
INLINE = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon",
    "image/vnd.microsoft.icon",
    "audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/wav", "audio/x-wav", "audio/webm", "audio/flac",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "text/plain",
})
#: on every file response: nothing sniffed, and whatever renders is a sandbox of its own (a unique origin,
#: no script, nothing loaded), should a browser render what it was told to save
FILE_HEADERS = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"}



def is_download(method: str, path: str) -> bool:
    """Whether a request asks for file bytes: ``/files/<objectId>/<name>``, or ``/<key>`` of a file saved
    under a key of its own (any path outside the API and upload prefixes)."""
    return method in ("GET", "HEAD") and (path.startswith(DOWNLOAD_PREFIX) or not path.startswith(
        ("/1.1/", "/parse/", UPLOAD_PREFIX)))


def streams(method: str, path: str) -> bool:
    """Whether a request's body is file bytes, to be passed on as a stream rather than read whole."""
    return (method in ("PUT", "POST") and path.startswith(UPLOAD_PREFIX)) or \
        (method == "POST" and path.startswith("/parse/files/"))


def _save_bytes(server: "Services", object_id: str, body: Body) -> Tuple[int, str]:
    """Keep ``body`` as the bytes of ``object_id``, read chunk by chunk; returns its size and MD5."""
    if body is None:
        body = b""
    stream: Readable = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
    digest = hashlib.md5()
    size = 0

    def checked() -> Iterator[bytes]:
        nonlocal size
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                return
            if size + len(chunk) > server.settings.max_upload_size:  # every stored upload passes here
                raise too_large(server)
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    server.file_bytes.save(object_id, checked())
    return size, digest.hexdigest()


def _drop_bytes(server: "Services", object_id: str) -> None:
    server.file_bytes.drop(object_id)


def _url(ctx: Context, object_id: str, name: str) -> str:
    return f"{ctx.base_url}{DOWNLOAD_PREFIX}{object_id}/{quote(name)}"


def _create(ctx: Context, name: str, fields: Dict[str, Any], acl: Any = None,
            key: Optional[str] = None) -> Dict[str, Any]:
    """Write a new ``_File`` row (its url and storage ``key`` default to ones made of the id, so the id
    is chosen here); returns it."""
    object_id = new_object_id()
    body = {"objectId": object_id, "name": name, "url": _url(ctx, object_id, name), "key": key or object_id,
            **fields}  # fields may carry an external file's own url
    body["ACL"] = _default_acl(ctx.caller) if acl is None else acl
    _, answer = objects.write(ctx, FILE_CLASS, None, {k: v for k, v in body.items() if k != "objectId"},
                              new_id=object_id)
    return {**body, **answer}


def _merge_meta(ctx: Context, object_id: str, extra: Dict[str, Any]) -> Dict[str, Any]:
    """Add what the upload measured (size, checksum) to the file's metaData. The bytes complete the
    file's creation: ``updatedAt`` stays ``createdAt``, as on LeanCloud."""
    master = ctx.as_master()
    meta = reads.fetch(master, FILE_CLASS, object_id).get("metaData") or {}
    meta = {**meta, **extra}
    with ctx.store.write() as conn:
        conn.execute(f"UPDATE {table(FILE_CLASS)} SET data=json_set(data, '$.metaData', json(?)) "
                     "WHERE objectId=?", (dumps(meta), object_id))
    return meta


def _mime(name: str, given: Any) -> str:
    if isinstance(given, str) and given:
        return given
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _owner(ctx: Context) -> str:
    return ctx.caller.user_id or "unknown"


def _default_acl(caller: Caller) -> Dict[str, Dict[str, bool]]:
    """The ACL of a file uploaded without one: everyone reads it (file URLs are public anyway); its
    uploader alone writes it, and no one but the master key when the upload was anonymous."""
    acl = {"*": {"read": True}}
    if caller.user_id and not caller.master:
        acl[caller.user_id] = {"read": True, "write": True}
    return acl


# -- LeanCloud: tokens, upload, callback ---------------------------------------------------------------
@route("POST", r"fileTokens")
def _file_tokens(ctx: Context) -> Any:
    body = ctx.json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ProtocolError(107, "fileTokens needs a name.")
    meta = dict(body.get("metaData") or {})
    meta.setdefault("owner", _owner(ctx))
    key = body.get("key")
    if key is not None and (not isinstance(key, str) or not key.strip("/")
                            or key.strip("/").startswith(("1.1/", "parse/", "files/", "uploads/"))):
        raise ProtocolError(1, "Unsupported file key: a key is a path outside the API.")
    # a key is where the file is served (/<key>, any path of this origin): the master key's to choose; a
    # client's (the JS SDK sends a random one) is not kept, or its name could make its url end with the key
    key = key.strip("/") if key and ctx.caller.master else None
    fields = {"mime_type": _mime(name, body.get("mime_type")), "metaData": meta, "provider": PROVIDER,
              "bucket": "leanorm"}
    if key is not None:  # served at /<key>, as LeanCloud serves a file saved under a key
        fields["url"] = f"{ctx.base_url}/{quote(key)}"
    row = _create(ctx, name, fields, body.get("ACL"), key=key)
    token = secrets.token_urlsafe(24)
    with ctx.store.write() as conn:
        conn.execute("INSERT INTO _file_uploads VALUES (?, ?, ?)", (token, row["objectId"], time.time() + TOKEN_TTL))
    return {"objectId": row["objectId"], "createdAt": row["createdAt"], "url": row["url"], "token": token,
            "upload_url": f"{ctx.base_url}{UPLOAD_PREFIX}{token}", "provider": PROVIDER, "bucket": BUCKET,
            "key": row["key"], "mime_type": row["mime_type"]}


def _token_file(ctx: Context, token: str) -> Optional[str]:
    """The file a callback's token is for, whether its upload address was used yet or not."""
    with ctx.store.read() as conn:
        row = conn.execute("SELECT object_id FROM _file_uploads WHERE token IN (?, ?) AND expires_at > ?",
                           (token, SPENT + token, time.time())).fetchone()
    return row[0] if row else None


def upload_address_open(server: "Services", token: str) -> bool:
    """Whether an upload address takes an upload now (given out, unexpired, unused): checked from the
    request's path before its body is received (``admission.admit``), spent only by the upload itself."""
    with server.store.read() as conn:
        return conn.execute("SELECT 1 FROM _file_uploads WHERE token=? AND expires_at > ?",
                            (token, time.time())).fetchone() is not None


def closed_address() -> ProtocolError:
    return ProtocolError(1, "Unknown, expired or used upload address.", 403)


def too_large(server: "Services") -> ProtocolError:
    """An upload over ``Settings.max_upload_size`` (``leanorm serve --max-upload-size``)."""
    return ProtocolError(1, f"File too large: uploads are at most {server.settings.max_upload_size} bytes "
                            "(leanorm serve --max-upload-size).", 413)


def _check_size(server: "Services", body: Body) -> None:
    """Refuse bytes already in memory over the cap before a ``_File`` row is made for them."""
    if isinstance(body, (bytes, bytearray)) and len(body) > server.settings.max_upload_size:
        raise too_large(server)


def _spend_token(server: "Services", token: str) -> Optional[str]:
    """The file an upload address is for, marking the address used (in one transaction, so of two
    uploads racing on one address one wins); None when it is unknown, expired or used."""
    with server.store.write() as conn:
        row = conn.execute("SELECT object_id FROM _file_uploads WHERE token=? AND expires_at > ?",
                           (token, time.time())).fetchone()
        if row:
            conn.execute("UPDATE _file_uploads SET token=? WHERE token=?", (SPENT + token, token))
    return row[0] if row else None


@route("POST", r"fileCallback")
def _file_callback(ctx: Context) -> Any:
    body = ctx.json_body()
    token = body.get("token")
    object_id = _token_file(ctx, token) if isinstance(token, str) else None
    if object_id is None or not isinstance(token, str):
        raise ProtocolError(1, "Unknown or expired file token.")
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _file_uploads WHERE token IN (?, ?)", (token, SPENT + token))
    if body.get("result") is False:
        objects.remove(ctx.as_master(), FILE_CLASS, object_id)
        _drop_bytes(ctx.services, object_id)
    return {}


def _upload(server: "Services", token: str, body: Body, form_type: Optional[str] = None) -> EmbeddedResponse:
    """The provider side, at the ``upload_url`` a token was given: a PUT of the raw bytes (s3), or a
    POST of a multipart form of ``form_type`` (qcloud: answered as COS does, ``{"code": 0}``)."""
    ctx = Context(server, "PUT", "", "leancloud", {}, Caller(master=True), None)
    object_id = _spend_token(server, token)
    if object_id is None:
        raise closed_address()
    if form_type is not None:
        body = FilePart(io.BytesIO(body or b"") if body is None or isinstance(body, (bytes, bytearray)) else body,
                        form_type)
    size, checksum = _save_bytes(server, object_id, body)
    _merge_meta(ctx, object_id, {"size": size, "_checksum": checksum})
    if form_type is not None:
        return EmbeddedResponse(200, dumps({"code": 0, "message": "SUCCESS"}).encode())
    return EmbeddedResponse(200, b"", {"ETag": f'"{checksum}"'})


# -- files/<name> and files/<id> -----------------------------------------------------------------------
@route("POST", r"files")
def _create_named_in_body(ctx: Context) -> Any:
    """``POST files {"name", "url", "metaData": {"__source": "external"}}``: the official Python SDK's
    ``File.create_with_url(...).save()``."""
    name = ctx.json_body().get("name")
    if ctx.dialect == "parse" or not isinstance(name, str) or not name:
        raise ProtocolError(107, "A file needs a name.")
    return _create_leancloud_file(ctx, name)


@route("POST", r"files/([^/]+)")
def _create_file(ctx: Context) -> Any:
    name = unquote(ctx.args[0])
    if ctx.dialect == "parse":
        return _parse_upload(ctx, name)
    return _create_leancloud_file(ctx, name)


def _create_leancloud_file(ctx: Context, name: str) -> Any:
    if _bytes_in_body(ctx):
        return _leancloud_upload(ctx, name)
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
        _check_size(ctx.services, data)
        row = _create(ctx, name, fields, body.get("ACL"))
        size, checksum = _save_bytes(ctx.services, row["objectId"], data)
        meta = _merge_meta(ctx, row["objectId"], {"size": size, "_checksum": checksum})
    else:
        raise ProtocolError(107, "A file needs a url (external file) or base64 data; upload bytes through "
                                 "fileTokens.")
    return 201, {"objectId": row["objectId"], "createdAt": row["createdAt"], "url": row["url"], "name": name,
                 "mime_type": fields["mime_type"], "metaData": meta, **({"size": meta["size"]} if "size" in meta else {})}


def _bytes_in_body(ctx: Context) -> bool:
    """Whether a LeanCloud ``POST files/<name>`` carries the file itself (LeanCloud's documented REST upload:
    the bytes with their own Content-Type) rather than the SDKs' JSON (``base64``, or an external ``url``)."""
    media = (ctx.content_type or "").split(";")[0].strip().lower()
    return bool(media) and media != "application/json"


def _leancloud_upload(ctx: Context, name: str) -> Any:
    """``POST files/<name>`` with the bytes as the body: answered as LeanCloud does."""
    row = _create(ctx, name, {"mime_type": _mime(name, ctx.content_type), "metaData": {"owner": _owner(ctx)}})
    size, checksum = _save_bytes(ctx.services, row["objectId"], ctx.raw_body)
    _merge_meta(ctx, row["objectId"], {"size": size, "_checksum": checksum})
    return 201, {"size": size, "bucket": BUCKET, "url": row["url"], "name": name, "createdAt": row["createdAt"],
                 "objectId": row["objectId"]}


def _parse_upload(ctx: Context, name: str) -> Any:
    # Parse prefixes a random part so that names are unique; the name is the file's handle there
    stored = f"{secrets.token_hex(16)}_{name}"
    body = ctx.raw_body
    # the row is written with the master key (the caller sets none of its fields), so the caller's own
    # permission to create files is checked here: it was skipped, and a closed _File took uploads
    permit(ctx, FILE_CLASS, "create")
    _check_size(ctx.services, body)
    master = ctx.as_master()
    row = _create(master, stored, {"mime_type": _mime(name, None), "metaData": {"owner": _owner(ctx)}})
    size, checksum = _save_bytes(ctx.services, row["objectId"], body)
    _merge_meta(master, row["objectId"], {"size": size, "_checksum": checksum})
    return 201, {"url": row["url"], "name": stored}


@route("GET", r"files/([^/]+)")
def _get_file(ctx: Context) -> Any:
    return reads.fetch(ctx, FILE_CLASS, ctx.args[0])


def _remove(ctx: Context, object_id: str) -> Dict[str, Any]:
    # LeanCloud's JS SDK sends the literal body null with a file's DELETE
    objects.remove(ctx, FILE_CLASS, object_id, body=None if ctx.body is None else ctx.json_body())
    _drop_bytes(ctx.services, object_id)
    return {}


@route("DELETE", r"files/([^/]+)")
def _delete_file(ctx: Context) -> Any:
    if ctx.dialect != "parse":
        return _remove(ctx, ctx.args[0])
    ctx.require_master()
    rows, _ = reads.query(ctx, FILE_CLASS, {"name": unquote(ctx.args[0])}, limit=1)
    if not rows:
        raise ProtocolError(153, "Could not delete file.", 400)
    return _remove(ctx, rows[0]["objectId"])


def _no_client_key(ctx: Context) -> Dict[str, Any]:
    """The body of a ``_File`` write, refused (119) when a client sets ``key``: a file with a key is served
    at ``/<key>``, any path of this server's origin (``/.well-known/...``), so only the master key (an
    import keeping LeanCloud's keys) chooses one."""
    body = ctx.json_body()
    if "key" in body and not ctx.caller.master:
        raise ProtocolError(119, "A file's key can be set with the master key only.", 403)
    return body


def create_file_object(ctx: Context) -> Any:
    """``POST classes/_File``: an object like any other, but a client chooses no key."""
    return objects.write(ctx, FILE_CLASS, None, _no_client_key(ctx), fetch_when_save=objects.write_options(ctx)[1])


def update_file_object(ctx: Context) -> Any:
    """``PUT classes/_File/<id>``: likewise."""
    where, fetch_when_save = objects.write_options(ctx)
    return objects.write(ctx, FILE_CLASS, ctx.args[0], _no_client_key(ctx), where, fetch_when_save)


def delete_file_object(ctx: Context) -> Any:
    """Deleting the ``_File`` object deletes its bytes too."""
    return _remove(ctx, ctx.args[0])


# -- serving the bytes ---------------------------------------------------------------------------------
def open_download(server: "Services", path: str) -> Tuple[BinaryIO, int, Dict[str, str]]:
    """The open file, size and response headers for ``/files/<objectId>/<name>`` or ``/<key>``; 404 when
    there is none."""
    ctx = Context(server, "GET", "", "leancloud", {}, Caller(master=True), None)
    keyed = not path.startswith(DOWNLOAD_PREFIX)
    where: Dict[str, Any] = {"objectId": path[len(DOWNLOAD_PREFIX):].split("/", 1)[0]}
    if keyed:  # only a key chosen with the master key is where a file is served (its url ends with it)
        key = unquote(path.strip("/"))
        ending = "/" + re.escape(quote(key)) + "$"
        if len(ending) > MAX_REGEX_CHARS:  # no key is that long; the lookup would be over its budget (500)
            raise ProtocolError(1, f"Unknown endpoint: GET {path[:100]}.", 404)
        where = {"key": key, "url": {"$regex": ending}}
    rows, _ = reads.query(ctx, FILE_CLASS, where, order="-createdAt", limit=1)
    if not rows and keyed:  # no file there: a path outside the API
        raise ProtocolError(1, f"Unknown endpoint: GET {path}.", 404)
    object_id = rows[0]["objectId"] if rows else ""
    if not rows:
        raise ProtocolError(101, "File not found.", 404)
    try:
        handle, size = server.file_bytes.open(object_id)
    except FileNotFoundError:
        raise ProtocolError(101, "File not found.", 404) from None
    return handle, size, download_headers(rows[0])


def download_headers(row: Dict[str, Any]) -> Dict[str, str]:
    """The headers of a ``_File`` row's bytes: its declared Content-Type, never sniffed, in a sandbox;
    inline only for the passive types of ``INLINE``, every other type as an attachment."""
    mime = row.get("mime_type")
    if not isinstance(mime, str) or not MIME.match(mime):
        mime = "application/octet-stream"
    headers = {"Content-Type": mime, **FILE_HEADERS}
    essence = mime.split(";", 1)[0].strip().lower()
    if essence not in INLINE:
        name = row.get("name")
        name = name if isinstance(name, str) else "file"
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return headers


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The bytes of an open file, a chunk at a time, closing it at the end."""
    with handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            yield chunk


def handle_raw(server: "Services", method: str, path: str, body: Body,
               content_type: Optional[str] = None) -> EmbeddedResponse:
    """Requests outside the API prefixes: uploads to an ``upload_url`` and downloads of file bytes
    (in-process; over WSGI downloads stream from disk instead, see ``EmbeddedServer.__call__``)."""
    try:
        if path.startswith(UPLOAD_PREFIX) and method in ("PUT", "POST"):
            return _upload(server, path[len(UPLOAD_PREFIX):].strip("/"), body,
                           content_type or "" if method == "POST" else None)
        if is_download(method, path):
            handle, _, headers = open_download(server, path)
            data = b"".join(chunks(handle))
            return EmbeddedResponse(200, b"" if method == "HEAD" else data, headers)
        raise ProtocolError(1, f"Unknown endpoint: {method} {path}.", 404)
    except ProtocolError as exc:
        return EmbeddedResponse(exc.status, dumps(exc.as_json()).encode("utf-8"))
