"""``leanorm copy-store``: an app moved whole from one store to another (a SQLite file to a PostgreSQL
database, or back), keeping what the protocol cannot carry: password hashes, session tokens, one-time
codes, the outbox, statuses' inboxes, leaderboards, counters and hosted files' bytes.

The source is read in one snapshot (``Store.snapshot``): what the copy holds is the app as of one moment,
so pointers and relation rows resolve inside it. The target must hold no class yet. Rows keep their
objectIds, dates and JSON exactly; a class's rows are written in pages of :data:`PAGE` rows, each page one
write transaction of the target. Plain indexes (``--index``) are not recorded by the stores: name them
again to the target's ``leanorm serve``; named indexes (the schema API's) are made again.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Sequence, Tuple

import orjson

from . import counters
from .file_bytes import FileBytes
from .interface import Store
from .rows import ROW
from .store import table
from .values import canonical

__all__ = ["copy_store", "CopyReport", "SYSTEM_TABLES", "PAGE"]

#: rows written per write transaction of the target
PAGE = 1000

#: the server's own tables a copy carries, with their columns (named: the stores' column orders agree, but a
#: copy should not depend on it). ``_named_indexes`` is made again through the store (its indexes with it).
SYSTEM_TABLES: Dict[str, Tuple[str, ...]] = {
    "_schema": ("class_name", "field", "type", "target_class"),
    "_field_options": ("class_name", "field", "required", "default_value"),
    "_relations": ("owner_class", "owner_id", "key", "target_class", "target_id"),
    "_sessions": ("token", "user_id", "created_at", "expires_at"),
    "_passwords": ("user_id", "hash"),
    "_login_failures": ("login", "at"),
    "_outbox": ("id", "kind", "recipient", "purpose", "code", "body", "created_at"),
    "_file_uploads": ("token", "object_id", "expires_at"),
    "_request_ids": ("id", "expires_at"),
    "_class_permissions": ("class_name", "permissions"),
    "_code_failures": ("recipient", "purpose", "address", "at"),
    "_one_time_codes": ("purpose", "recipient", "user_id", "code", "expires_at"),
    "_config": ("name", "value", "master_only"),
    "_status_inbox": ("message_id", "owner_id", "inbox_type", "status_id", "unread"),
    "_leaderboards": ("name", "object_id", "member_type", "sort_order", "strategy", "period", "version",
                      "activated_at", "expires_at", "created_at", "updated_at"),
    "_leaderboard_statistics": ("name", "version", "member", "value", "updated_at"),
    "_leaderboard_archives": ("object_id", "name", "version", "activated_at", "deactivated_at"),
    "_migrations": ("name", "done_at"),
}


@dataclasses.dataclass
class CopyReport:
    """What a copy wrote: objects per class, rows per server table, files' bytes, counters."""

    objects: Dict[str, int] = dataclasses.field(default_factory=dict)
    rows: Dict[str, int] = dataclasses.field(default_factory=dict)
    files: int = 0
    counters: List[str] = dataclasses.field(default_factory=list)


def _write_pages(target: Store, sql: str, rows: Sequence[Tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), PAGE):
        with target.write() as conn:
            conn.executemany(sql, rows[start:start + PAGE])


def copy_store(source: Store, target: Store, source_files: FileBytes, target_files: FileBytes) -> CopyReport:
    """Copy everything ``source`` holds into ``target`` (which must hold no class); returns what was
    written. Raises ``ValueError`` when the target is not empty."""
    report = CopyReport()
    with target.read() as conn:
        existing = target.class_names(conn)
    if existing:
        raise ValueError(f"the target already holds classes ({', '.join(existing[:5])}): copy into an empty store")
    with source.snapshot(), source.read() as conn:
        classes = source.class_names(conn)
        for class_name in classes:
            rows = [(object_id, created, updated, None if acl is None else canonical(orjson.loads(acl)),
                     canonical(orjson.loads(data)))  # the SQLite store's text of a value is its canonical JSON
                    for object_id, created, updated, acl, data in conn.execute(f"SELECT {ROW} FROM {table(class_name)}")]
            with target.write() as out:
                target.ensure_class(out, class_name)
            _write_pages(target, f"INSERT INTO {table(class_name)} ({ROW}) VALUES (?, ?, ?, ?, ?)", rows)
            report.objects[class_name] = len(rows)
        for name, columns in SYSTEM_TABLES.items():
            values = [tuple(r) for r in conn.execute(f"SELECT {', '.join(columns)} FROM {name}").fetchall()]
            marks = ", ".join("?" for _ in columns)
            # OR IGNORE: what the target made of its own when it opened (its ``_migrations``) stays
            _write_pages(target, f"INSERT OR IGNORE INTO {name} ({', '.join(columns)}) VALUES ({marks})", values)
            report.rows[name] = len(values)
        indexes = {class_name: source.named_indexes(conn, class_name) for class_name in classes}
        counted = {class_name: source.counted_fields(conn, class_name) for class_name in classes}
        file_ids = [r[0] for r in conn.execute(f"SELECT objectId FROM {table('_File')}").fetchall()] \
            if "_File" in classes else []
    with target.write() as conn:
        target.rows_copied(conn)
        for class_name, named in indexes.items():
            for name, keys in named.items():
                target.add_named_index(conn, class_name, name, keys)
    for class_name, fields in counted.items():
        for field in fields:
            counters.create_counter(target, class_name, field)
            report.counters.append(f"{class_name}.{field}")
    for object_id in file_ids:
        try:
            handle, _ = source_files.open(object_id)
        except FileNotFoundError:
            continue  # an external file (a url of its own), or bytes never uploaded
        with handle:
            target_files.save(object_id, iter(lambda: handle.read(1 << 20), b""))
        report.files += 1
    return report
