"""``leanorm import``: a data export (LeanCloud's console export, or ``leanorm export``) into a backend.

Objects keep their objectIds, createdAt/updatedAt (where the target allows it: not on Parse Server),
ACLs and pointers; relation members come from the ``_Join`` files, roles get their users and roles the
same way; ``_File`` rows' bytes (from the export's ``files/`` or their ``url``) are uploaded and every
reference is rewritten to the copy; users keep their LeanCloud passwords (:mod:`.users`) and their
session tokens (:mod:`.sessions`: from ``_User`` rows and ``_Session`` rows), so nobody is logged out.

Rows are read one at a time and written in batches that carry their objectIds, so memory stays
constant and a batch can be re-sent after a lost connection: objects already on the target are
skipped, which also makes a second run resume the first (and change nothing once it finished). A
line that cannot be read is reported with its ``file:line``, never dropped silently.

An export is anyone's data: a ``_File`` url is fetched only as :mod:`.fetch` allows (public addresses,
unless the operator opts in), and a name that would go into a request's path (a class name, a relation
key, a relation row's owner id) must be a protocol name or a plain id (:mod:`.paths`).

>>> import json, pathlib, tempfile, leanorm
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "Note.jsonl").write_text(json.dumps({"objectId": "n1", "text": "hi"}) + "\\n")
>>> target = leanorm.connect("local://:memory:", default=False)
>>> [r.summary() for r in import_export(folder, target).values()]
['Note: 1 copied, 0 failed, 0 skipped (already there)']
>>> [r.summary() for r in import_export(folder, target).values()]
['Note: 0 copied, 0 failed, 1 skipped (already there)']
"""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, TypeVar, Union

from ..auth_context import using_master
from ..client import Client
from ..errors import DuplicateValue, EmailTaken, LeanCloudError, MobilePhoneTaken, UsernameTaken
from .checkpoint import Checkpoint
from .export_format import Export, Join, Row, open_export
from .fetch import FetchPolicy
from .file_copies import FileMover, download
from .paths import is_class_name, is_url_segment
from .progress import progress_bar
from .relations import add_members
from .report import ClassReport
from .retry import retrying
from .rows import relation_fields, write_body
from .sessions import KeptSession, from_session_row, from_user_row, keep_sessions
from .users import has_legacy_password, hide_legacy_passwords, user_body

__all__ = ["import_export", "SKIPPED_CLASSES", "FIRST_CLASSES", "first_classes_first"]

T = TypeVar("T")

#: classes whose rows belong to the server that made them, never imported as objects (``_Session`` rows
#: become the target's sessions: :mod:`.sessions`)
SKIPPED_CLASSES = frozenset({"_Session", "_Followee", "_Follower", "_Conversation", "_JobStatus", "_PushStatus",
                             "_Hooks", "_GlobalConfig", "_Audience", "_Idempotency", "_GraphQLConfig", "_SCHEMA",
                             "_Join"})
#: imported before the others, in this order: files (references to them are rewritten), then roles
#: and users (ACLs and pointers name them)
FIRST_CLASSES = ("_File", "_Role", "_User", "_Installation")
#: members of the built-in relations, whose classes no schema may list
_KNOWN_MEMBERS = {("_Role", "users"): "_User", ("_Role", "roles"): "_Role"}
#: a create that meets one of these on a re-sent batch found its own earlier copy
_PRESENT = (DuplicateValue, UsernameTaken, EmailTaken, MobilePhoneTaken)


def first_classes_first(names: Sequence[str]) -> List[str]:
    """``names`` in the order they are written: :data:`FIRST_CLASSES` first, then the others as given."""
    return [n for n in FIRST_CLASSES if n in names] + [n for n in names if n not in FIRST_CLASSES]


def present_ids(client: Client, class_name: str, ids: Sequence[str]) -> Set[str]:
    """Which of ``ids`` exist in ``class_name`` on ``client`` (master key; one request)."""
    if not ids:
        return set()
    with using_master():
        answer = retrying(lambda: client.request("GET", f"classes/{class_name}", {
            "where": {"objectId": {"$in": list(ids)}}, "keys": "objectId", "limit": len(ids)}))
    return {row["objectId"] for row in answer.get("results", [])}


