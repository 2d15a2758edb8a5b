"""The ``leanorm`` command.

``leanorm serve``   serve an embedded database over HTTP (LeanCloud dialect under /1.1/, Parse under /parse/)
``leanorm migrate`` copy classes from one backend to another, keeping objectIds
``leanorm inspect`` print model classes for the classes of a backend's schema
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional, Sequence

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from .local.serving import ServeOptions, serve
    return serve(ServeOptions(
        database=args.db, host=args.host, port=args.port, app_id=args.app_id, app_key=args.app_key,
        master_key=args.master_key, engine=args.engine, indexes=tuple(args.index),
        unique_indexes=tuple(args.unique_index), workers=args.workers, threads=args.threads,
        max_connections=args.max_connections, read_timeout=args.read_timeout,
        graceful_timeout=args.graceful_timeout, verbose=args.verbose))


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _migrate(args: argparse.Namespace) -> int:
    from .config import connect
    from .migrate import copy_all
    source = connect(args.source, default=False)
    target = connect(args.target, default=False)
    reports = copy_all(source, target, classes=args.classes or None, chunk_size=args.chunk_size)
    failed = 0
    for name, report in reports.items():
        print(f"{name}: {report.copied} copied, {len(report.failed)} failed")
        for object_id, error in report.failed[:10]:
            print(f"  {object_id}: {error}")
        failed += len(report.failed)
    return 1 if failed else 0


def _inspect(args: argparse.Namespace) -> int:
    from .config import connect
    from .introspect import models_source
    print(models_source(connect(args.url, default=False), classes=args.classes or None), end="")
    return 0


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
    serve.add_argument("--workers", type=_positive(int), default=os.cpu_count() or 1,
                       help="worker processes (default: the machine's cores)")
    serve.add_argument("--threads", type=_positive(int), default=2, help="threads per worker (default: 2)")
    serve.add_argument("--max-connections", type=_positive(int), default=256, metavar="N",
                       help="requests each worker takes at once; more wait to be accepted (default: 256)")
    serve.add_argument("--read-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                       help="deadline for a request's headers and for its body; a file upload's chunks "
                            "each (default: 30)")
    serve.add_argument("--graceful-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                       help="on SIGTERM, how long requests in flight may finish (default: 30)")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="copy classes between backends, keeping objectIds")
    migrate.add_argument("source", help="backend URL to read (with its master_key)")
    migrate.add_argument("target", help="backend URL to write (with its master_key)")
    migrate.add_argument("--class", dest="classes", action="append", default=[], metavar="ClassName",
                         help="copy only this class (repeatable; default: every class)")
    migrate.add_argument("--chunk-size", type=int, default=500)
    migrate.set_defaults(run=_migrate)
    inspect = commands.add_parser("inspect", help="print model classes for a backend's classes")
    inspect.add_argument("url", help="backend URL (with its master_key: the schema needs it)")
    inspect.add_argument("--class", dest="classes", action="append", default=[], metavar="ClassName",
                         help="only this class (repeatable; default: every class)")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    sys.path.insert(0, ".")  # --engine names a module of the working directory, as `python -m` would
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
