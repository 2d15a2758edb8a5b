"""``EmbeddedServer``: the embedded backend's request handler, callable in-process and as a WSGI app."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl

import orjson

from . import admission, endpoints, envelope, probes  # importing the endpoints package registers every route
from .access import authz, phones, verifiers
from .endpoints import file_urls, hosted_files, sessions
from .storage import counters
from ..errors import error_for
from ..protocol.dialects import same_secret
from ..protocol.wsgi_input import BoundedInput, ChunkedInput, MalformedBody
from .admission import PREFIXES, PUBLIC, Headers
from .budget import OverBudget, deadline, interrupted
from .idempotency import Idempotency
from .live import LiveQueries, LocalLiveConnection
from .limits import too_complex
from .routing import Body, CloudCode, Context, Readable, resolve
from .settings import DEFAULT_MAX_OBJECT, DEFAULT_MAX_UPLOAD, DEFAULT_PHONE_REGION, AccountVerifier, LiveLimits, Settings
from .caller import Caller
from .answers import EmbeddedResponse, ProtocolError, dumps
from .storage.store import store_failure
from .storage.file_bytes import FileBytes
from .storage.stores import file_bytes_of, is_postgresql_url, open_store
from .storage.interface import StaleCatalogue, Store
from .storage.values import now_iso

__all__ = ["EmbeddedServer", "CORS"]

log = logging.getLogger("leanorm.embedded")
#: a Host header that can start a URL (a name or address and a port): anything else is not used in one
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?\Z|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?\Z")

#: ``users[/<id>]`` and ``roles[/<id>]`` are the classes ``_User`` and ``_Role`` under other names
#: the longest installation id a session records (Parse's are UUIDs; a longer header is not recorded)
MAX_INSTALLATION_ID = 128
ALIASES = {"users": "_User", "roles": "_Role", "installations": "_Installation", "sessions": "_Session"}


#: ``users/<word>`` paths the SDKs call that are endpoints, not a user's id (served or not: a user
#: "strictlyQuery" would answer ``{}``, as a missing object does, and hide the difference)
NOT_USER_IDS = frozenset({"me", "strictlyQuery", "friendshipRequests"})


def canonical(path: str) -> str:
    """The path the routes know: the class aliases (``users/<id>`` is ``classes/_User/<id>``), a user's
    actions under ``classes/_User/<id>/`` (``updatePassword``, ``refreshSessionToken``) as under
    ``users/<id>/``, and the Python SDK's push status ``tables/Notifications/<id>``."""
    parts = path.split("/")
    if parts[0] in ALIASES and len(parts) <= 2 and not (len(parts) == 2 and parts[1] in NOT_USER_IDS):
        return "/".join(["classes", ALIASES[parts[0]], *parts[1:]])
    if parts[:2] == ["classes", "_User"] and len(parts) == 4:
        return "/".join(["users", *parts[2:]])
    if parts[:2] == ["tables", "Notifications"] and len(parts) == 3:
        return f"classes/_Notification/{parts[2]}"
    return path


