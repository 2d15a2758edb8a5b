"""``leanorm export``: a backend's data written in the export layout :mod:`.export_format` reads.

One ``<Class>.jsonl`` per class (rows as the REST API returns them, read by objectId cursor in constant
memory), a ``_Join:<key>:<Class>.jsonl`` per Relation field, and file bytes under ``files/``: by
objectId where files are objects, else (Parse Server) by name, with a ``_File`` row written for each so
an import finds them. Users are exported without password hashes, which no server returns over REST:
after an import they log in again through a password reset (the report says so).

The export resumes: after every page the class's cursor and the file's length are logged in
``.leanorm-export.jsonl`` in the folder; a rerun cuts each file back to its last logged length and goes
on from the cursor.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Dict, Optional, Sequence, Set

from ..client import Client
from .checkpoint import Checkpoint
from .export_format import FILES_DIR, JOIN_PREFIX, open_export, part_of_a_file_name
from .files import download, file_key
from .progress import progress_bar
from .relations import relation_members
from .report import ClassReport
from .retry import retrying
from .rows import relation_fields
from .scan import class_names, pages

__all__ = ["export_backend", "STATE_FILE"]

STATE_FILE = ".leanorm-export.jsonl"
_PAGE = 500


class _Exporter:
    def __init__(self, source: Client, folder: Path, checkpoint: Checkpoint, since: Optional[str],
                 progress: bool) -> None:
        self.source, self.folder, self.checkpoint = source, folder, checkpoint
        self.progress = progress
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
        path = self.folder / f"{name}.jsonl"
        logged = self.checkpoint.cursor(f"{name}#bytes")
        handle = open(path, "r+b" if path.exists() and logged else "wb")
        handle.truncate(int(logged or 0))
        handle.seek(0, os.SEEK_END)
        return handle

    def export_class(self, name: str) -> ClassReport:
        report = ClassReport(name)
        if not _names_a_file(name, report):
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
            if _names_a_file(key, report):
                report.relations += self._export_relation(name, key, member)
        if name == "_User" and report.copied:
            report.notes.append("users are exported without password hashes (no server returns them over REST): "
                                "after an import they log in again through a password reset")
        self.checkpoint.finish(name)
        return report

    def _keep_files(self, row: Dict[str, Any], report: ClassReport, files_out: Optional[IO[bytes]]) -> None:
        """Download the bytes of a ``_File`` row (file objects), or of every File value (Parse Server)."""
        if self.file_objects:
            if files_out is not None and row.get("url"):
                self._download(row["objectId"], row["url"], report)
            return
        for value in row.values():
            if file_key(value) is not None and value.get("url") and value.get("name"):
                name = value["name"]
                if name not in self._listed and self._download(name, value["url"], report):
                    with open(self.folder / "_File.jsonl", "ab") as files:
                        files.write(json.dumps({"objectId": name, "name": name, "url": value["url"]}).encode()
                                    + b"\n")
                    self._listed.add(name)

    def _download(self, name: str, url: str, report: ClassReport) -> bool:
        """Save the bytes at ``url`` as ``files/<name>`` (unless an earlier run did); False when they could
        not be downloaded."""
        if not _names_a_file(name, report):
            return False
        path = self.folder / FILES_DIR / name
        if path.exists():
            return True
        try:
            with retrying(lambda: download(url)) as data, open(f"{path}.part", "wb") as out:
                while chunk := data.read(1 << 16):
                    out.write(chunk)
            os.replace(f"{path}.part", path)
        except OSError as exc:
            report.fail(name, f"file bytes not downloaded from {url}: {exc}")
            return False
        return True

    def _export_relation(self, name: str, key: str, member: str) -> int:
        written = 0
        with open(self.folder / f"{JOIN_PREFIX}{key}:{name}.jsonl", "wb") as out:
            for rows in pages(self.source, name, _PAGE):
                members = relation_members(self.source, name, key, member, [row["objectId"] for row in rows])
                for owner, ids in members.items():
                    for related in sorted(ids):
                        out.write(json.dumps({"owningId": owner, "relatedId": related}).encode() + b"\n")
                        written += 1
        return written


def _names_a_file(name: str, report: ClassReport) -> bool:
    """Whether ``name``, answered by the source, can name a file of the export; a name that would lead out
    of the folder (``../``) is reported as failed and nothing is written for it."""
    try:
        part_of_a_file_name(name)
    except ValueError as exc:
        report.fail(str(name), f"not exported: {exc}")
        return False
    return True


def export_backend(source: Client, folder: "os.PathLike[str] | str", classes: Optional[Sequence[str]] = None, *,
                   since: Optional[str] = None, progress: bool = False) -> Dict[str, ClassReport]:
    """Export ``source`` (a client with the master key) into ``folder``; a report per class.

    :param classes: only these classes (default: every class of the schema)
    :param since: only objects updated after this ISO date (e.g. ``2026-11-01T00:00:00.000Z``)
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    names = list(classes) if classes else class_names(source)
    if not source.supports("file_objects"):
        names = [n for n in names if n != "_File"]
    with Checkpoint(str(target / STATE_FILE)) as checkpoint:
        exporter = _Exporter(source, target, checkpoint, since, progress)
        return {name: exporter.export_class(name) for name in names}