def write_missing(client: Client, class_name: str, bodies: Sequence[Dict[str, Any]],
                  report: ClassReport, dry_run: bool = False,
                  prepare: Callable[[Dict[str, Any]], Dict[str, Any]] = lambda body: body) -> None:
    """Create the objects of ``bodies`` (each with its objectId) that ``client`` lacks, counting each
    in ``report``; ``prepare`` makes the write of a body that is sent (not of one skipped). The batch
    is re-sent after a lost connection; a duplicate id on a re-sent batch is the earlier attempt's copy
    (counted as copied), on the first attempt an object written meanwhile by someone else (counted as
    skipped)."""
    present = present_ids(client, class_name, [b["objectId"] for b in bodies])
    todo = [b for b in bodies if b["objectId"] not in present]
    report.skipped += len(bodies) - len(todo)
    if dry_run or not todo:
        report.copied += len(todo)
        return
    items = [("POST", f"classes/{class_name}", prepare(body)) for body in todo]
    attempts = [0]

    def send() -> List[Any]:
        attempts[0] += 1
        with using_master():
            return client.batch(items)

    for body, outcome in zip(todo, retrying(send)):
        if not isinstance(outcome, LeanCloudError):
            report.copied += 1
        elif isinstance(outcome, _PRESENT) and attempts[0] > 1:
            report.copied += 1
        elif isinstance(outcome, DuplicateValue) and body["objectId"] in present_ids(client, class_name,
                                                                                      [body["objectId"]]):
            report.skipped += 1
        else:
            report.fail(body["objectId"], outcome)


