"""The ``leanorm`` command.

``leanorm serve``   serve an embedded database over HTTP (LeanCloud dialect under /1.1/, Parse under /parse/)
``leanorm migrate`` copy classes from one backend to another, keeping objectIds
``leanorm inspect`` print model classes for the classes of a backend's schema
``leanorm import``  load a data export (LeanCloud's console export, or ``leanorm export``) into a backend
``leanorm export``  write a backend's data in the export layout
``leanorm verify``  compare two backends (or an export and a backend) object by object
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
from socketserver import ThreadingMixIn
from typing import IO, Any, Iterator, List, Optional, Sequence, Tuple, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from .config import connect
from .introspect import models_source
from .local import LocalServer
from .local.protocol import ProtocolError
from .local.verifiers import parse_provider
from .migrate import copy_all
from .transfer.export_format import open_export
from .transfer.exporter import export_backend
from .transfer.importer import import_export
from .transfer.verify import verify

__all__ = ["main"]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    verbose: bool  # set by _serve: log each request


class _CountingInput:
    """A request body as the app reads it (``wsgi.input``), counting the bytes it took."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw, self.consumed = raw, 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.raw.readline(size)
        self.consumed += len(data)
        return data

    # the rest of PEP 3333's input stream
    def readlines(self, hint: int = -1) -> List[bytes]:
        lines = self.raw.readlines(hint)
        self.consumed += sum(len(line) for line in lines)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _ServerHandler(ServerHandler):
    """wsgiref's handler answering in HTTP/1.1 and deciding, before the headers go out, whether the
    connection can serve another request (``Connection: close`` tells the client when it cannot)."""

    http_version = "1.1"
    stdin: _CountingInput
    headers: Headers  # set by start_response, before cleanup_headers runs
    request_handler: "_KeepAliveHandler"

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        request = self.request_handler
        try:
            declared = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            declared = -1
        if self.stdin.consumed != declared or request.headers.get("Transfer-Encoding") \
                or "Content-Length" not in self.headers:
            request.close_connection = True
        if request.close_connection:
            self.headers["Connection"] = "close"


