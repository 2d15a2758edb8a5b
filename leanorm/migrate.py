"""Moving data between backends: LeanCloud → Parse Server, embedded ↔ anything.

Objects are copied as raw protocol JSON (no model needs to be declared), keeping their objectIds so that
pointers stay valid, streamed by objectId cursor in constant memory and written through the batch
endpoint. Files first (their bytes uploaded to the target, every reference rewritten), then roles and
users, then the other classes; relation members after every object exists. Both clients act with the
master key.

On a flaky link every read, and every batch write (which carries its objectIds: sent twice, the second
finds the objects present), is retried with backoff; with a ``state`` file each class's cursor is
kept after every batch, so running the copy again resumes where it stopped.

Users read over REST carry no password hash (no server returns one): they are copied with an
unguessable password and log in again after a password reset; the report says so. To keep passwords,
import LeanCloud's console export instead (``leanorm import``).

>>> import leanorm
>>> source = leanorm.connect("local://:memory:", default=False)
>>> target = leanorm.connect("local://:memory:", default=False)
>>> _ = source.request("POST", "classes/Note", body={"text": "hi"})
>>> copy_class("Note", source, target).copied
1
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

from .client import Client
from .errors import LeanORMError
from .transfer.checkpoint import Checkpoint
from .transfer.fetch import FetchPolicy
from .transfer.file_copies import FileMover, download, trusting_backends
from .transfer.importer import first_classes_first, write_missing
from .transfer.relations import add_members, relation_members
from .transfer.report import ClassReport
from .transfer.rows import relation_fields, write_body
from .transfer.scan import class_names, pages
from .transfer.users import hide_legacy_passwords, user_body

__all__ = ["CopyReport", "copy_class", "copy_all", "class_names"]

#: what one class's copy did (the import's report)
CopyReport = ClassReport


def copy_class(class_name: str, source: Client, target: Client, *, chunk_size: int = 500,
               keep_timestamps_in: Optional[Tuple[str, str]] = None, relations: bool = True,
               checkpoint: Optional[Checkpoint] = None, files: Optional[FileMover] = None,
               fetch_policy: FetchPolicy = FetchPolicy()) -> ClassReport:
    """Copy every object of ``class_name`` from ``source`` to ``target``, keeping objectIds. An object
    whose objectId exists on the target already counts as skipped (so an interrupted copy can simply run
    again), not as failed.

    :param keep_timestamps_in: two field names to store the original createdAt/updatedAt in, for targets
        that assign their own (Parse Server does)
    :param relations: also copy the members of every Relation field (after the objects)
    :param checkpoint: where each batch's cursor is kept, so a rerun resumes after it
    :param files: the file mover rewriting file references (:func:`copy_all` shares one across classes)
    :param fetch_policy: which file urls are fetched (:mod:`leanorm.transfer.fetch`; the source's own
        origin is trusted)
    """
    checkpoint = checkpoint or Checkpoint(None)
    report = ClassReport(class_name)
    policy = trusting_backends(fetch_policy, source)
    files = files or FileMover(target, checkpoint, ClassReport("_File"), adopt_urls_of=source, policy=policy)
    if checkpoint.done(class_name):
        report.notes.append("copied completely by an earlier run")
        return report
    if class_name == "_User":
        hide_legacy_passwords(target)
    relation_keys: Dict[str, str] = {}

    def prepare(body: Dict[str, Any]) -> Dict[str, Any]:
        written = files.rewrite_object(class_name, body)
        return user_body({}, written) if class_name == "_User" else written

    for rows in pages(source, class_name, chunk_size, checkpoint.cursor(class_name)):
        relation_keys.update(kv for row in rows for kv in relation_fields(row))
        if class_name == "_File":
            files.add([(row, _url_opener(source, row, policy)) for row in rows], dry_run=False)
        else:
            bodies = [write_body(row, keep_timestamps_in) for row in rows]
            write_missing(target, class_name, bodies, report, prepare=prepare)
        checkpoint.advance(class_name, rows[-1]["objectId"])
    if class_name == "_File":
        report = files.report
    if class_name == "_User" and report.copied:
        report.notes.append(f"{report.copied} users copied without their passwords (no server returns a "
                            "password hash): they log in again after a password reset")
    if relations:
        for key, member_class in sorted(relation_keys.items()):
            _copy_relation(class_name, key, member_class, source, target, chunk_size, report)
    if not report.failed:
        checkpoint.finish(class_name)
    return report


def _url_opener(source: Client, row: Dict[str, Any], policy: FetchPolicy) -> Any:
    return lambda: download(row["url"], policy, client=source)


def _copy_relation(class_name: str, key: str, member_class: str, source: Client, target: Client,
                   chunk_size: int, report: ClassReport) -> None:
    """Copy one Relation field's membership, page of owners by page of owners, keeping each owner's
    updatedAt as the source has it."""
    for owners in pages(source, class_name, chunk_size):
        ids = [owner["objectId"] for owner in owners]
        members = relation_members(source, class_name, key, member_class, ids)
        add_members(target, class_name, key, member_class, {o: sorted(m) for o, m in members.items() if m}, report,
                    updated_at={owner["objectId"]: owner.get("updatedAt") for owner in owners})


def copy_all(source: Client, target: Client, classes: Optional[Sequence[str]] = None, *,
             state: Optional[str] = None, fetch_policy: FetchPolicy = FetchPolicy(),
             **options: Any) -> Dict[str, ClassReport]:
    """Copy every class (or ``classes``) from ``source`` to ``target``: files, roles and users first; see
    :func:`copy_class`. A class that fails beyond the retries gets a report saying why, and the copy goes
    on with the next class.

    :param state: a :class:`~leanorm.transfer.checkpoint.Checkpoint` file: a rerun resumes after the last
        batch it recorded
    :param fetch_policy: which file urls are fetched (see :func:`copy_class`)
    """
    names = list(classes) if classes is not None else class_names(source)
    reports: Dict[str, ClassReport] = {}
    with Checkpoint(state) as checkpoint:
        files = FileMover(target, checkpoint, ClassReport("_File"), adopt_urls_of=source,
                          policy=trusting_backends(fetch_policy, source))
        for name in first_classes_first(names):
            try:
                reports[name] = copy_class(name, source, target, checkpoint=checkpoint, files=files,
                                           fetch_policy=fetch_policy, **options)
            except LeanORMError as exc:  # retries exhausted, or the class refused as a whole
                report = reports[name] = ClassReport(name)
                report.fail("(class)", f"{type(exc).__name__}: {exc}; run the same command again to resume")
    return reports