class _CappedBody:
    """A streamed body that refuses (413) to yield more than ``limit`` bytes: a chunked upload ends as
    soon as it passes its cap, whatever it meant to send."""

    def __init__(self, stream: Readable, limit: int) -> None:
        self.stream, self.limit, self.left = stream, limit, limit

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(self.left + 1 if size < 0 else min(size, self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise admission.too_large(self.limit)
        return data


def _within(body: Body, limit: int, streamed: bool) -> Body:
    """``body`` held to ``limit`` bytes: file bytes stay a stream (capped as they are read), anything else
    is read whole, at most ``limit`` bytes of it."""
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        if len(body) > limit:
            raise admission.too_large(limit)
        return body
    if streamed:
        return _CappedBody(body, limit)
    data = body.read(limit + 1)
    if len(data) > limit:
        raise admission.too_large(limit)
    return data


class EmbeddedServer:
    """A LeanCloud-protocol server over SQLite: LeanCloud dialect under ``/1.1/``, Parse under ``/parse/``.

    ``handle()`` serves one request in-process (what ``local://`` clients use); calling the server
    object is the same handler as a WSGI app (what ``leanorm serve`` runs). ``engine`` is an
    :class:`leanorm.engine.Engine` whose functions and hooks the backend runs.

    File URLs start with ``public_url`` when it is given; else with the address the request was sent to
    (its ``Host``). Over HTTP, ``X-Forwarded-Host``/``-Proto``/``-For`` count only with ``trust_proxy``
    (behind a reverse proxy that sets them): from anyone else they would let a client choose the address
    other users download a file from.

    Every request is admitted from its headers before its body is read (``admission.admit``: the app's
    keys, an upload address, the route's cap on body bytes); uploads take at most ``max_upload_size``
    bytes, and an object a client writes at most ``max_object_size`` as stored (the master key is not bound).
    """

    #: ``max_upload_size`` for a server whose only client is the app in its own process (``local://``)
    UNCAPPED_UPLOADS = admission.UNCAPPED_UPLOADS
    #: what this server can do beyond what its dialect says (the client asks, see ``Client.supports``)
    #: (``live_any_where``: its live queries match with the query compiler, so they take every ``where``
    #: a find takes: ``live/matching.py``)
    capabilities = frozenset({"schema_api", "text_search", "contained_by", "polygons", "aggregate",
                              "aggregate_full_match", "transactions", "live_any_where"})

    def __init__(self, database: str = ":memory:", app_id: str = "leanorm-local",
                 app_key: str = "leanorm-local-key", master_key: str = "leanorm-local-master",
                 files_dir: Optional[str] = None, engine: Optional[CloudCode] = None, prod: bool = True,
                 public_url: Optional[str] = None, trust_proxy: bool = False,
                 allow_custom_object_id: bool = False, client_class_creation: bool = True,
                 protected_fields: Optional[Mapping[str, Mapping[str, List[str]]]] = None,
                 auth_verifiers: Optional[Mapping[str, AccountVerifier]] = None,
                 hook_key: Optional[str] = None, query_timeout: Optional[float] = None,
                 max_upload_size: int = DEFAULT_MAX_UPLOAD, max_object_size: int = DEFAULT_MAX_OBJECT,
                 phone_region: str = DEFAULT_PHONE_REGION, idempotency: Optional[Idempotency] = None,
                 verify_user_emails: bool = False, prevent_login_with_unverified_email: bool = False,
                 client_key_required: bool = True, live_limits: Optional[LiveLimits] = None) -> None:
        if max_upload_size < 1:
            raise ValueError(f"max_upload_size must be a positive number of bytes, got {max_upload_size}")
        if max_object_size < 1:
            raise ValueError(f"max_object_size must be a positive number of bytes, got {max_object_size}")
        self.store: Store = open_store(database)
        #: ``GET /ready``'s check of the store, bounded in time (``probes.Readiness``)
        self.readiness = probes.Readiness(self.store)
        #: a files folder this server made for an in-memory database: it goes with the database on close
        self._temporary_files_dir: Optional[str] = None
        #: where hosted files' bytes are kept: PostgreSQL's own table unless a folder is named (so every
        #: node serving the database serves every file), else a folder beside the SQLite file
        if files_dir is None and self.store.memory:
            files_dir = self._temporary_files_dir = tempfile.mkdtemp(prefix="leanorm-files-")
        self.file_bytes: FileBytes = file_bytes_of(database, self.store, files_dir)
        if files_dir is None and not is_postgresql_url(database):
            files_dir = database + ".files"
        #: the server's configuration, as its endpoints read it (``ctx.settings``)
        self.settings = Settings(
            app_id=app_id, app_key=app_key, master_key=master_key, hook_key=hook_key, prod=prod,
            phone_region=phones.check_region(phone_region), max_upload_size=max_upload_size, files_dir=files_dir or "",
            max_object_size=max_object_size,
            public_url=public_url.rstrip("/") if public_url else None, trust_proxy=trust_proxy,
            query_timeout=query_timeout, verify_user_emails=verify_user_emails,
            prevent_login_with_unverified_email=prevent_login_with_unverified_email,
            client_key_required=client_key_required, allow_custom_object_id=allow_custom_object_id,
            client_class_creation=client_class_creation,
            protected_fields={name: authz.check_protected_fields(dict(config))
                              for name, config in (protected_fields or {}).items()},
            auth_verifiers={**verifiers.BUILT_IN, **(auth_verifiers or {})}, live=live_limits or LiveLimits())
        phones.normalise_stored_numbers(self.store, self.settings.phone_region)
        #: which writes are served once per ``X-Parse-Request-Id`` (None: none, Parse Server's default)
        self.idempotency = idempotency
        #: the cloud code as this server runs it: its own requests reach this server (``CloudCode.serving``)
        self.cloud_code = engine.serving(self) if engine is not None else None
        #: live queries' connections and the reader of the change feed (started by the first connection)
        self.live = LiveQueries(self)

    def live_connection(self) -> LocalLiveConnection:
        """A live connection in this process, speaking Parse's LiveQuery messages as dicts (async
        ``send``, ``receive``, ``close``: docs/embedded.md, "Live queries")."""
        return LocalLiveConnection(self.live)

    # -- the protocol --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Optional[Mapping[str, str]] = None,
               headers: Optional[Mapping[str, str]] = None,
               body: Body = None, client_address: str = "local") -> EmbeddedResponse:
        """Serve one request and answer it; errors answer LeanCloud's shape, never a traceback.

        ``body`` may be a binary file object (anything with ``read``): file uploads read it in chunks,
        other requests whole. ``client_address`` is the peer's address (what rate limits count by).
        """
        return self._handle(method, path, params, headers, body, client_address, None)

    def _handle(self, method: str, path: str, params: Optional[Mapping[str, str]],
                headers: Optional[Mapping[str, str]], body: Body, client_address: str,
                limit: Optional[int]) -> EmbeddedResponse:
        """``handle``, for a request already admitted with a body ``limit`` (None: admitted here)."""
        extra: Dict[str, str] = {}  # headers the handler adds to a successful answer
        answer: Any  # the encoded answer, or an error's JSON
        try:
            if limit is None:
                limit = admission.admit(self, method, path, headers or {})
            body = _within(body, limit, hosted_files.streams(method.upper(), path))
            if path.startswith(hosted_files.UPLOAD_PREFIX) or hosted_files.is_download(method.upper(), path):
                content_type = Headers(headers or {}).get("Content-Type")
                return hosted_files.handle_raw(self, method.upper(), path, body, content_type)
            method, params, headers = method.upper(), dict(params or {}), dict(headers or {})
            if path.startswith("/parse/"):  # the Parse JS SDK's keys and real method travel in the body
                method, params, headers, body = envelope.unwrap(method, path, params, headers, body)
            with deadline(self.settings.query_timeout, may_run_again=True):
                try:
                    try:
                        status, answer = self._serve(method, path, params, Headers(headers), body, client_address,
                                                     extra)
                    finally:  # a request answered from what the store keeps alone (a refusal) checks it now
                        self.store.settle()
                except StaleCatalogue:  # what it read of the kept catalogue was outdated, and it did nothing yet
                    extra.clear()
                    status, answer = self._serve(method, path, params, Headers(headers), body, client_address, extra)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer the protocol's error shape
            status, answer = self._refusal(exc, method, path)
        # an answer is served as the bytes _serve encoded it to; an error here is encoded here
        response = EmbeddedResponse(status, answer if isinstance(answer, bytes) else orjson.dumps(answer))
        if status < 400:
            response.headers.update(extra)
        return response

    def _refusal(self, exc: Exception, method: str, path: str) -> Tuple[int, Dict[str, Any]]:
        """The answer to a request that raised ``exc``: its protocol error; for an exception outside a
        handler (the session lookup past the deadline, the disk refusing a write, a download's look-up)
        the client's error it stands for; else 500, logged."""
        if isinstance(exc, ProtocolError):
            return exc.status, exc.as_json()
        if isinstance(exc, MalformedBody):  # the bytes never arrived as sent: nothing was stored
            return 400, {"code": 107, "error": f"Malformed request body: {exc}."}
        refusal = self._over_budget(exc) or store_failure(exc)
        if refusal is not None:
            return refusal.status, refusal.as_json()
        log.exception("embedded backend failed on %s %s", method, path)
        return 500, {"code": 1, "error": "Internal server error."}

    def admit(self, method: str, path: str, headers: Mapping[str, str]) -> int:
        """The most bytes the body of ``method path`` may have, from its headers alone; raises
        :class:`ProtocolError` for a caller refused before its body is read (``admission.admit``)."""
        return admission.admit(self, method, path, headers)

    def _serve(self, method: str, path: str, params: Dict[str, str], headers: Headers, body: Body,
               client_address: str = "local", response_headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
        """Answer one request, encoded; headers its handler adds to the answer go into ``response_headers``."""
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
            if dialect == "parse" and self.idempotency is not None:  # authenticated, before any work
                self.idempotency.claim(self.store, headers.get("X-Parse-Request-Id"), method, below)
        host = headers.get("X-Forwarded-Host", "Host")
        scheme = headers.get("X-Forwarded-Proto")
        base_url = self.settings.public_url or (f"{scheme if scheme in ('http', 'https') else 'http'}://{host}"
                                       if host and HOST.match(host) else "http://localhost")
        installation = headers.get("X-Parse-Installation-Id")
        ctx = Context(self, method, below, dialect, params, caller, body, base_url=base_url,
                      client_address=client_address, content_type=headers.get("Content-Type"),
                      installation_id=installation if installation and len(installation) <= MAX_INSTALLATION_ID
                      else None,
                      response_headers={} if response_headers is None else response_headers)
        status, answer = self._dispatch(ctx)
        return status, file_urls.encode_answer(ctx, answer)  # every answer: hosted files under this address

    def _dispatch(self, ctx: Context) -> Tuple[int, Any]:
        handler, ctx.args = resolve(ctx.method, canonical(ctx.path))
        try:
            answer = handler(ctx)
        except Exception as exc:
            # a refusal is the protocol's error here, where a batch's items pass too: raised past a batch
            # item, it answered the whole batch an error while the items before it stood
            refusal = self._over_budget(exc)
            if refusal is None:
                raise
            raise refusal from None
        if isinstance(answer, tuple):
            return answer
        return 200, answer

    def _over_budget(self, exc: BaseException) -> Optional[ProtocolError]:
        """The client's error for a request over its cost budget (``budget.py``): a bound it passed, a
        read interrupted at its deadline (``budget.watch``), or a query SQLite's parser finds too complex;
        None for any other exception."""
        if isinstance(exc, OverBudget):
            return ProtocolError(exc.code, str(exc))
        if too_complex(exc):
            return ProtocolError(102, "Invalid query: too complex to run.")
        if interrupted(exc):
            return ProtocolError(124, f"The request ran past its time limit of {self.settings.query_timeout or 0:g} s; "
                                      "narrow the query (an indexed condition, fewer rows).")
        return None

    def _caller(self, dialect: str, headers: Headers, tolerant: bool = False) -> Caller:
        """Who the request's keys (checked again: an envelope's came out of its body) and session make
        its caller."""
        master = admission.keys(self, dialect, headers)
        if dialect == "parse":
            return sessions.authenticate(self.store, headers.get("X-Parse-Session-Token"), master)
        caller = sessions.authenticate(self.store, headers.get("X-LC-Session", "X-Avoscloud-Session-Token"), master,
                                       tolerant)
        if self.settings.hook_key and same_secret(headers.get("X-LC-Hook-Key"), self.settings.hook_key):
            caller = dataclasses.replace(caller, hook=True)
        return caller

    def _client_address(self, environ: Dict[str, Any]) -> str:
        """Who sent the request, for the limits kept per client: the peer, or behind a trusted proxy the
        address the proxy says it forwarded for (the last one it appended)."""
        return self.settings.client_address(environ.get("HTTP_X_FORWARDED_FOR"), environ.get("REMOTE_ADDR") or "")

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
                          client_address=ctx.client_address, batch_item=True, budget=ctx.budget,
                          installation_id=ctx.installation_id)
            with self.store.savepoint():  # in a batch's transaction, a failing item is undone alone
                _, answer = self._dispatch(sub)
            return {"success": answer}
        except ProtocolError as exc:
            return {"error": exc.as_json()}

    # -- outbox: what SMS and e-mail would have been sent -------------------------------------------------
    def deliver(self, kind: str, recipient: str, purpose: str, code: Optional[str] = None,
                body: Optional[Dict[str, Any]] = None) -> None:
        with self.store.write() as conn:
            cursor = conn.execute("INSERT INTO _outbox (kind, recipient, purpose, code, body, created_at) "
                                  "VALUES (?, ?, ?, ?, ?, ?)",
                                  (kind, recipient, purpose, code, dumps(body or {}), now_iso()))
            # the newest messages only: anonymous requests (captchas, resets) must not grow it without end
            conn.execute("DELETE FROM _outbox WHERE id <= ?", ((cursor.lastrowid or 0) - self.settings.outbox_size,))

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
        """Create an index on ``class_name.key`` (``unique=True``: a duplicate value is error 137); raises
        :class:`~leanorm.errors.DuplicateValue` (137) when existing objects already share a value."""
        try:
            return self.store.create_index(class_name, key, unique)
        except ProtocolError as exc:  # an in-process caller's error, typed as a client's would be
            raise error_for(exc.code, exc.message, exc.status) from None

    def create_counter(self, class_name: str, field: str) -> str:
        """Keep counts of ``class_name``'s objects by ``field`` (a top-level String or Number field), so
        that ``count()`` of the whole class or of one value of ``field`` reads a handful of counters
        instead of every matching index entry, for any caller (the counts are kept per ACL). Every write
        to the class updates them in its own transaction. Returns the counter's name."""
        return counters.create_counter(self.store, class_name, field)

    def close(self) -> None:
        self.live.shutdown()
        self.store.close()
        if self._temporary_files_dir is not None:
            shutil.rmtree(self._temporary_files_dir, ignore_errors=True)
            self._temporary_files_dir = None

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":  # CORS preflight of browser SDKs
            start_response("204 No Content", list(CORS.items()))
            return [b""]
        path = environ.get("PATH_INFO", "/")
        operator = probes.answer(self, method, path)
        if operator is not None:
            status, answer = operator
            data = dumps(answer).encode()
            start_response(f"{status} {_REASONS.get(status, 'Status')}",
                           [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(data)))])
            return [data]
        if hosted_files.is_download(method, path):
            return self._download(method, path, environ, start_response)
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")
                   and (self.settings.trust_proxy or not key.startswith("HTTP_X_FORWARDED_"))}
        headers.setdefault("X-FORWARDED-PROTO", environ.get("wsgi.url_scheme", "http"))
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1  # unreadable: refused below, and the body is never read
        try:
            # the caller and its body's cap, from the headers: a refused body is never read
            limit = environ.get(admission.ADMITTED)
            if limit is None:
                limit = admission.admit(self, method, path, headers)
            if length < 0:
                raise ProtocolError(107, "Invalid Content-Length.")
            if length > limit:
                raise admission.too_large(limit)
        except ProtocolError as exc:
            resp = EmbeddedResponse(exc.status, dumps(exc.as_json()).encode())
        else:
            # file bytes go on as a stream (of the declared length, or chunked), to disk a chunk at a time;
            # a chunked JSON body is decoded as it is read
            body: Body
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                body = ChunkedInput(environ["wsgi.input"])
            elif hosted_files.streams(method, path):
                body = BoundedInput(environ["wsgi.input"], length)
            else:
                body = environ["wsgi.input"].read(length) if length else None
            params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
            resp = self._handle(method, path, params, headers, body, self._client_address(environ), limit)
        start_response(f"{resp.status} {_REASONS.get(resp.status, 'Status')}",
                       [*resp.headers.items(), ("Content-Length", str(len(resp.body))), *CORS.items()])
        return [resp.body]

    def _download(self, method: str, path: str, environ: Dict[str, Any],
                  start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The bytes of a file, streamed from disk (never read whole)."""
        try:
            with deadline(self.settings.query_timeout):  # anyone may ask: the look-up is bounded as a read
                handle, size, headers = hosted_files.open_download(self, path)
        except Exception as exc:  # noqa: BLE001 - answered as every request is (never a traceback)
            status, answer = self._refusal(exc, method, path)
            body = dumps(answer).encode("utf-8")
            start_response(f"{status} {_REASONS.get(status, 'Status')}",
                           [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
                            *CORS.items()])
            return [body]
        start_response("200 OK", [*headers.items(), ("Content-Length", str(size)), *CORS.items()])
        if method == "HEAD":
            handle.close()
            return [b""]
        wrapper = environ.get("wsgi.file_wrapper")
        return wrapper(handle, hosted_files.CHUNK) if wrapper else hosted_files.chunks(handle)


CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
         "Access-Control-Allow-Headers": "*", "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id"}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}