class _KeepAliveHandler(WSGIRequestHandler):
    """wsgiref's request handler with HTTP/1.1 keep-alive.

    wsgiref alone serves one request per connection, so every request paid a TCP handshake and a new
    thread: most of the 3.6 ms an indexed query took over HTTP. Here a connection's requests are served
    in turn; it closes when the client asks, after a response without Content-Length, when the app left
    part of the body unread (the rest would be taken for the next request), or after ``timeout`` idle
    seconds.
    """

    server: _ThreadingWSGIServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    # headers and body leave in separate writes: with Nagle's algorithm on a kept-alive connection the
    # body would wait for the client's delayed ACK of the headers (40 ms per request)
    disable_nagle_algorithm = True

    def handle(self) -> None:
        self.close_connection = True
        try:
            self._serve_one()
            while not self.close_connection:
                self._serve_one()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def _serve_one(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # it answered the error
            self.close_connection = True
            return
        # wfile is socketserver's writer over the socket: the write/flush the handler uses, not all of IO
        handler = _ServerHandler(_CountingInput(self.rfile), cast(IO[bytes], self.wfile), self.get_stderr(),
                                 self.get_environ(), multithread=True)
        handler.request_handler = self
        app = self.server.get_app()
        assert app is not None  # make_server set it before serving
        handler.run(app)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.verbose:
            super().log_message(format, *args)


def load_object(spec: str) -> Any:
    """``package.module:attribute`` → the object (for ``--engine``)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise SystemExit(f"expected module:attribute, got {spec!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _serve(args: argparse.Namespace) -> int:
    engine = load_object(args.engine) if args.engine else None
    try:
        protected = json.loads(args.protected_fields) if args.protected_fields else None
        providers = dict(parse_provider(spec) for spec in args.auth_provider)
        server = LocalServer(args.db, app_id=args.app_id, app_key=args.app_key, master_key=args.master_key,
                             engine=engine, allow_custom_object_id=args.allow_custom_object_id,
                             protected_fields=protected, auth_verifiers=providers,
                             public_url=args.public_url, trust_proxy=args.trust_proxy)
    except (ValueError, AttributeError, ProtocolError) as exc:
        raise SystemExit(f"leanorm serve: {exc}") from None
    for spec in args.index + args.unique_index:
        class_name, _, key = spec.partition(".")
        if not key:
            raise SystemExit(f"--index needs Class.field, got {spec!r}")
        server.create_index(class_name, key, unique=spec in args.unique_index)
    httpd = make_server(args.host, args.port, server, server_class=_ThreadingWSGIServer,
                        handler_class=_KeepAliveHandler)
    httpd.verbose = args.verbose
    host, port = httpd.server_address[:2]
    if not isinstance(host, str):  # an IPv4/IPv6 server's host is text; the stubs allow bytes too
        host = bytes(host).decode()
    print(f"leanorm: serving {args.db} on http://{host}:{port} "
          f"(LeanCloud dialect under /1.1/, Parse under /parse/); Ctrl-C stops", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        server.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    source = connect(args.source, default=False)
    target = connect(args.target, default=False)
    state = args.state or _default_state(args.source, args.target, "migrate")
    reports = copy_all(source, target, classes=args.classes or None, chunk_size=args.chunk_size, state=state)
    print(f"progress kept in {state}: running the same command again resumes")
    return _print_reports(reports)


def _print_reports(reports: Any) -> int:
    """Print each class's report; the exit status: 1 when anything failed."""
    failed = 0
    for report in reports.values():
        print("\n".join(report.lines()), flush=True)
        failed += len(report.failed)
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    target = connect(args.target, default=False)
    state = args.state or _default_state(args.source, args.target, "import")
    kept = _timestamp_fields(args.keep_timestamps_in)
    reports = import_export(args.source, target, classes=_class_list(args.classes), dry_run=args.dry_run,
                            batch_size=args.batch_size, state=state, progress=not args.no_progress,
                            keep_timestamps_in=kept)
    if args.dry_run:
        print("dry run: nothing was written; 'copied' counts what an import would copy")
    else:
        print(f"progress kept in {state}: running the same command again resumes")
    return _print_reports(reports)


def _export(args: argparse.Namespace) -> int:
    reports = export_backend(connect(args.source, default=False), args.folder, _class_list(args.classes),
                             since=args.since, progress=not args.no_progress)
    return _print_reports(reports)


def _verify(args: argparse.Namespace) -> int:
    source = connect(args.source, default=False) if "://" in args.source else open_export(args.source)
    comparisons = verify(source, connect(args.target, default=False), _class_list(args.classes))
    differences = 0
    for comparison in comparisons.values():
        print("\n".join(comparison.lines()), flush=True)
        differences += len(comparison.differences)
    print(f"{differences} differences" if differences else "no differences")
    return 1 if differences else 0


def _timestamp_fields(value: Optional[str]) -> Optional[Tuple[str, str]]:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if len(names) != 2 or not all(names):
        raise SystemExit(f"--keep-timestamps-in needs two field names, CREATED,UPDATED; got {value!r}")
    return names[0], names[1]


def _default_state(source: str, target: str, command: str) -> str:
    """One progress log per (source, target) pair, under ``$XDG_CACHE_HOME/leanorm`` (``~/.cache/leanorm``);
    its name shows neither URL (they hold keys)."""
    import hashlib
    import os
    if "://" not in source:
        source = os.path.abspath(source)
    digest = hashlib.sha256(f"{source}|{target}".encode()).hexdigest()[:16]
    folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "leanorm")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{command}-{digest}.jsonl")


def _class_list(values: List[str]) -> Optional[List[str]]:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _inspect(args: argparse.Namespace) -> int:
    print(models_source(connect(args.url, default=False), classes=args.classes or None), end="")
    return 0