class _Importer:
    def __init__(self, export: Export, target: Client, checkpoint: Checkpoint, *, dry_run: bool,
                 batch_size: int, progress: bool, keep_timestamps_in: Optional[Tuple[str, str]],
                 fetch_policy: FetchPolicy) -> None:
        self.export, self.target, self.checkpoint = export, target, checkpoint
        self.fetch_policy = fetch_policy
        self.dry_run, self.batch_size, self.progress = dry_run, batch_size, progress
        self.keep_timestamps_in = keep_timestamps_in
        self.file_report = ClassReport("_File")
        self.session_report = ClassReport("_Session")  # from _User rows' tokens and _Session rows
        self.files = FileMover(target, checkpoint, self.file_report)
        self.member_classes: Dict[Tuple[str, str], str] = dict(_KNOWN_MEMBERS)

    # -- objects ---------------------------------------------------------------------------------------
    def import_class(self, class_name: str, file_name: str) -> ClassReport:
        report = self.file_report if class_name == "_File" else ClassReport(class_name)
        if not is_class_name(class_name):
            report.fail(file_name, "not a class name: the file is not imported")
            return report
        if self.checkpoint.done(class_name):
            report.notes.append("imported completely by an earlier run")
            return report
        if class_name == "_User" and not self.dry_run:
            hide_legacy_passwords(self.target)
        for batch in self._batches(class_name, file_name, report, lambda row: self._object_row(class_name, row, report)):
            self._write(class_name, batch, report)
        if class_name == "_User":
            _note_passwords(report, self.export, file_name)
        if not self.dry_run and not report.failed:
            self.checkpoint.finish(class_name)
        return report

    def _batches(self, name: str, file_name: str, report: ClassReport,
                 accept: Callable[[Row], Optional[T]]) -> Iterator[List[T]]:
        """The rows of ``file_name`` that ``accept`` takes (it reports the others), in batches; the
        rows before the checkpoint's cursor are skipped, and the cursor moves past each batch once its
        consumer is done with it."""
        cursor = self.checkpoint.cursor(name) or ""
        resume_after = int(cursor) if cursor.isdigit() else 0  # another tool's cursor: start over, safely
        batch: List[T] = []
        with progress_bar(name, self.progress) as bar:
            for seen, row in enumerate(self.export.rows(file_name), 1):
                if seen <= resume_after:
                    continue
                bar.update(1)
                item = accept(row)
                if item is not None:
                    batch.append(item)
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = []
                    if not self.dry_run:
                        self.checkpoint.advance(name, str(seen))
            if batch:
                yield batch

    def _object_row(self, class_name: str, row: Row, report: ClassReport) -> Optional[Row]:
        if row.data is None:
            report.fail(row.where, row.error)
            return None
        if not isinstance(row.data.get("objectId"), str) or not row.data["objectId"]:
            report.fail(row.where, "no objectId")
            return None
        for key, member in relation_fields(row.data):
            if is_class_name(key) and is_class_name(member):
                self.member_classes[(class_name, key)] = member
        return row

    def _write(self, class_name: str, rows: List[Row], report: ClassReport) -> None:
        if not rows:
            return
        if class_name == "_File":
            self._upload(rows, report)
            return
        bodies = [write_body(row.data, self.keep_timestamps_in) for row in rows if row.data is not None]
        if class_name == "_User":  # the rows carry the hashes; the bodies stay light until they are sent
            hashes = {row.data["objectId"]: row.data for row in rows if row.data is not None}
            bodies = [{**body, "__row": hashes[body["objectId"]]} for body in bodies]

        def prepare(body: Dict[str, Any]) -> Dict[str, Any]:
            row = body.pop("__row", None)
            body = self.files.rewrite_object(class_name, body)
            return user_body(row, body) if row is not None else body

        try:
            write_missing(self.target, class_name, bodies, report, self.dry_run, prepare)
        except LeanCloudError as exc:  # the whole batch refused (e.g. no such class allowed)
            for row in rows:
                report.fail(row.where, exc)
            return
        if class_name == "_User":
            self._keep_sessions([from_user_row(row.data) for row in rows if row.data is not None])

    # -- sessions --------------------------------------------------------------------------------------
    def _keep_sessions(self, found: Sequence[Optional[KeptSession]]) -> None:
        sessions = [session for session in found if session is not None]
        self.session_report.copied += keep_sessions(self.target, sessions, self.session_report, self.dry_run)

    def import_sessions(self, file_name: str) -> ClassReport:
        """The export's ``_Session`` rows as sessions of the target (after its users)."""
        report = self.session_report
        if self.checkpoint.done("_Session"):
            report.notes.append("imported completely by an earlier run")
            return report

        def session(row: Row) -> Optional[KeptSession]:
            kept = from_session_row(row.data) if row.data is not None else None
            if kept is None:
                report.fail(row.where, row.error or "a session row needs a sessionToken and a user")
            return kept

        for batch in self._batches("_Session", file_name, report, session):
            self._keep_sessions(batch)
        if not self.dry_run and not report.failed:
            self.checkpoint.finish("_Session")
        return report

    def _upload(self, rows: List[Row], report: ClassReport) -> None:
        batch = []
        for row in rows:
            assert row.data is not None
            problem = _file_row_problem(row.data)
            opener = self._bytes_of(row.data) if problem is None else None
            if problem is not None:
                report.fail(row.where, problem)
            elif opener is None:
                report.fail(row.where, "no bytes: neither in the export's files/ nor at a url")
            else:
                batch.append((row.data, opener))
        self.files.add(batch, self.dry_run)
        if not self.files.objects and not report.notes:
            report.notes.append("Parse Server keeps no file objects: each file is uploaded when an object "
                                "that refers to it is written, and counted then")

    def _bytes_of(self, row: Dict[str, Any]) -> Optional[Callable[[], BinaryIO]]:
        member = self.export.file_named(row.get("objectId"), row.get("key"), row.get("name"))
        if member is not None:
            return lambda: self.export.open(member)
        url, policy = row.get("url"), self.fetch_policy
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return lambda: download(url, policy)
        return None

    # -- relations -------------------------------------------------------------------------------------
    def member_class(self, join: Join) -> Optional[str]:
        known = self.member_classes.get((join.owner, join.key))
        if known:
            return known
        with using_master():
            try:
                schema = self.target.request("GET", f"schemas/{join.owner}")
            except LeanCloudError:
                return None
        fields = schema.get("fields", schema) if isinstance(schema, dict) else {}
        spec = fields.get(join.key) if isinstance(fields, dict) else None
        return spec.get("targetClass") or spec.get("className") if isinstance(spec, dict) else None

    def import_join(self, join: Join, file_name: str) -> ClassReport:
        name = f"_Join:{join.key}:{join.owner}"
        report = ClassReport(name)
        if self.checkpoint.done(name):
            report.notes.append("imported completely by an earlier run")
            return report
        if not (is_class_name(join.owner) and is_class_name(join.key)):
            report.fail(file_name, "not a class and field name: the relation file is not imported")
            return report
        member = self.member_class(join)
        if member is None or not is_class_name(member):
            report.fail(file_name, f"the member class of {join.owner}.{join.key} is unknown: the owner's rows "
                                   "carry no Relation value and the target's schema has no such field")
            return report
        def pair(row: Row) -> Optional[Tuple[str, str]]:
            data = row.data or {}
            owner, related = data.get("owningId"), data.get("relatedId")
            if isinstance(owner, str) and isinstance(related, str) and is_url_segment(owner):
                return owner, related
            report.fail(row.where, row.error or "a relation row needs owningId (a plain id) and relatedId")
            return None

        for pairs in self._batches(name, file_name, report, pair):
            self._add_members(join, member, pairs, report)
        if not self.dry_run and not report.failed:
            self.checkpoint.finish(name)
        return report

    def _add_members(self, join: Join, member: str, pairs: List[Tuple[str, str]], report: ClassReport) -> None:
        members: Dict[str, List[str]] = {}
        for owner, related in pairs:
            members.setdefault(owner, []).append(related)
        if self.dry_run:
            report.relations += len(pairs)
        else:
            add_members(self.target, join.owner, join.key, member, members, report)


