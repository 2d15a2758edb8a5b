"""``LocalServer``: the embedded backend's request handler, callable in-process and as a WSGI app."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl

from . import (aggregate, auth_data, authz, batch, captcha, classes, config, cql, envelope, files, friendship,  # noqa: F401
               hooks, installations, leaderboards, mail, push, schemas, server_time, sessions, sms, statuses, users)
from . import console, counters, verifiers  # noqa: F401
# (importing the endpoint modules registers their endpoints)
from ..protocol.dialects import check_request_sign, same_secret
from ..protocol.wsgi_input import BoundedInput, ChunkedInput, MalformedBody
from .limits import too_complex
from .protocol import Body, Caller, CloudCode, Context, LocalResponse, ProtocolError, dumps, resolve
from .store import Store
from .values import now_iso

__all__ = ["LocalServer"]

log = logging.getLogger("leanorm.local")
PREFIXES = (("/1.1/", "leancloud"), ("/parse/", "parse"))
MAX_BODY = 64 * 1024 * 1024
#: a Host header that can start a URL (a name or address and a port): anything else is not used in one
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?\Z")


#: requests answered without app keys: the official SDK's ``get_server_time`` sends none
PUBLIC = {("GET", "date")}

#: ``users[/<id>]`` and ``roles[/<id>]`` are the classes ``_User`` and ``_Role`` under other names
ALIASES = {"users": "_User", "roles": "_Role", "installations": "_Installation"}


def _canonical(path: str) -> str:
    parts = path.split("/")
    if parts[0] in ALIASES and len(parts) <= 2 and parts[1:] != ["me"]:
        return "/".join(["classes", ALIASES[parts[0]], *parts[1:]])
    return path


class _Headers:
    """Case-insensitive view of request headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._h = {k.lower(): v for k, v in headers.items()}

    def get(self, *names: str) -> Optional[str]:
        for name in names:
            value = self._h.get(name.lower())
            if value:
                return value
        return None


