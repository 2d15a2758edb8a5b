"""The ``leanorm`` command.

``leanorm serve``   serve an embedded database over HTTP (LeanCloud dialect under /1.1/, Parse under /parse/)
``leanorm migrate`` copy classes from one backend to another, keeping objectIds
``leanorm inspect`` print model classes for the classes of a backend's schema
``leanorm import``  load a data export (LeanCloud's console export, or ``leanorm export``) into a backend
``leanorm export``  write a backend's data in the export layout
``leanorm verify``  compare two backends (or an export and a backend) object by object
``leanorm index``   create indexes (unique ones too): class settings a data export does not carry
``leanorm backup``  copy a served SQLite database while it takes writes; ``leanorm restore`` puts a copy back
``leanorm copy-store``  move an app whole from one store to another (SQLite to PostgreSQL, or back)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .config import connect
from .errors import LeanCloudError, NotSupported
from .introspect import models_source
from .schema import create_index

try:  # what the command needs beyond the client is the ``cli`` extra: say so rather than show a traceback
    from .embedded.admission import DEFAULT_MAX_UPLOAD
    from .embedded.answers import ProtocolError
    from .embedded.access.phones import DEFAULT_REGION
    from .embedded.storage.backup import BackupError, backup, restore
    from .embedded.settings import DEFAULT_MAX_OBJECT
    from .embedded.storage.store_copy import copy_store
    from .embedded.storage.stores import file_bytes_of, open_store
    from .embedded.serving import ServeOptions, serve
    from .migrate import copy_all
    from .transfer.export_format import open_export
    from .transfer.backup_indexes import backup_indexes
    from .transfer.exporter import export_backend
    from .transfer.fetch import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, FetchPolicy
    from .transfer.importer import import_export
    from .transfer.verify import verify
except ImportError as exc:  # pragma: no cover (the test extra installs them)
    raise SystemExit(f"the leanorm command needs {exc.name!r}: pip install 'leanorm[cli]'") from None

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    try:
        protected = json.loads(args.protected_fields) if args.protected_fields else None
    except ValueError as exc:
        raise SystemExit(f"leanorm serve: --protected-fields is not JSON: {exc}") from None
    return serve(ServeOptions(
        database=args.db, host=args.host, port=args.port, app_id=args.app_id, app_key=args.app_key,
        master_key=args.master_key, engine=args.engine, indexes=tuple(args.index),
        unique_indexes=tuple(args.unique_index), counters=tuple(args.counter), workers=args.workers,
        threads=args.threads,
        max_connections=args.max_connections, read_timeout=args.read_timeout,
        max_upload_size=args.max_upload_size, max_object_size=args.max_object_size,
        upload_timeout=args.upload_timeout,
        graceful_timeout=args.graceful_timeout, verbose=args.verbose, public_url=args.public_url,
        files=args.files, trust_proxy=args.trust_proxy, allow_custom_object_id=args.allow_custom_object_id,
        client_class_creation=args.client_class_creation, protected_fields=protected,
        auth_providers=tuple(args.auth_provider), hook_key=args.hook_key, query_timeout=args.query_timeout,
        idempotency_paths=tuple(args.idempotency_path), idempotency_ttl=args.idempotency_ttl,
        verify_user_emails=args.verify_user_emails,
        prevent_login_with_unverified_email=args.prevent_login_with_unverified_email,
        client_key_required=not args.no_client_key, phone_region=args.phone_region,
        metrics_token=args.metrics_token, log_format=args.log_format,
        live_connections_per_address=args.live_connections_per_address,
        live_subscriptions=args.live_subscriptions, realtime_port=args.realtime_port))


def _size(text: str) -> int:
    """A number of bytes: ``1048576``, ``512K``, ``20M``, ``1G`` (multiples of 1024)."""
    multiple = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:].upper(), 1)
    try:
        value = int(text[:-1] if multiple > 1 else text) * multiple
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected bytes such as 1048576, 512K, 20M or 1G, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _migrate(args: argparse.Namespace) -> int:
    source = connect(args.source, default=False)
    target = connect(args.target, default=False)
    state = args.state or _default_state(args.source, args.target, "migrate")
    reports = copy_all(source, target, classes=_class_list(args.classes), chunk_size=args.chunk_size, state=state,
                       fetch_policy=_fetch_policy(args))
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
                            keep_timestamps_in=kept, fetch_policy=_fetch_policy(args))
    if args.dry_run:
        print("dry run: nothing was written; 'copied' counts what an import would copy")
    else:
        print(f"progress kept in {state}: running the same command again resumes")
    return _print_reports(reports)


def _export(args: argparse.Namespace) -> int:
    reports = export_backend(connect(args.source, default=False), args.folder, _class_list(args.classes),
                             since=args.since, progress=not args.no_progress, fetch_policy=_fetch_policy(args))
    return _print_reports(reports)


def _verify(args: argparse.Namespace) -> int:
    source = connect(args.source, default=False) if "://" in args.source else open_export(args.source)
    comparisons = verify(source, connect(args.target, default=False), _class_list(args.classes),
                         fetch_policy=_fetch_policy(args))
    differences = dangling = 0
    for comparison in comparisons.values():
        print("\n".join(comparison.lines()), flush=True)
        differences += len(comparison.differences)
        dangling += len(comparison.dangling)
    print(f"{differences} differences" if differences else "no differences", end="")
    # a dangling pointer is the source's own state (a deleted object, an export read during writes), which
    # the copy may faithfully keep: listed, and counted apart from the differences
    print(f"; {dangling} dangling pointers in the source (listed above)" if dangling else "")
    return 1 if differences else 0


def _index(args: argparse.Namespace) -> int:
    target = connect(args.target, default=False)
    wanted = [(*_class_and_field(spec), args.unique) for spec in args.fields]
    if args.from_backup:
        found, skipped = backup_indexes(args.from_backup)
        wanted += found
        for line in skipped:
            print(f"skipped: {line}")
    if not wanted:
        raise SystemExit("leanorm index: name Class.field (or --from-backup FOLDER)")
    for class_name, field, unique in wanted:
        try:
            name = create_index(class_name, field, unique=unique, client=target)
        except (NotSupported, LeanCloudError) as exc:  # say what the backend cannot do, not a traceback
            raise SystemExit(f"leanorm index: {class_name}.{field}: {exc}") from None
        print(f"{class_name}.{field}: {'unique ' if unique else ''}index {name}")
    return 0


def _class_and_field(spec: str) -> Tuple[str, str]:
    class_name, dot, field = spec.partition(".")
    if not (class_name and dot and field):
        raise SystemExit(f"leanorm index: expected Class.field, got {spec!r}")
    return class_name, field


def _copy_store(args: argparse.Namespace) -> int:
    try:
        source = open_store(args.source)
        target = open_store(args.target)
    except ProtocolError as exc:
        raise SystemExit(f"leanorm copy-store: {exc}") from None
    try:
        report = copy_store(source, target, file_bytes_of(args.source, source, args.source_files),
                            file_bytes_of(args.target, target, args.target_files))
    except ValueError as exc:
        raise SystemExit(f"leanorm copy-store: {exc}") from None
    finally:
        source.close()
        target.close()
    for class_name, count in report.objects.items():
        print(f"{class_name}: {count} objects")
    print(f"server tables: {sum(report.rows.values())} rows ({', '.join(f'{n} {c}' for n, c in report.rows.items() if c)})")
    print(f"files: {report.files}; counters: {', '.join(report.counters) or 'none'}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    try:
        copied = backup(args.db, args.copy)
    except BackupError as exc:
        print(f"leanorm backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {args.db} to {copied.path}: {copied.size} bytes in {copied.seconds:.2f} s, integrity ok; "
          f"copy the files folder {args.db}.files/ after it (uploaded bytes are not in the database)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        copied = restore(args.copy, args.db)
    except BackupError as exc:
        print(f"leanorm restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.copy} to {copied.path}: {copied.size} bytes, integrity ok")
    return 0


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
    print(models_source(connect(args.url, default=False), classes=_class_list(args.classes)), end="")
    return 0


def _classes_option(command: argparse.ArgumentParser) -> None:
    # one spelling for every command; argparse takes the former ``--class Name`` as its abbreviation
    command.add_argument("--classes", action="append", default=[], metavar="A,B",
                         help="only these classes (comma-separated, repeatable; default: every class)")


def _state_option(command: argparse.ArgumentParser, files: str) -> None:
    command.add_argument("--state", metavar="FILE", help=f"progress log a rerun resumes from, with the map of "
                                                         f"{files} files (default: under ~/.cache/leanorm)")


def _fetch_options(command: argparse.ArgumentParser) -> None:
    """How file urls are fetched (leanorm.transfer.fetch): the same flags on every command that fetches."""
    command.add_argument("--allow-private-file-urls", action="store_true",
                         help="also fetch files from private, loopback and link-local addresses (default: only "
                              "public ones, and the backends named on the command line)")
    command.add_argument("--max-file-size", type=_size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                         help="the largest file fetched from a url, e.g. 200M or 2G (default: 1G)")
    command.add_argument("--file-deadline", type=_positive(float), default=DEFAULT_DEADLINE, metavar="SECONDS",
                         help=f"seconds to fetch one file, redirects included (default: {DEFAULT_DEADLINE:g})")


def _fetch_policy(args: argparse.Namespace) -> FetchPolicy:
    return FetchPolicy(allow_private=args.allow_private_file_urls, max_bytes=args.max_file_size,
                       deadline=args.file_deadline)


def _progress_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leanorm", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an embedded database over HTTP")
    serve.add_argument("--db", default="leanorm.sqlite3", help="SQLite file (default: leanorm.sqlite3)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    # the keys may come from the environment, off the command line other users of the machine can read
    serve.add_argument("--app-id", default=os.environ.get("LEANORM_APP_ID", "leanorm-local"),
                       help="the app's id (default: $LEANORM_APP_ID, else leanorm-local)")
    serve.add_argument("--app-key", default=os.environ.get("LEANORM_APP_KEY", "leanorm-local-key"),
                       help="the app's key (default: $LEANORM_APP_KEY, else leanorm-local-key)")
    serve.add_argument("--master-key", default=os.environ.get("LEANORM_MASTER_KEY", "leanorm-local-master"),
                       help="the master key (default: $LEANORM_MASTER_KEY, else leanorm-local-master)")
    serve.add_argument("--index", action="append", default=[], metavar="Class.field",
                       help="create an index (repeatable)")
    serve.add_argument("--unique-index", action="append", default=[], metavar="Class.field",
                       help="create a unique index (repeatable)")
    serve.add_argument("--counter", action="append", default=[], metavar="Class.field",
                       help="keep counts of the class by the field, for fast counts (repeatable)")
    serve.add_argument("--engine", metavar="module:engine", help="an Engine whose functions and hooks to run")
    serve.add_argument("--workers", type=_positive(int), default=os.cpu_count() or 1,
                       help="worker processes (default: the machine's cores)")
    serve.add_argument("--threads", type=_positive(int), default=2, help="threads per worker (default: 2)")
    serve.add_argument("--max-connections", type=_positive(int), default=4096, metavar="N",
                       help="connections each worker holds at once; more wait to be accepted (default: 4096)")
    serve.add_argument("--read-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                       help="deadline for a request's headers, from the connection's start or its last "
                            "answer, and for the whole of an API request's body (default: 30)")
    serve.add_argument("--max-upload-size", type=_size, default=DEFAULT_MAX_UPLOAD, metavar="BYTES",
                       help="the largest file upload, in bytes or with K, M or G (default: 20M)")
    serve.add_argument("--max-object-size", type=_size, default=DEFAULT_MAX_OBJECT, metavar="BYTES",
                       help="the largest object a client may write, as stored, in bytes or with K, M or G; "
                            "the master key is not bound (default: 1M)")
    serve.add_argument("--upload-timeout", type=_positive(float), default=300.0, metavar="SECONDS",
                       help="deadline for the whole of a file upload's body (default: 300)")
    serve.add_argument("--query-timeout", type=_positive(float), default=10.0, metavar="SECONDS",
                       help="a request's reads that run longer are interrupted: error 124 (default: 10)")
    serve.add_argument("--graceful-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                       help="on SIGTERM, how long requests in flight may finish (default: 30)")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.add_argument("--public-url", metavar="URL",
                       help="the address clients reach this server at (file URLs start with it)")
    serve.add_argument("--files", metavar="FOLDER_OR_BUCKET",
                       help="where hosted files' bytes are kept: a folder, or s3://bucket/prefix (boto3's "
                            "credentials and AWS_ENDPOINT_URL; default: <db>.files, or PostgreSQL's own table)")
    serve.add_argument("--trust-proxy", action="store_true",
                       help="take X-Forwarded-Host/-Proto/-For from a reverse proxy (never without one)")
    serve.add_argument("--allow-custom-object-id", action="store_true",
                       help="let clients choose new objects' ids ([A-Za-z0-9]{1,64}); the master key always may")
    serve.add_argument("--client-class-creation", action=argparse.BooleanOptionalAction, default=False,
                       help="let clients' writes create classes (default: off; the master key always may, "
                            "e.g. PUT schemas/<Class>); at most 1,000 classes either way")
    serve.add_argument("--protected-fields", metavar="JSON",
                       help='fields hidden from other users, per class: {"Class": {"*": ["field", ...]}} '
                            "(default: _User's email, mobilePhoneNumber and authData)")
    serve.add_argument("--auth-provider", action="append", default=[], metavar="PLATFORM=URL[#id_key]",
                       help="verify third-party logins of PLATFORM at this user-info URL (others are refused)")
    serve.add_argument("--hook-key", default=os.environ.get("LEANCLOUD_APP_HOOK_KEY"), metavar="KEY",
                       help="LeanEngine's hook key: requests carrying it (X-LC-Hook-Key) may skip hooks with "
                            "__ignore_hooks (default: $LEANCLOUD_APP_HOOK_KEY; none: only the master key may)")
    serve.add_argument("--phone-region", default=DEFAULT_REGION, metavar="CC",
                       help="country of phone numbers written without +country code, as an ISO code (default: "
                            f"{DEFAULT_REGION}, LeanCloud's reading); numbers are stored in E.164")
    serve.add_argument("--idempotency-path", action="append", default=[], metavar="REGEX",
                       help="serve POST/PUT requests on matching paths (below /parse/, e.g. 'classes/.*', '.*') "
                            "once per X-Parse-Request-Id; a repeat is error 159 (Parse's idempotencyOptions)")
    serve.add_argument("--idempotency-ttl", type=_positive(float), default=300.0, metavar="SECONDS",
                       help="how long a request id is remembered (default: 300)")
    serve.add_argument("--verify-user-emails", action="store_true",
                       help="send a verification mail (to the outbox) on signup with an email")
    serve.add_argument("--prevent-login-with-unverified-email", action="store_true",
                       help="refuse a password login (205) while the user's email is not verified")
    serve.add_argument("--no-client-key", action="store_true",
                       help="Parse dialect: the application id alone makes a client request (Parse's rule for an "
                            "app without client keys); the LeanCloud dialect still needs the app key")
    serve.add_argument("--metrics-token", default=os.environ.get("LEANORM_METRICS_TOKEN"), metavar="TOKEN",
                       help="GET /metrics answers requests carrying Authorization: Bearer TOKEN (default: "
                            "$LEANORM_METRICS_TOKEN; none: only requests from loopback, and none with --trust-proxy)")
    serve.add_argument("--live-connections-per-address", type=_positive(int), default=256, metavar="N",
                       help="live query (WebSocket) connections one client address may hold per worker "
                            "(default: 256)")
    serve.add_argument("--live-subscriptions", type=_positive(int), default=100, metavar="N",
                       help="subscriptions one live query connection may hold (default: 100)")
    serve.add_argument("--realtime-port", type=int, default=None, metavar="PORT",
                       help="serve LeanCloud LiveQuery's realtime WebSocket on PORT (the leancloud-storage "
                            "SDK's AV.Query#subscribe; GET /v1/route names it; 0: a port the OS picks, named "
                            "in the banner; default: not served)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="the logs (errors, --verbose's access log, granian's) as text or one JSON object "
                            "a line (default: text)")
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="copy classes between backends, keeping objectIds")
    migrate.add_argument("source", help="backend URL to read (with its master_key)")
    migrate.add_argument("target", help="backend URL to write (with its master_key)")
    _classes_option(migrate)
    migrate.add_argument("--chunk-size", type=int, default=500)
    _state_option(migrate, "copied")
    _fetch_options(migrate)
    migrate.set_defaults(run=_migrate)
    inspect = commands.add_parser("inspect", help="print model classes for a backend's classes")
    inspect.add_argument("url", help="backend URL (with its master_key: the schema needs it)")
    _classes_option(inspect)
    inspect.set_defaults(run=_inspect)
    load = commands.add_parser("import", help="load a data export (console export or leanorm export) into a backend")
    load.add_argument("source", help="the export: a directory, .tar.gz or .zip")
    load.add_argument("target", help="backend URL to write (with its master_key)")
    _classes_option(load)
    load.add_argument("--dry-run", action="store_true", help="read and compare, write nothing")
    load.add_argument("--batch-size", type=int, default=200)
    _state_option(load, "uploaded")
    _fetch_options(load)
    _progress_option(load)
    load.add_argument("--keep-timestamps-in", metavar="CREATED,UPDATED",
                      help="keep the original createdAt/updatedAt in these two fields (for Parse Server, which sets its own)")
    load.set_defaults(run=_import)
    dump = commands.add_parser("export", help="write a backend's data in the export layout (resumable)")
    dump.add_argument("source", help="backend URL to read (with its master_key)")
    dump.add_argument("folder", help="directory to write (created; a rerun resumes)")
    _classes_option(dump)
    dump.add_argument("--since", metavar="ISO-DATE", help="only objects updated after this date")
    _progress_option(dump)
    _fetch_options(dump)
    dump.set_defaults(run=_export)
    check = commands.add_parser("verify", help="compare two backends, or an export and a backend, object by object")
    check.add_argument("source", help="backend URL (with its master_key), or an export (directory, .tar.gz, .zip)")
    check.add_argument("target", help="backend URL (with its master_key)")
    _classes_option(check)
    _fetch_options(check)
    check.set_defaults(run=_verify)
    index = commands.add_parser("index", help="create indexes, unique ones too (class settings exports lack)")
    index.add_argument("target", help="backend URL (with its master_key): local://FILE, or Parse Server")
    index.add_argument("fields", nargs="*", metavar="Class.field", help="the fields to index (a.b: inside an object)")
    index.add_argument("--unique", action="store_true",
                       help="unique indexes: a second object with the same value is refused (error 137)")
    index.add_argument("--from-backup", metavar="FOLDER",
                       help="also the indexes of a MongoDB backup (LeanCloud's backup export, mongodump): "
                            "its <Class>.metadata.json files")
    index.set_defaults(run=_index)
    move = commands.add_parser("copy-store", help="move an app whole between stores (a SQLite file, a PostgreSQL "
                                                  "database): passwords, sessions, files, counters included")
    move.add_argument("source", help="the database to read, as --db names it (a SQLite file or postgresql://...)")
    move.add_argument("target", help="the empty database to write, as --db names it")
    move.add_argument("--source-files", help="the source's files folder (default: <source>.files, or its table)")
    move.add_argument("--target-files", help="a folder for the target's files (default: <target>.files, or its table)")
    move.set_defaults(run=_copy_store)
    save = commands.add_parser("backup", help="copy a SQLite database while it is served (one consistent snapshot)")
    save.add_argument("--db", required=True, help="the database file leanorm serve uses")
    save.add_argument("copy", help="the file to write (replaced when it exists)")
    save.set_defaults(run=_backup)
    back = commands.add_parser("restore", help="put a backup in place of a database (stop the server first)")
    back.add_argument("--db", required=True, help="the database file to replace")
    back.add_argument("copy", help="the backup to restore (its integrity is checked first)")
    back.set_defaults(run=_restore)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    sys.path.insert(0, ".")  # --engine names a module of the working directory, as `python -m` would
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