def _classes_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--classes", action="append", default=[], metavar="A,B",
                         help="only these classes (comma-separated, repeatable; default: every class)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leanorm", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an embedded database over HTTP")
    serve.add_argument("--db", default="leanorm.sqlite3", help="SQLite file (default: leanorm.sqlite3)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--app-id", default="leanorm-local")
    serve.add_argument("--app-key", default="leanorm-local-key")
    serve.add_argument("--master-key", default="leanorm-local-master")
    serve.add_argument("--index", action="append", default=[], metavar="Class.field",
                       help="create an index (repeatable)")
    serve.add_argument("--unique-index", action="append", default=[], metavar="Class.field",
                       help="create a unique index (repeatable)")
    serve.add_argument("--engine", metavar="module:engine", help="an Engine whose functions and hooks to run")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument("--public-url", metavar="URL",
                       help="the address clients reach this server at (file URLs start with it)")
    serve.add_argument("--trust-proxy", action="store_true",
                       help="take X-Forwarded-Host/-Proto/-For from a reverse proxy (never without one)")
    serve.add_argument("--allow-custom-object-id", action="store_true",
                       help="let clients choose new objects' ids ([A-Za-z0-9]{1,64}); the master key always may")
    serve.add_argument("--protected-fields", metavar="JSON",
                       help='fields hidden from other users, per class: {"Class": {"*": ["field", ...]}} '
                            "(default: _User's email, mobilePhoneNumber and authData)")
    serve.add_argument("--auth-provider", action="append", default=[], metavar="PLATFORM=URL[#id_key]",
                       help="verify third-party logins of PLATFORM at this user-info URL (others are refused)")
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="copy classes between backends, keeping objectIds")
    migrate.add_argument("source", help="backend URL to read (with its master_key)")
    migrate.add_argument("target", help="backend URL to write (with its master_key)")
    migrate.add_argument("--class", dest="classes", action="append", default=[], metavar="ClassName",
                         help="copy only this class (repeatable; default: every class)")
    migrate.add_argument("--chunk-size", type=int, default=500)
    migrate.add_argument("--state", metavar="FILE", help="progress log a rerun resumes from, with the map of "
                                                         "copied files (default: under ~/.cache/leanorm)")
    migrate.set_defaults(run=_migrate)
    inspect = commands.add_parser("inspect", help="print model classes for a backend's classes")
    inspect.add_argument("url", help="backend URL (with its master_key: the schema needs it)")
    inspect.add_argument("--class", dest="classes", action="append", default=[], metavar="ClassName",
                         help="only this class (repeatable; default: every class)")
    inspect.set_defaults(run=_inspect)
    load = commands.add_parser("import", help="load a data export (console export or leanorm export) into a backend")
    load.add_argument("source", help="the export: a directory, .tar.gz or .zip")
    load.add_argument("target", help="backend URL to write (with its master_key)")
    _classes_option(load)
    load.add_argument("--dry-run", action="store_true", help="read and compare, write nothing")
    load.add_argument("--batch-size", type=int, default=200)
    load.add_argument("--state", metavar="FILE", help="progress log a rerun resumes from, with the map of "
                                                      "uploaded files (default: under ~/.cache/leanorm)")
    load.add_argument("--no-progress", action="store_true", help="no progress bars")
    load.add_argument("--keep-timestamps-in", metavar="CREATED,UPDATED",
                      help="keep the original createdAt/updatedAt in these two fields (for Parse Server, which sets its own)")
    load.set_defaults(run=_import)
    dump = commands.add_parser("export", help="write a backend's data in the export layout (resumable)")
    dump.add_argument("source", help="backend URL to read (with its master_key)")
    dump.add_argument("folder", help="directory to write (created; a rerun resumes)")
    _classes_option(dump)
    dump.add_argument("--since", metavar="ISO-DATE", help="only objects updated after this date")
    dump.add_argument("--no-progress", action="store_true", help="no progress bars")
    dump.set_defaults(run=_export)
    check = commands.add_parser("verify", help="compare two backends, or an export and a backend, object by object")
    check.add_argument("source", help="backend URL (with its master_key), or an export (directory, .tar.gz, .zip)")
    check.add_argument("target", help="backend URL (with its master_key)")
    _classes_option(check)
    check.set_defaults(run=_verify)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    sys.path.insert(0, ".")  # --engine names a module of the working directory, as `python -m` would
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
