"""``leanorm serve``: a :class:`EmbeddedServer` on granian, a production HTTP server, in worker processes.

granian (Rust, hyper) owns the sockets: keep-alive, a deadline for request headers, a cap on the
connections each worker holds at once (more wait in the listen queue), graceful shutdown on SIGTERM. It
was chosen by measurement (docs/embedded.md, "Serving"). The app runs on granian's RSGI interface rather
than WSGI because a WSGI app reads the body in one of its threads: a client trickling its body would hold
that thread for as long as it likes. Here each request is first admitted from its headers alone
(``admission.admit``: the app's keys, an upload address, its body's cap), then its body is received on the
worker's event loop under a deadline for the whole of it, and only a complete request reaches the thread
pool that runs the (blocking, SQLite) handler.

granian serves HTTP/1 only (``HTTPModes.http1``): in its automatic mode the connection waits for the bytes
that tell HTTP/1 from HTTP/2 with no deadline, so a client that connects and says nothing held a
connection slot for ever; hyper's HTTP/1 header deadline starts when the connection is accepted, and
again when a kept-alive connection falls idle.

The worker processes share the WAL database (the store serialises writers across processes); each builds
its own :class:`EmbeddedServer` from the options the main process leaves in the environment.

The main process keeps the server up when granian gives up on a worker that keeps crashing
(:func:`supervise`). Around every request a worker counts it in the metrics (:mod:`.metrics`) and the
access log (:mod:`.logs`); ``/health`` is answered on the event loop, ``/metrics`` here when the caller
may read it, everything else by the app.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import functools
import gc
import importlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

if sys.platform != "win32":  # Windows has no open-files limit to raise
    import resource

from ..errors import LeanCloudError
from . import admission, logs, metrics, probes
from .endpoints import hosted_files
from .access.phones import DEFAULT_REGION
from .storage.store import FAILURE_OBSERVERS
from .answers import ProtocolError, dumps
from .budget import QUERY_TIMEOUT
from .handoff import Handoff
from .idempotency import DEFAULT_TTL, Idempotency
from .server import CORS, EmbeddedServer
from .settings import DEFAULT_MAX_OBJECT, LiveLimits
from .access.verifiers import parse_provider
from .live import ROUTER_PATH, LiveError, LiveQueries, LoopOutlet, RealtimeListener, router_answer
from .live.messages import error as live_error

__all__ = ["ServeOptions", "serve", "load_object"]

log = logging.getLogger("leanorm.serve")
#: where the main process leaves the options for the workers it spawns
OPTIONS_ENV = "LEANORM_SERVE_OPTIONS"
#: where it leaves its process id (a worker started after the main process died stops at once)
MAIN_PID_ENV = "LEANORM_SERVE_MAIN_PID"
#: seconds between a worker's looks at whether its main process is still there, and the seconds it then
#: has to stop before it exits (``_watch_the_main_process``)
ORPHAN_CHECK = 1.0
ORPHAN_GRACE = 10.0
#: upload bytes held in memory before the spool moves to a temporary file
SPOOL_IN_MEMORY = 1024 * 1024
#: seconds a live connection refused past a bound waits for the client's first message before closing
REFUSED_LINGER = 2.0
PR_SET_PDEATHSIG = 1  # prctl(2)
#: seconds before granian is started again after it gave up on crashing workers: the first pause, the longest
RESTART_BACKOFF = (1.0, 30.0)
#: seconds of running after which a crash loop's pause starts again from the shortest
STABLE_RUN = 60.0
#: open files a worker keeps beyond its connections (SQLite's, spooled uploads, logs)
RESERVED_FILES = 64

Headers = List[Tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """What ``leanorm serve`` was asked for (its command-line flags)."""

    database: str = "leanorm.sqlite3"
    host: str = "127.0.0.1"
    port: int = 3000
    app_id: str = "leanorm-local"
    app_key: str = "leanorm-local-key"
    master_key: str = "leanorm-local-master"
    engine: Optional[str] = None
    indexes: Tuple[str, ...] = ()
    unique_indexes: Tuple[str, ...] = ()
    #: ``Class.field``: counts of the class by the field, kept up to date (``EmbeddedServer.create_counter``)
    counters: Tuple[str, ...] = ()
    #: worker processes (``:memory:`` is one process's memory: always 1 worker)
    workers: int = 1
    #: threads per worker running the handler (SQLite releases the GIL while it works)
    threads: int = 2
    #: connections a worker holds at once; further ones wait in the listen queue (the open-files limit
    #: is raised to fit them where the hard limit allows)
    max_connections: int = 4096
    #: seconds for a request's headers (from the connection's start, or from the end of the previous answer
    #: on a kept-alive connection), and for the whole of an API request's body
    read_timeout: float = 30.0
    #: the most bytes a file upload may have
    max_upload_size: int = admission.DEFAULT_MAX_UPLOAD
    #: the most bytes an object a client writes may have as stored
    max_object_size: int = DEFAULT_MAX_OBJECT
    #: seconds for the whole of a file upload's body
    upload_timeout: float = 300.0
    #: seconds a stopping worker gives the requests in flight
    graceful_timeout: float = 30.0
    verbose: bool = False
    #: the address clients reach the server at (file URLs start with it)
    public_url: Optional[str] = None
    #: where hosted files' bytes are kept (a folder or ``s3://bucket/prefix``; None: the store's default)
    files: Optional[str] = None
    #: whether X-Forwarded-* headers come from a trusted reverse proxy
    trust_proxy: bool = False
    #: whether clients may choose new objects' ids
    allow_custom_object_id: bool = False
    #: whether clients' writes may create classes (Parse's ``allowClientClassCreation``; docs/security.md)
    client_class_creation: bool = False
    #: ``{class: {principal: [field, ...]}}``: fields hidden from other callers (None: the defaults)
    protected_fields: Optional[Dict[str, Dict[str, List[str]]]] = None
    #: ``PLATFORM=URL[#id_key]``: third-party login verifiers
    auth_providers: Tuple[str, ...] = ()
    #: LeanEngine's hook key: requests carrying it may skip hooks (``__ignore_hooks``)
    hook_key: Optional[str] = None
    #: seconds a request's reads may run in SQLite before they are interrupted (error 124)
    query_timeout: float = QUERY_TIMEOUT
    #: where a phone number without its country code is from (ISO 3166 code)
    phone_region: str = DEFAULT_REGION
    #: which writes are served once per ``X-Parse-Request-Id`` (regular expressions; none: off) and how long
    idempotency_paths: Tuple[str, ...] = ()
    idempotency_ttl: float = DEFAULT_TTL
    #: Parse's ``verifyUserEmails`` and ``preventLoginWithUnverifiedEmail``
    verify_user_emails: bool = False
    prevent_login_with_unverified_email: bool = False
    #: whether Parse-dialect clients must send the app key (False: the application id alone, Parse's rule
    #: for an app without client keys)
    client_key_required: bool = True
    #: the bearer token ``GET /metrics`` asks for (None: only from loopback, and not behind a proxy)
    metrics_token: Optional[str] = None
    #: ``text`` or ``json`` (one object a line): the server's, the access and granian's logs
    log_format: str = "text"
    #: live query connections one client address may hold per worker, subscriptions one connection may hold
    live_connections_per_address: int = 256
    live_subscriptions: int = 100
    #: the port of LeanCloud's realtime WebSocket (LeanCloud LiveQuery); None: not served
    realtime_port: Optional[int] = None


def load_object(spec: str) -> Any:
    """``package.module:attribute`` → the object (for ``--engine``)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise SystemExit(f"expected module:attribute, got {spec!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _local_server(options: ServeOptions) -> EmbeddedServer:
    engine = load_object(options.engine) if options.engine else None
    try:
        return EmbeddedServer(options.database, app_id=options.app_id, app_key=options.app_key,
                           master_key=options.master_key, engine=engine, public_url=options.public_url,
                           files_dir=options.files, trust_proxy=options.trust_proxy, allow_custom_object_id=options.allow_custom_object_id,
                           client_class_creation=options.client_class_creation,
                           protected_fields=options.protected_fields, query_timeout=options.query_timeout,
                           max_upload_size=options.max_upload_size, max_object_size=options.max_object_size,
                           auth_verifiers=dict(parse_provider(spec) for spec in options.auth_providers),
                           hook_key=options.hook_key, phone_region=options.phone_region,
                           idempotency=Idempotency(options.idempotency_paths, options.idempotency_ttl)
                           if options.idempotency_paths else None,
                           verify_user_emails=options.verify_user_emails,
                           prevent_login_with_unverified_email=options.prevent_login_with_unverified_email,
                           client_key_required=options.client_key_required,
                           live_limits=LiveLimits(max_connections_per_address=options.live_connections_per_address,
                                                  max_subscriptions=options.live_subscriptions))
    except (ValueError, AttributeError, ProtocolError) as exc:
        raise SystemExit(f"leanorm serve: {exc}") from None


def _refuse(proto: Any, error: ProtocolError) -> int:
    """Answer an error in LeanCloud's shape and close the connection: its input is not to be trusted, and
    what is left of its body is never read. Returns the status."""
    proto.response_bytes(error.status, [("content-type", "application/json; charset=utf-8"), ("connection", "close"),
                                        *CORS.items()], dumps(error.as_json()).encode())
    return error.status


def _respond(proto: Any, status: int, body: bytes, content_type: str, cors: bool = False) -> int:
    """Answer a request the loop serves itself (never cached); returns the status. ``cors``: a browser
    SDK asks it from an app's page (the realtime router), so the answer carries the API's CORS headers."""
    headers = [("content-type", content_type), ("cache-control", "no-store"), *(CORS.items() if cors else ())]
    proto.response_bytes(status, headers, body)
    return status


def _peer(scope: Any) -> str:
    """The address of the connection's other end (a reverse proxy's, behind one)."""
    return str(scope.client or "").rsplit(":", 1)[0].strip("[]")


class _Response:
    """What the WSGI app answered: status, headers, and the body whole or as an iterator of chunks."""

    def __init__(self) -> None:
        self.status, self.headers = 500, []  # type: int, Headers

    def start(self, status: str, headers: Headers, exc_info: Any = None) -> None:
        self.status, self.headers = int(status.split(" ", 1)[0]), list(headers)


class RSGIApp:
    """A WSGI app served on granian's RSGI interface: each request is admitted from its headers, its body
    received on the event loop under a deadline for the whole of it, then the app runs in a bounded
    thread pool."""

    def __init__(self, wsgi_app: Callable[..., Any], admit: Callable[[str, str, Dict[str, str]], int],
                 threads: int, read_timeout: float, upload_timeout: float,
                 on_close: Optional[Callable[[], None]] = None, measured: Optional[metrics.Metrics] = None,
                 metrics_token: Optional[str] = None, trust_proxy: bool = False,
                 live: Optional[LiveQueries] = None, realtime: Optional[RealtimeListener] = None) -> None:
        self.wsgi_app, self.admit, self.on_close = wsgi_app, admit, on_close
        #: the live queries a WebSocket connection reaches (any path: Parse's SDKs connect to the server's
        #: root or to its mount path, and send the keys in their first message)
        self.live = live
        #: LeanCloud's realtime WebSocket, whose address ``GET /v1/route`` gives (None: not served)
        self.realtime = realtime
        self.read_timeout, self.upload_timeout = read_timeout, upload_timeout
        #: the handler threads (a ``run_in_executor`` round trip cost more CPU than a read's handler: handoff)
        self.pool = Handoff(threads, "leanorm-serve")
        #: the threads live query messages are handled on: not the requests' (a proxy limits requests, not
        #: a WebSocket's messages, so two sockets checking subscriptions held every request up)
        self.live_pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leanorm-live")
        self.metrics, self.metrics_token, self.trust_proxy = measured, metrics_token, trust_proxy

    def __rsgi_init__(self, loop: Any) -> None:
        pass

    def __rsgi_del__(self, loop: Any) -> None:
        if self.realtime is not None:
            self.realtime.stop()
        self.pool.close(wait=True)
        self.live_pool.shutdown(wait=False)
        if self.on_close is not None:
            self.on_close()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """Answer one request, counted in the metrics and the access log."""
        if scope.proto == "ws":
            await self._live(scope, proto)
            return
        started = time.perf_counter()
        # granian makes a new string each time an attribute of the scope is read: read once per request
        method, path, peer = scope.method, scope.path, _peer(scope)
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            status = await self._answer(scope, proto, method, path, peer)
        finally:
            if self.metrics is not None:
                self.metrics.in_flight.dec()
        seconds = time.perf_counter() - started
        if self.metrics is not None and path != metrics.PATH:
            self.metrics.observe(metrics.route_of(method, path), status, seconds)
        logs.access(method, path, status, seconds, peer)

    async def _answer(self, scope: Any, proto: Any, method: str, path: str, peer: str) -> int:
        """Answer one request (``method path`` from ``peer``); its status."""
        headers = scope.headers
        items = headers.items()  # every line, in order (the environ joins repeated ones)
        streamed = hosted_files.streams(method, path)
        loop = asyncio.get_running_loop()
        try:
            given = dict(items)
            if streamed:  # an upload address is looked up in the database: not on the event loop
                limit = await self.pool.run(self.admit, method, path, given)
            else:
                limit = self.admit(method, path, given)
            body, length = await self._receive(proto, headers, limit, streamed)
        except ProtocolError as exc:
            return _refuse(proto, exc)
        except asyncio.TimeoutError:
            return _refuse(proto, ProtocolError(1, "Request body not received in time.", 408))
        if length == 0 and not streamed and "chunked" in (headers.get("transfer-encoding") or "").lower():
            # granian ends a chunked body whose framing breaks as if it were complete: what arrives is
            # nothing at all (a client sending JSON chunked sends something), and nothing is stored
            body.close()
            return _refuse(proto, ProtocolError(107, "Malformed chunked body: no bytes arrived.", 400))
        if path == probes.HEALTH and method in ("GET", "HEAD"):
            # liveness answers on the event loop: it needs no handler thread, so it answers while all are busy
            status, answer = probes.health()
            return _respond(proto, status, dumps(answer).encode(), "application/json; charset=utf-8")
        if path == metrics.PATH and self.metrics is not None and method == "GET" and metrics.allowed(
                headers.get("authorization"), peer, self.metrics_token, self.trust_proxy):
            data, content_type = await self.pool.run(metrics.Metrics.exposition)
            return _respond(proto, 200, data, content_type)
        if path == ROUTER_PATH and method == "GET" and self.realtime is not None and self.live is not None:
            # LeanCloud's realtime router: where the realtime WebSocket is (the host this request was sent to)
            asked = dict(urllib.parse.parse_qsl(scope.query_string)).get("appId")
            host = (headers.get("host") or "localhost").rsplit(":", 1)[0] if not (headers.get("host") or "").startswith(
                "[") else (headers.get("host") or "").rsplit("]", 1)[0] + "]"
            secure = self.trust_proxy and headers.get("x-forwarded-proto") == "https"
            found = router_answer(self.live.services.settings.app_id, asked, host, self.realtime.port, secure)
            if found is None:
                return _refuse(proto, ProtocolError(1, "App not exists.", 404))
            return _respond(proto, 200, dumps(found).encode(), "application/json; charset=utf-8", cors=True)
        # (metrics refused go on to the app, which answers 404 as for any path it does not know)
        try:
            environ = _environ(scope, method, path, peer, items, body, length, limit)
            if path == probes.READY:
                # readiness waits for the database on threads of its own, for a bounded time
                # (probes.Readiness): it answers while a stalled database holds every handler thread
                response, chunks = await loop.run_in_executor(None, self._app_answer, environ)
            else:
                if self.metrics is not None:
                    self.metrics.queued.inc()
                response, chunks = await self.pool.run(self._call, environ)
        finally:
            body.close()  # an upload's spool file goes at once
        if isinstance(chunks, bytes):
            # granian sets Content-Length from the body; a HEAD answer keeps the app's (that of a GET)
            headers = response.headers if method == "HEAD" else \
                [h for h in response.headers if h[0].lower() != "content-length"]
            proto.response_bytes(response.status, headers, chunks)
            return response.status
        # a file download: its chunks are read from disk in the pool, sent from the loop
        transport = proto.response_stream(response.status, response.headers)
        try:
            while True:
                chunk = await self.pool.run(next, chunks, None)
                if chunk is None:
                    break
                await transport.send_bytes(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return response.status

    async def _live(self, scope: Any, proto: Any) -> None:
        """Serve one WebSocket connection of live queries: each message the client sends is handled in
        the thread pool (it reads the store), what the server sends goes out from the event loop."""
        if self.live is None:
            proto.close(1008)
            return
        transport = await proto.accept()
        loop = asyncio.get_running_loop()
        outlet = LoopOutlet(loop, self.live.limits.max_pending, self.live.limits.max_pending_bytes)
        # who is connecting, for the bound per address: behind a trusted proxy, the client it names (every
        # line of the header in order, as the API reads them: a proxy may add its own after the client's)
        forwarded = ",".join(value for name, value in scope.headers.items() if name.lower() == "x-forwarded-for")
        address = self.live.services.settings.client_address(forwarded, _peer(scope))
        logs.access("GET", scope.path, 101, 0.0, address)
        writer = asyncio.ensure_future(_send_live(transport, outlet, proto))
        try:
            client = self.live.open(outlet, address)
        except LiveError as exc:  # past a bound: said, then closed
            outlet.put(dumps(exc.as_message()).encode(), force=True)
            # the client's first message (its connect) is on its way: closing with it unread would reset
            # the connection, and a reset can discard the answer before the client reads it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(transport.receive(), min(self.read_timeout, REFUSED_LINGER))
            outlet.close()
            await writer
            return
        # a connection must be connected (keys, session) within the read timeout: one that never says
        # who it is would hold its slot for ever
        deadline = loop.time() + self.read_timeout
        try:
            while not client.closed:
                wait = None if client.id is not None else max(0.0, deadline - loop.time())
                message = await asyncio.wait_for(transport.receive(), wait)
                if message.kind == 0:  # closed by the client
                    break
                await loop.run_in_executor(self.live_pool, client.receive, message.data)
        except asyncio.TimeoutError:
            self.live.drop(client, live_error(1, f"Not connected within {self.read_timeout:g} s: the connection "
                                                 "is closed.", reconnect=False))
        except Exception:  # noqa: BLE001 - the connection broke (granian's ProtocolClosed): it ends
            pass
        finally:
            self.live.close(client)
            await writer

    def _call(self, environ: Dict[str, Any]) -> Tuple[_Response, Any]:
        if self.metrics is not None:
            self.metrics.queued.dec()  # a handler thread took it
        return self._app_answer(environ)

    def _app_answer(self, environ: Dict[str, Any]) -> Tuple[_Response, Any]:
        """The app's answer to ``environ`` (``_call`` without the queue's count)."""
        response = _Response()
        result = self.wsgi_app(environ, response.start)
        if isinstance(result, list):
            return response, b"".join(result)
        return response, iter(result)

    async def _receive(self, proto: Any, headers: Any, limit: int, streamed: bool) -> Tuple[IO[bytes], int]:
        """The request body, whole, of at most ``limit`` bytes (413 by its Content-Length, unread; a
        chunked one as soon as it passes the cap): in memory, or for a file upload spooled to disk. The
        whole body must come within the read timeout (a file upload: the upload timeout), however its
        chunks are spaced."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.upload_timeout if streamed else self.read_timeout)
        chunked = "chunked" in (headers.get("transfer-encoding") or "").lower()
        if not chunked:
            try:
                size = int(headers.get("content-length") or 0)
            except ValueError:
                size = -1
            if size < 0:
                raise ProtocolError(107, "Invalid Content-Length.")
            if size > limit:
                raise admission.too_large(limit)
            if size == 0:
                return io.BytesIO(), 0
            if not streamed:
                data = await _within(proto(), self.read_timeout)
                return io.BytesIO(data), len(data)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        incoming = proto.__aiter__()
        try:
            while True:
                try:
                    chunk = await _within(incoming.__anext__(), max(deadline - loop.time(), 0.0))
                except StopAsyncIteration:
                    break
                spool.write(chunk)
                if spool.tell() > limit:
                    raise admission.too_large(limit)
        except BaseException:
            spool.close()
            raise
        size = spool.tell()
        spool.seek(0)
        return spool, size


async def _within(awaitable: Any, seconds: float) -> Any:
    """``awaitable``'s result, or :class:`asyncio.TimeoutError` after ``seconds``. On Python 3.11+ the
    deadline cancels the awaiting task itself, where ``asyncio.wait_for`` wraps the awaitable in a task
    of its own: a task and a pass of the loop less for every request with a body."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


async def _send_live(transport: Any, outlet: LoopOutlet, proto: Any) -> None:
    """Send a live connection's messages as they come; close the socket when the connection ends."""
    try:
        while True:
            data = await outlet.get()
            if data is None:
                break
            await transport.send_str(data.decode())
    except Exception:  # noqa: BLE001 - the client is gone
        pass
    finally:
        outlet.closed = True
        with contextlib.suppress(Exception):
            proto.close(1000)


def _environ(scope: Any, method: str, path: str, peer: str, headers: Headers, body: IO[bytes], length: int,
             limit: int) -> Dict[str, Any]:
    """PEP 3333's environ for a request granian parsed and admitted (its body's ``limit`` goes on, so the
    app does not admit it again): the body is already de-chunked, so its length is known and
    Transfer-Encoding is not passed on. ``headers``: every line, in order."""
    environ: Dict[str, Any] = {
        admission.ADMITTED: limit,
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": scope.query_string,
        # the peer: the limits kept per client address count by it (without it every client was one)
        "REMOTE_ADDR": peer,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}", "CONTENT_LENGTH": str(length),
        "wsgi.url_scheme": scope.scheme, "wsgi.input": body, "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in headers:
        key = _environ_key(name)
        if not key:
            continue
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


#: header names whose environ keys are remembered (any client may send names of its own: bounded)
ENVIRON_KEYS_REMEMBERED = 256


@functools.lru_cache(maxsize=ENVIRON_KEYS_REMEMBERED)
def _environ_key(name: str) -> str:
    """The environ key of header ``name`` (``HTTP_X_PARSE_APPLICATION_ID``), "" for the headers the
    environ carries otherwise (the body's length) or not at all (its transfer encoding)."""
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
        return ""
    return key if key == "CONTENT_TYPE" else "HTTP_" + key


def _stop_with_the_main_process() -> None:
    """Ask Linux to send this worker SIGTERM when the main process dies without stopping it (killed,
    crashed): an orphaned worker would keep serving the port. A watch backs the signal up: a main process
    that died before this worker asked (while it was still importing) sends nothing, and a signal that
    came while the worker was starting could be taken before its server ran (one worker in a loaded run
    outlived its main process by 30 s)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    main = int(os.environ.get(MAIN_PID_ENV, os.getppid()))
    threading.Thread(target=_watch_the_main_process, args=(main,), name="leanorm-main-watch", daemon=True).start()


def _watch_the_main_process(main: int) -> None:
    """Once this worker finds itself adopted (its main process gone), it stops as SIGTERM stops it, and
    exits if that has not ended it within :data:`ORPHAN_GRACE` seconds."""
    while os.getppid() == main:
        time.sleep(ORPHAN_CHECK)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE)
    os._exit(1)


def worker_app() -> RSGIApp:
    """The app of one worker process (granian calls it in each worker: ``--factory``)."""
    _stop_with_the_main_process()
    raw = json.loads(os.environ[OPTIONS_ENV])
    options = ServeOptions(**{**raw, "indexes": tuple(raw["indexes"]), "unique_indexes": tuple(raw["unique_indexes"]),
                              "counters": tuple(raw["counters"]), "auth_providers": tuple(raw["auth_providers"])})
    sys.path.insert(0, ".")  # --engine names a module of the working directory
    logs.configure(options.log_format, options.verbose)
    # metrics where ``serve`` made their folder (an app built on its own, as a test does, has none)
    measured = metrics.Metrics() if metrics.MULTIPROC_ENV in os.environ else None
    if measured is not None:
        FAILURE_OBSERVERS.append(measured.store_error)
    server = _local_server(options)
    # what the worker built to start (modules, the server) lives as long as it does: frozen, the garbage
    # collector's full passes no longer walk it (one took about 37 ms, a p99 of its own under load)
    gc.collect()
    gc.freeze()
    realtime = None
    if options.realtime_port is not None:
        realtime = RealtimeListener(server.live, options.host, options.realtime_port, options.threads,
                                    login_timeout=options.read_timeout)
        realtime.start()
    return RSGIApp(server, server.admit, options.threads, options.read_timeout, options.upload_timeout,
                   on_close=server.close, measured=measured, metrics_token=options.metrics_token,
                   trust_proxy=options.trust_proxy, live=server.live, realtime=realtime)


def _reserve_port(host: str, port: int) -> Tuple[socket.socket, int]:
    """Hold ``host:port`` (``0``: a port the OS picks) so the banner can name it before the workers bind:
    bound without listening it takes no connections. It binds before it allows SO_REUSEPORT, so a port
    another server listens on is refused (granian's listeners share ports); then granian's may join."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind((host, port))
    except OSError as exc:
        holder.close()
        raise SystemExit(f"leanorm serve: cannot listen on {host}:{port}: {exc}") from None
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return holder, int(holder.getsockname()[1])


def _connections_that_fit(wanted: int) -> int:
    """Raise the soft open-files limit (the workers inherit it) toward what ``wanted`` connections need,
    as far as the hard limit allows, as nginx's ``worker_rlimit_nofile`` does: a connection costs a file
    and a few kilobytes, and the more a worker holds, the more clients it takes to crowd others out.
    Returns how many connections fit."""
    if sys.platform == "win32":
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + RESERVED_FILES
    if soft == resource.RLIM_INFINITY:
        return wanted
    if soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return max(1, min(wanted, soft - RESERVED_FILES))


def _class_and_key(spec: str, flag: str) -> Tuple[str, str]:
    class_name, _, key = spec.partition(".")
    if not key:
        raise SystemExit(f"{flag} needs Class.field, got {spec!r}")
    return class_name, key


def prepare(server: EmbeddedServer, options: ServeOptions) -> None:
    """Create the indexes and counters ``options`` ask for (those that exist already are kept)."""
    for spec in options.indexes + options.unique_indexes:
        try:
            server.create_index(*_class_and_key(spec, "--index"), unique=spec in options.unique_indexes)
        except LeanCloudError as exc:  # e.g. 137: objects already share a value
            raise SystemExit(f"--unique-index {spec}: {exc}") from None
    for spec in options.counters:
        try:
            server.create_counter(*_class_and_key(spec, "--counter"))
        except ValueError as exc:
            raise SystemExit(f"--counter {spec}: {exc}") from None


def serve(options: ServeOptions) -> int:
    """Serve ``options.database`` until SIGTERM or Ctrl-C; returns the exit status."""
    try:
        from granian.constants import HTTPModes, Interfaces
        from granian.http import HTTP1Settings
        from granian.log import LogLevels
        from granian.server import Server
    except ImportError:  # granian supports Python 3.10+
        raise SystemExit("leanorm serve needs granian (pip install granian; Python 3.10 or later)") from None
    if options.database in (":memory:", ""):  # each process would have a database of its own
        options = dataclasses.replace(options, workers=1)
    # the schema, the indexes and the cloud code are checked once, here, before any worker starts
    server = _local_server(options)
    shown = server.store.database  # a PostgreSQL URL without its password
    try:
        prepare(server, options)
    finally:
        server.close()
    logs.configure(options.log_format, options.verbose)
    holder, port = _reserve_port(options.host, options.port)
    holders = [holder]
    if options.realtime_port is not None:  # refused here, once, when another server has it
        realtime_holder, realtime_port = _reserve_port(options.host, options.realtime_port)
        holders.append(realtime_holder)
        options = dataclasses.replace(options, realtime_port=realtime_port)
    options = dataclasses.replace(options, port=port, max_connections=_connections_that_fit(options.max_connections))
    os.environ[OPTIONS_ENV] = json.dumps(dataclasses.asdict(options))
    os.environ[MAIN_PID_ENV] = str(os.getpid())
    # the workers' metrics files, for this run only (counts of an earlier run would add to this one's)
    metrics_dir = tempfile.mkdtemp(prefix="leanorm-metrics-")
    os.environ[metrics.MULTIPROC_ENV] = metrics_dir
    banner = (f"leanorm: serving {shown} on http://{options.host}:{port} "
              f"(LeanCloud dialect under /1.1/, Parse under /parse/; {options.workers} workers of "
              f"{options.max_connections} connections"
              f"{'' if options.realtime_port is None else f'; LeanCloud realtime on port {options.realtime_port}'}"
              "); Ctrl-C stops")
    if options.log_format == "json":  # every line a collector reads is JSON
        log.info(banner)
    else:
        print(banner, flush=True)

    def run() -> None:
        Server(
            f"{__name__}:worker_app", address=options.host, port=port, interface=Interfaces.RSGI,
            http=HTTPModes.http1, workers=options.workers, factory=True, websockets=True,
            backpressure=options.max_connections,
            http1_settings=HTTP1Settings(header_read_timeout=int(options.read_timeout * 1000), keep_alive=True),
            log_level=LogLevels.info if options.verbose else LogLevels.warning,
            log_dictconfig=logs.granian_config(options.log_format),  # the access log is ours (logs.access)
            workers_kill_timeout=max(1, int(options.graceful_timeout)), respawn_failed_workers=True).serve()
    try:
        return supervise(run)
    finally:
        for held in holders:
            held.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def supervise(run: Callable[[], None], backoff: Tuple[float, float] = RESTART_BACKOFF) -> int:
    """Run granian (``run``) until it stops on a signal; when it gives up instead, start it again.

    granian respawns a worker that exits, but a worker that exits again within about 5 s of being
    respawned makes it stop every worker and exit ("Worker crash loop detected"), so two quick crashes
    (a bug one request hits twice, the OOM killer) would take the whole server down. granian 2.8 has no
    option for that: its window is fixed, and ``respawn_interval`` spaces only the respawns of reloads
    and of workers past their lifetime or memory. Here the main
    process starts granian again, as gunicorn's arbiter keeps respawning, after a pause that doubles
    from ``backoff[0]`` up to ``backoff[1]`` seconds while the crashes keep coming (a run longer than
    :data:`STABLE_RUN` starts the pause afresh). SIGTERM or Ctrl-C during the pause stops the server."""
    stop = threading.Event()
    pause = backoff[0]
    while True:
        started = time.monotonic()
        try:
            run()
            return 0  # stopped by a signal
        except SystemExit as exc:
            if not exc.code:
                return 0
        if time.monotonic() - started > STABLE_RUN:
            pause = backoff[0]
        log.error("workers crashed repeatedly; starting them again in %g s", pause)
        # granian's signal handlers belonged to the run that ended: a stop asked for now ends the wait
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if stop.wait(pause):
            return 0
        pause = min(pause * 2, backoff[1])

