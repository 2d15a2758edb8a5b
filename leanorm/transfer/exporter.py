"""``leanorm export``: a backend's data written in the export layout :mod:`.export_format` reads.

One ``<Class>.jsonl`` per class (rows as the REST API returns them, read by objectId cursor in constant
memory), a ``_Join:<key>:<Class>.jsonl`` per Relation field, and file bytes under ``files/``: by
objectId where files are objects, else (Parse Server) by name, with a ``_File`` row written for each so
an import finds them. Users are exported without password hashes, which no server returns over REST:
after an import they log in again through a password reset (the report says so).

Every name that becomes a path comes from the source's data, so none is trusted (:mod:`.paths`): a file's
bytes are stored under :func:`~.export_format.stored_name` of its name or objectId, a class or relation
key that is not a protocol name is refused, and nothing is written outside the folder or through a
symlink. File urls are fetched as :mod:`.fetch` allows (the source's own origin is trusted).

An export of the embedded backend in-process (``local://``) reads one snapshot: the whole export is one
read transaction (``Transport.snapshot``), so an object written meanwhile is in it with every object it
points to, or not at all. Over HTTP no server gives that: each page is read as the data is then, and an
object created during the export may point to one created after its class was read. The report says so,
and ``leanorm verify`` lists such dangling pointers.

The export resumes: after every page the class's cursor and the file's length are logged in
``.leanorm-export.jsonl`` in the folder; a rerun cuts each file back to its last logged length and goes
on from the cursor.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any, Dict, Optional, Sequence, Set

from ..client import Client
from .checkpoint import Checkpoint
from .export_format import FILES_DIR, JOIN_PREFIX, open_export, stored_name
from .fetch import FetchPolicy
from .file_copies import download, file_key, trusting_backends
from .paths import UnsafeName, is_class_name, open_inside, path_inside
from .progress import progress_bar
from .relations import relation_members
from .report import ClassReport
from .retry import retrying
from .rows import relation_fields
from .scan import class_names, pages

__all__ = ["export_backend", "STATE_FILE", "NOT_A_SNAPSHOT"]

STATE_FILE = ".leanorm-export.jsonl"
_PAGE = 500
#: the note of an export read over REST, which no server answers from one snapshot
NOT_A_SNAPSHOT = ("read over REST, not from one snapshot: objects written during the export may point to objects "
                  "it missed (leanorm verify lists dangling pointers); export a stopped server, or its backup "
                  "through local://, for a point-in-time copy")


class _Exporter:
    def __init__(self, source: Client, folder: Path, checkpoint: Checkpoint, since: Optional[str],
                 progress: bool, fetch_policy: FetchPolicy) -> None:
        self.source, self.folder, self.checkpoint = source, folder, checkpoint
        self.progress = progress
        self.fetch_policy = trusting_backends(fetch_policy, source)
        self._since = {"updatedAt": {"$gt": {"__type": "Date", "iso": since}}} if since else None
        self.file_objects = source.supports("file_objects")
        (folder / FILES_DIR).mkdir(parents=True, exist_ok=True)
        # the files a _File row lists already: read back, so that a rerun lists a file whose bytes an
        # interrupted run saved before writing its row, and never lists one twice
        self._listed: Set[str] = set()
        if not self.file_objects and (folder / "_File.jsonl").exists():
            with open_export(folder) as written:  # a line cut short by the crash lists nothing
                self._listed = {row.data["objectId"] for row in written.rows("_File.jsonl") if row.data}

    def _open(self, name: str) -> IO[bytes]:
        """The class's file, cut back to the length the checkpoint last logged (what a crash added after
        it is written again)."""
        logged = self.checkpoint.cursor(f"{name}#bytes")
        handle = open_inside(self.folder, f"{name}.jsonl", mode="r+b" if logged else "wb")
        handle.truncate(int(logged) if logged and logged.isdigit() else 0)
        handle.seek(0, os.SEEK_END)
        return handle

    def export_class(self, name: str) -> ClassReport:
        report = ClassReport(name)
        if not is_class_name(name):
            report.fail(name, "not a class name: never a file name of the export")
            return report
        if self.checkpoint.done(name):
            report.notes.append("exported completely by an earlier run")
            return report
        relations: Dict[str, str] = {}
        with self._open(name) as out, progress_bar(name, self.progress) as bar:
            for rows in pages(self.source, name, _PAGE, self.checkpoint.cursor(name), self._since):
                for row in rows:
                    relations.update(relation_fields(row))
                    self._keep_files(row, report, out if name == "_File" else None)
                    if name != "_File" or self.file_objects:
                        out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
                out.flush()
                report.copied += len(rows)
                bar.update(len(rows))
                self.checkpoint.advance(f"{name}#bytes", str(out.tell()))
                self.checkpoint.advance(name, rows[-1]["objectId"])
        for key, member in sorted(relations.items()):
            if is_class_name(key) and is_class_name(member):
                report.relations += self._export_relation(name, key, member)
            else:
                report.fail(key, f"relation {key!r} of {member!r}: not a field and class name, not exported")
        if name == "_User" and report.copied:
            report.notes.append("users are exported without password hashes (no server returns them over REST): "
                                "after an import they log in again through a password reset")
        self.checkpoint.finish(name)
        return report

    def _keep_files(self, row: Dict[str, Any], report: ClassReport, files_out: Optional[IO[bytes]]) -> None:
        """Download the bytes of a ``_File`` row (file objects), or of every File value (Parse Server)."""
        if self.file_objects:
            if files_out is not None and isinstance(row.get("url"), str) and row["url"]:
                self._download(row["objectId"], row["url"], report)
            return
        for value in row.values():
            name, url = (value.get("name"), value.get("url")) if file_key(value) is not None else (None, None)
            if isinstance(name, str) and name and isinstance(url, str):
                if name not in self._listed and self._download(name, url, report):
                    with open_inside(self.folder, "_File.jsonl", mode="ab") as files:
                        files.write(json.dumps({"objectId": name, "name": name, "url": url}).encode()
                                    + b"\n")
                    self._listed.add(name)

    def _download(self, name: str, url: str, report: ClassReport) -> bool:
        """Save the bytes at ``url`` as ``files/<stored name>`` (unless an earlier run did); False when they
        could not be downloaded."""
        stored = stored_name(name)
        try:
            path = path_inside(self.folder, FILES_DIR, stored)
            if path.exists():
                return True
            with retrying(lambda: download(url, self.fetch_policy, client=self.source)) as data, \
                    open_inside(self.folder, FILES_DIR, f"{stored}.part", mode="wb") as out:
                while chunk := data.read(1 << 16):
                    out.write(chunk)
            os.replace(path_inside(self.folder, FILES_DIR, f"{stored}.part"), path)
        except UnsafeName as exc:
            report.fail(name, f"file bytes not written: {exc}")
            return False
        except OSError as exc:
            report.fail(name, f"file bytes not downloaded from {url}: {exc}")
            return False
        return True

    def _export_relation(self, name: str, key: str, member: str) -> int:
        written = 0
        with open_inside(self.folder, f"{JOIN_PREFIX}{key}:{name}.jsonl", mode="wb") as out:
            for rows in pages(self.source, name, _PAGE):
                members = relation_members(self.source, name, key, member, [row["objectId"] for row in rows])
                for owner, ids in members.items():
                    for related in sorted(ids):
                        out.write(json.dumps({"owningId": owner, "relatedId": related}).encode() + b"\n")
                        written += 1
        return written


def export_backend(source: Client, folder: "os.PathLike[str] | str", classes: Optional[Sequence[str]] = None, *,
                   since: Optional[str] = None, progress: bool = False,
                   fetch_policy: FetchPolicy = FetchPolicy()) -> Dict[str, ClassReport]:
    """Export ``source`` (a client with the master key) into ``folder``; a report per class.

    :param classes: only these classes (default: every class of the schema)
    :param since: only objects updated after this ISO date (e.g. ``2026-11-01T00:00:00.000Z``)
    :param fetch_policy: which file urls are fetched (:mod:`.fetch`; the source's own origin is trusted)
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    names = list(classes) if classes else class_names(source)
    if not source.supports("file_objects"):
        names = [n for n in names if n != "_File"]
    snapshot = source.transport.snapshot()
    with Checkpoint(str(path_inside(target, STATE_FILE))) as checkpoint, snapshot or contextlib.nullcontext():
        exporter = _Exporter(source, target, checkpoint, since, progress, fetch_policy)
        reports = {name: exporter.export_class(name) for name in names}
    if snapshot is None:
        for report in reports.values():
            report.notes.append(NOT_A_SNAPSHOT)
    return reports