#: the fields of a ``_File`` row the import reads, and the JSON type each must have
_FILE_ROW_TYPES = {"name": str, "key": str, "url": str, "mime_type": str, "metaData": dict, "ACL": dict}


def _file_row_problem(row: Dict[str, Any]) -> Optional[str]:
    """Why a ``_File`` row cannot be imported as it is (a field of the wrong type), or None."""
    for key, kind in _FILE_ROW_TYPES.items():
        if row.get(key) is not None and not isinstance(row[key], kind):
            return f"a _File row's {key} must be a {'string' if kind is str else 'JSON object'}"
    return None


def _note_passwords(report: ClassReport, export: Export, file_name: str) -> None:
    without = sum(1 for row in export.rows(file_name) if row.data is not None and not has_legacy_password(row.data))
    if without:
        report.notes.append(f"{without} users have no password hash in the export: they log in after a "
                            "password reset (or a third-party / SMS login)")


def import_export(source: Union[str, "os.PathLike[str]", Export], target: Client, *,
                  classes: Optional[Sequence[str]] = None, dry_run: bool = False, batch_size: int = 200,
                  state: Optional[str] = None, progress: bool = False,
                  keep_timestamps_in: Optional[Tuple[str, str]] = None,
                  fetch_policy: FetchPolicy = FetchPolicy()) -> Dict[str, ClassReport]:
    """Import the export at ``source`` into ``target`` (a client with the master key); returns a report
    per class and relation file, in the order they were imported.

    :param classes: only these classes (and relation files whose owner is one of them)
    :param dry_run: read everything and report what would be copied or skipped, writing nothing
    :param state: the :class:`~.checkpoint.Checkpoint` file that lets a rerun resume (and remembers the
        uploaded files); None keeps it in memory, so a rerun re-checks every object (still correct)
    :param progress: a progress bar per class on stderr
    :param keep_timestamps_in: two field names to keep the original createdAt/updatedAt in, for targets
        that set their own (Parse Server)
    :param fetch_policy: which ``_File`` urls are fetched (:mod:`.fetch`: public addresses only by default;
        an export is anyone's data, its urls are not trusted)
    """
    export = source if isinstance(source, Export) else open_export(source)
    reports: Dict[str, ClassReport] = {}
    with Checkpoint(state) as checkpoint:
        importer = _Importer(export, target, checkpoint, dry_run=dry_run, batch_size=batch_size,
                             progress=progress, keep_timestamps_in=keep_timestamps_in,
                             fetch_policy=fetch_policy)
        found = export.classes()
        wanted = [n for n in first_classes_first(sorted(found))
                  if n not in SKIPPED_CLASSES and (not classes or n in classes)]
        for name in wanted:
            reports[name] = importer.import_class(name, found[name])
        if "_Session" in found and (not classes or "_Session" in classes):
            importer.import_sessions(found["_Session"])
        sessions = importer.session_report
        if sessions.copied or sessions.skipped or sessions.failed or sessions.notes:
            reports["_Session"] = sessions
        for join, file_name in export.joins():
            if not classes or join.owner in classes:
                report = importer.import_join(join, file_name)
                reports[report.class_name] = report
    if not isinstance(source, Export):
        export.close()
    return reports
