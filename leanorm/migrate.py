"""Moving data between backends: LeanCloud → Parse Server, embedded ↔ anything.

Objects are copied as raw protocol JSON (no model needs to be declared), keeping their objectIds so that
pointers stay valid, streamed by objectId cursor in constant memory and written through the batch
endpoint. Relations are copied after every object exists. Both clients act with the master key.

>>> import leanorm
>>> source = leanorm.connect("local://:memory:", default=False)
>>> target = leanorm.connect("local://:memory:", default=False)
>>> _ = source.request("POST", "classes/Note", body={"text": "hi"})
>>> copy_class("Note", source, target).copied
1
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .auth_context import using_master
from .client import Client
from .errors import DuplicateValue, LeanCloudError
from .transfer.rows import write_body

__all__ = ["CopyReport", "copy_class", "copy_all", "class_names"]

#: classes that are never copied: sessions belong to one server
SKIPPED_CLASSES = frozenset({"_Session", "_Followee", "_Follower", "_Conversation", "_JobStatus",
                             "_PushStatus", "_Hooks", "_GlobalConfig", "_Audience", "_Idempotency",
                             "_GraphQLConfig", "_SCHEMA"})
_SERVER_KEYS = ("createdAt", "updatedAt")


@dataclass
class CopyReport:
    """What one class's copy did: counts, and each failed object with the server's error."""

    class_name: str
    copied: int = 0
    skipped: int = 0
    relations: int = 0
    failed: List[Tuple[str, LeanCloudError]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def class_names(client: Client) -> List[str]:
    """Every class the backend's schema lists (master key)."""
    with using_master():
        answer = client.request("GET", "schemas")
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):  # Parse's shape
        names = [c["className"] for c in answer["results"]]
    else:  # LeanCloud's: {className: {field: {type}}}
        names = list(answer)
    return sorted(n for n in names if n not in SKIPPED_CLASSES)


def _stream(client: Client, class_name: str, chunk_size: int) -> Iterator[List[Dict[str, Any]]]:
    last: Optional[str] = None
    while True:
        params: Dict[str, Any] = {"order": "objectId", "limit": str(chunk_size)}
        if last is not None:
            params["where"] = {"objectId": {"$gt": last}}
        rows = client.request("GET", f"classes/{class_name}", params).get("results", [])
        if rows:
            yield rows
        if len(rows) < chunk_size:
            return
        last = rows[-1]["objectId"]


def copy_class(class_name: str, source: Client, target: Client, *, chunk_size: int = 500,
               skip_existing: bool = True, keep_timestamps_in: Optional[Tuple[str, str]] = None,
               relations: bool = True) -> CopyReport:
    """Copy every object of ``class_name`` from ``source`` to ``target``, keeping objectIds.

    :param skip_existing: an object whose objectId exists on the target already counts as skipped (so an
        interrupted copy can simply run again), not as failed
    :param keep_timestamps_in: two field names to store the original createdAt/updatedAt in, for targets
        that assign their own (Parse Server does)
    :param relations: also copy the members of every Relation field (after the objects)
    """
    report = CopyReport(class_name)
    relation_keys: Dict[str, str] = {}
    with using_master():
        for rows in _stream(source, class_name, chunk_size):
            for row in rows:
                for key, value in row.items():
                    if isinstance(value, dict) and value.get("__type") == "Relation":
                        relation_keys[key] = value["className"]
            items = [("POST", f"classes/{class_name}", write_body(row, keep_timestamps_in)) for row in rows]
            for row, outcome in zip(rows, target.batch(items)):
                if not isinstance(outcome, LeanCloudError):
                    report.copied += 1
                elif skip_existing and isinstance(outcome, DuplicateValue):
                    report.skipped += 1
                else:
                    report.failed.append((row["objectId"], outcome))
        if relations:
            for key, member_class in relation_keys.items():
                report.relations += _copy_relation(class_name, key, member_class, source, target, chunk_size)
    return report


def _copy_relation(class_name: str, key: str, member_class: str, source: Client, target: Client,
                   chunk_size: int) -> int:
    """Copy one Relation field's membership: for each page of owners, one batch of member queries
    (paged by objectId for owners with more members than a page), then one batch of AddRelation."""
    page_size = source.dialect.max_limit
    added = 0
    for owners in _stream(source, class_name, chunk_size):
        members: Dict[str, List[str]] = {owner["objectId"]: [] for owner in owners}
        after: Dict[str, Optional[str]] = dict.fromkeys(members)
        while after:
            asked = list(after)
            items = [("GET", f"classes/{member_class}", {
                "where": _members_of(class_name, owner_id, key, after[owner_id]), "keys": "objectId",
                "order": "objectId", "limit": page_size}) for owner_id in asked]
            after = {}
            for owner_id, outcome in zip(asked, source.batch(items)):
                if isinstance(outcome, LeanCloudError):
                    raise outcome
                page = outcome["results"]
                members[owner_id] += [m["objectId"] for m in page]
                if len(page) == page_size:
                    after[owner_id] = page[-1]["objectId"]
        updates = [("PUT", f"classes/{class_name}/{owner_id}", {key: {"__op": "AddRelation", "objects": [
            {"__type": "Pointer", "className": member_class, "objectId": m} for m in ids[i:i + page_size]]}})
            for owner_id, ids in members.items() for i in range(0, len(ids), page_size)]
        for outcome in target.batch(updates):
            if isinstance(outcome, LeanCloudError):
                raise outcome
        added += sum(len(ids) for ids in members.values())
    return added


def _members_of(class_name: str, owner_id: str, key: str, after: Optional[str]) -> Dict[str, Any]:
    where: Dict[str, Any] = {"$relatedTo": {"object": {"__type": "Pointer", "className": class_name,
                                                       "objectId": owner_id}, "key": key}}
    if after is not None:
        where["objectId"] = {"$gt": after}
    return where


def copy_all(source: Client, target: Client, classes: Optional[Sequence[str]] = None,
             **options: Any) -> Dict[str, CopyReport]:
    """Copy every class (or ``classes``) from ``source`` to ``target``; see :func:`copy_class`.

    User passwords cannot be read through the protocol: copied users must reset theirs.
    """
    return {name: copy_class(name, source, target, **options)
            for name in (classes if classes is not None else class_names(source))}