class LocalServer:
    """A LeanCloud-protocol server over SQLite: LeanCloud dialect under ``/1.1/``, Parse under ``/parse/``.

    ``handle()`` serves one request in-process (what ``local://`` clients use); calling the server
    object is the same handler as a WSGI app (what ``leanorm serve`` runs). ``engine`` is an
    :class:`leanorm.engine.Engine` whose functions and hooks the backend runs.

    File URLs start with ``public_url`` when it is given; else with the address the request was sent to
    (its ``Host``). Over HTTP, ``X-Forwarded-Host``/``-Proto``/``-For`` count only with ``trust_proxy``
    (behind a reverse proxy that sets them): from anyone else they would let a client choose the address
    other users download a file from.
    """

    #: whether ``POST push`` accepts the app key too (LeanCloud's client push switch); else master key only
    client_push = False
    #: what this server can do beyond what its dialect says (the client asks, see ``Client.supports``)
    capabilities = frozenset({"schema_api"})
    #: seconds before an SMS code of the same purpose can be asked for the same number again (error 601)
    sms_interval = 60.0

    def __init__(self, database: str = ":memory:", app_id: str = "leanorm-local",
                 app_key: str = "leanorm-local-key", master_key: str = "leanorm-local-master",
                 files_dir: Optional[str] = None, engine: Optional[CloudCode] = None, prod: bool = True,
                 public_url: Optional[str] = None, trust_proxy: bool = False,
                 allow_custom_object_id: bool = False,
                 protected_fields: Optional[Mapping[str, Mapping[str, List[str]]]] = None,
                 auth_verifiers: Optional[Mapping[str, "verifiers.Verifier"]] = None,
                 hook_key: Optional[str] = None) -> None:
        self.store = Store(database)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.trust_proxy = trust_proxy
        #: whether clients without the master key may choose new objects' ids (``[A-Za-z0-9]{1,64}``)
        self.allow_custom_object_id = allow_custom_object_id
        #: ``{class: {principal: [field, ...]}}``: the default ``protectedFields`` of classes that set none
        self.protected_fields: Dict[str, Mapping[str, List[str]]] = {
            name: authz.check_protected_fields(dict(config)) for name, config in (protected_fields or {}).items()}
        #: third-party login providers this server can check (``anonymous`` needs none); others are refused
        self.auth_verifiers: Dict[str, verifiers.Verifier] = {**verifiers.BUILT_IN, **(auth_verifiers or {})}
        self.app_id, self.app_key, self.master_key = app_id, app_key, master_key
        #: LeanEngine's hook key: a request carrying it (``X-LC-Hook-Key``) may skip hooks (``__ignore_hooks``)
        self.hook_key = hook_key
        self.prod = prod
        #: a files folder this server made for an in-memory database: it goes with the database on close
        self._temporary_files_dir: Optional[str] = None
        if files_dir is None:
            if self.store.memory:
                files_dir = self._temporary_files_dir = tempfile.mkdtemp(prefix="leanorm-files-")
            else:
                files_dir = database + ".files"
        self.files_dir = files_dir
        # the cloud code as this server runs it: its own requests reach this server (see CloudCode.serving)
        self.engine = engine.serving(self) if engine is not None else None

    # -- the protocol --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Optional[Mapping[str, str]] = None,
               headers: Optional[Mapping[str, str]] = None,
               body: Body = None, client_address: str = "local") -> LocalResponse:
        """Serve one request and answer it; errors answer LeanCloud's shape, never a traceback.

        ``body`` may be a binary file object (anything with ``read``): file uploads read it in chunks,
        other requests whole. ``client_address`` is the peer's address (what rate limits count by).
        """
        try:
            if path.startswith(files.UPLOAD_PREFIX) or files.is_download(method.upper(), path):
                content_type = _Headers(headers or {}).get("Content-Type")
                return files.handle_raw(self, method.upper(), path, body, content_type)
            if body is not None and not isinstance(body, (bytes, bytearray)) and \
                    not files.streams(method.upper(), path):
                body = body.read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    raise ProtocolError(1, "Request body too large.", 413)
            method, params, headers = method.upper(), dict(params or {}), dict(headers or {})
            if path.startswith("/parse/"):  # the Parse JS SDK's keys and real method travel in the body
                method, params, headers, body = envelope.unwrap(method, path, params, headers, body, MAX_BODY)
            status, answer = self._serve(method, path, params, _Headers(headers), body, client_address)
        except ProtocolError as exc:
            status, answer = exc.status, exc.as_json()
        except MalformedBody as exc:  # the bytes never arrived as sent: nothing was stored
            status, answer = 400, {"code": 107, "error": f"Malformed request body: {exc}."}
        except Exception as exc:  # noqa: BLE001 - a bug must still answer the protocol's error shape
            if too_complex(exc):
                status, answer = 400, {"code": 102, "error": "Invalid query: too complex to run."}
            else:
                log.exception("embedded backend failed on %s %s", method, path)
                status, answer = 500, {"code": 1, "error": "Internal server error."}
        return LocalResponse(status, dumps(answer).encode("utf-8"))

    def _serve(self, method: str, path: str, params: Dict[str, str], headers: _Headers,
               body: Body, client_address: str = "local") -> Tuple[int, Any]:
        for prefix, dialect in PREFIXES:
            if path.startswith(prefix):
                break
        else:
            raise ProtocolError(1, f"Unknown endpoint: {method} {path} (the API is under /1.1/ and /parse/).", 404)
        below = path[len(prefix):].strip("/")
        if (method, below) in PUBLIC:
            caller = Caller()
        else:
            caller = self._caller(dialect, headers, sessions.ignores_stale_session(dialect, method, below))
        host = headers.get("X-Forwarded-Host", "Host")
        scheme = headers.get("X-Forwarded-Proto")
        base_url = self.public_url or (f"{scheme if scheme in ('http', 'https') else 'http'}://{host}"
                                       if host and HOST.match(host) else "http://localhost")
        return self._dispatch(Context(self, method, below, dialect, params, caller, body,
                                      base_url=base_url, client_address=client_address,
                                      content_type=headers.get("Content-Type")))

    def _dispatch(self, ctx: Context) -> Tuple[int, Any]:
        handler, ctx.args = resolve(ctx.method, _canonical(ctx.path))
        answer = handler(ctx)
        if isinstance(answer, tuple):
            return answer
        return 200, answer

    def _caller(self, dialect: str, headers: _Headers, tolerant: bool = False) -> Caller:
        unauthorized = ProtocolError(401, "Unauthorized.", 401)
        if dialect == "parse":
            if headers.get("X-Parse-Application-Id") != self.app_id:
                raise unauthorized
            master_key = headers.get("X-Parse-Master-Key")
            if master_key is not None:
                if not same_secret(master_key, self.master_key):
                    raise unauthorized
                return sessions.authenticate(self.store, headers.get("X-Parse-Session-Token"), True)
            key = headers.get("X-Parse-REST-API-Key", "X-Parse-Javascript-Key", "X-Parse-Client-Key")
            if key != self.app_key:
                raise unauthorized
            return sessions.authenticate(self.store, headers.get("X-Parse-Session-Token"), False)
        if headers.get("X-LC-Id", "X-Avoscloud-Application-Id") != self.app_id:
            raise unauthorized
        master = self._leancloud_key(headers)
        caller = sessions.authenticate(self.store, headers.get("X-LC-Session", "X-Avoscloud-Session-Token"), master,
                                       tolerant)
        if self.hook_key and same_secret(headers.get("X-LC-Hook-Key"), self.hook_key):
            caller = dataclasses.replace(caller, hook=True)
        return caller

    def _leancloud_key(self, headers: _Headers) -> bool:
        """Check ``X-LC-Key`` (``key`` or ``masterkey,master``) or ``X-LC-Sign`` (``md5(ts+key),ts[,master]``);
        returns whether the master key was used."""
        sign = headers.get("X-LC-Sign", "X-Avoscloud-Request-Sign")
        if sign:
            valid, master = check_request_sign(sign, self.app_key, self.master_key)
            if not valid:
                raise ProtocolError(401, "Unauthorized: bad request signature.", 401)
            return master
        value = headers.get("X-LC-Key", "X-Avoscloud-Application-Key") or ""
        key, _, suffix = value.partition(",")
        master = suffix == "master"
        if not same_secret(key, self.master_key if master else self.app_key):
            raise ProtocolError(401, "Unauthorized.", 401)
        return master

    def _client_address(self, environ: Dict[str, Any]) -> str:
        """Who sent the request, for the limits kept per client: the peer, or behind a trusted proxy the
        address the proxy says it forwarded for (the last one it appended)."""
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "") if self.trust_proxy else ""
        return forwarded.rsplit(",", 1)[-1].strip() or environ.get("REMOTE_ADDR") or "unknown"

    def master_context(self, ctx: Context) -> Context:
        """The same request acting with the master key (for reads the engine makes on its own behalf)."""
        return dataclasses.replace(ctx, caller=Caller(master=True))

    def sub_request(self, ctx: Context, item: Any) -> Dict[str, Any]:
        """One request of a batch, answered as ``{"success": ...}`` or ``{"error": {code, error}}``."""
        try:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise ProtocolError(107, "Each batch request needs a method and a path.")
            path = item["path"]
            for prefix, dialect in PREFIXES:
                if path.startswith(prefix):
                    path = path[len(prefix):]
                    break
            else:
                if ctx.dialect == "parse":  # Parse Server refuses inner paths without its mount
                    raise ProtocolError(107, f"Batch paths must start with the mount path: {path}.")
            body = item.get("body")
            method = str(item.get("method", "GET")).upper()
            path, _, query = path.strip("/").partition("?")
            if path.split("/", 1)[0] == "batch":  # a batch inside a batch multiplies what one request costs
                raise ProtocolError(107, "Nested batch requests are not allowed.")
            params = dict(parse_qsl(query))
            # LeanCloud's JS SDK sends a query too long for a URL as a batch item holding "params"
            given = item["params"] if isinstance(item.get("params"), dict) else {}
            if method == "GET" and isinstance(body, dict):  # a GET's parameters may travel as its body
                given, body = {**body, **given}, None
            # re-encoded with the standard library's encoder, which spells any integer (orjson refuses those
            # beyond 64 bits), so the item's own handler answers them as it would over HTTP
            params.update((k, v if isinstance(v, str) else json.dumps(v)) for k, v in given.items())
            raw = None if body is None else json.dumps(body).encode("utf-8")
            sub = Context(self, method, path, ctx.dialect, params, ctx.caller, raw, base_url=ctx.base_url,
                          client_address=ctx.client_address, batch_item=True)
            with self.store.savepoint():  # in a batch's transaction, a failing item is undone alone
                _, answer = self._dispatch(sub)
            return {"success": answer}
        except ProtocolError as exc:
            return {"error": exc.as_json()}

    # -- outbox: what SMS and e-mail would have been sent -------------------------------------------------
    def deliver(self, kind: str, recipient: str, purpose: str, code: Optional[str] = None,
                body: Optional[Dict[str, Any]] = None) -> None:
        with self.store.write() as conn:
            conn.execute("INSERT INTO _outbox (kind, recipient, purpose, code, body, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (kind, recipient, purpose, code, dumps(body or {}), now_iso()))

    @property
    def outbox(self) -> List[Dict[str, Any]]:
        """Every SMS and e-mail the backend would have sent, oldest first: ``kind`` (``sms``/``email``),
        ``recipient``, ``purpose``, ``code``, ``body``, ``created_at``."""
        with self.store.read() as conn:
            rows = conn.execute("SELECT kind, recipient, purpose, code, body, created_at FROM _outbox ORDER BY id")
            return [{"kind": k, "recipient": r, "purpose": p, "code": c, "body": json.loads(b), "created_at": t}
                    for k, r, p, c, b, t in rows]

    # -- administration --------------------------------------------------------------------------------
    def create_index(self, class_name: str, key: str, unique: bool = False) -> str:
        """Create an index on ``class_name.key`` (``unique=True``: a duplicate value is error 137)."""
        return self.store.create_index(class_name, key, unique)

    def create_counter(self, class_name: str, field: str) -> str:
        """Keep counts of ``class_name``'s objects by ``field`` (a top-level String or Number field), so
        that ``count()`` of the whole class or of one value of ``field`` reads a handful of counters
        instead of every matching index entry, for any caller (the counts are kept per ACL). Every write
        to the class updates them in its own transaction. Returns the counter's name."""
        return counters.create_counter(self.store, class_name, field)

    def close(self) -> None:
        self.store.close()
        if self._temporary_files_dir is not None:
            shutil.rmtree(self._temporary_files_dir, ignore_errors=True)
            self._temporary_files_dir = None

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":  # CORS preflight of browser SDKs
            start_response("204 No Content", list(_CORS.items()))
            return [b""]
        path = environ.get("PATH_INFO", "/")
        if files.is_download(method, path):
            return self._download(method, path, environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1  # unreadable: refused below, and the body is never read
        streamed = files.streams(method, path)
        if length < 0:
            resp = LocalResponse(400, dumps({"code": 107, "error": "Invalid Content-Length."}).encode())
        elif length > MAX_BODY and not streamed:
            resp = LocalResponse(413, dumps({"code": 1, "error": "Request body too large."}).encode())
        else:
            # file bytes go on as a stream (of the declared length, or chunked), to disk a chunk at a time;
            # a chunked JSON body is decoded as handle() reads it
            body: Body
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                body = ChunkedInput(environ["wsgi.input"])
            elif streamed:
                body = BoundedInput(environ["wsgi.input"], length)
            else:
                body = environ["wsgi.input"].read(length) if length else None
            headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")
                       and (self.trust_proxy or not key.startswith("HTTP_X_FORWARDED_"))}
            headers.setdefault("X-FORWARDED-PROTO", environ.get("wsgi.url_scheme", "http"))
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
            resp = self.handle(method, path, params, headers, body, self._client_address(environ))
        start_response(f"{resp.status} {_REASONS.get(resp.status, 'Status')}",
                       [*resp.headers.items(), ("Content-Length", str(len(resp.body))), *_CORS.items()])
        return [resp.body]

    def _download(self, method: str, path: str, environ: Dict[str, Any],
                  start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The bytes of a file, streamed from disk (never read whole)."""
        try:
            handle, size, headers = files.open_download(self, path)
        except ProtocolError as exc:
            body = dumps(exc.as_json()).encode("utf-8")
            start_response(f"{exc.status} {_REASONS.get(exc.status, 'Status')}",
                           [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
                            *_CORS.items()])
            return [body]
        start_response("200 OK", [*headers.items(), ("Content-Length", str(size)), *_CORS.items()])
        if method == "HEAD":
            handle.close()
            return [b""]
        wrapper = environ.get("wsgi.file_wrapper")
        return wrapper(handle, files.CHUNK) if wrapper else files.chunks(handle)


_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
         "Access-Control-Allow-Headers": "*"}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error"}
