"""Relation members between backends: read an owner's members, add the missing ones.

Adding is idempotent (members already held are not sent again, so a rerun leaves the owners
untouched), and keeps each owner's updatedAt where the target allows the master key to set it (the
embedded backend; Parse Server sets its own).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set

from ..auth_context import using_master
from ..client import Client
from ..errors import LeanCloudError
from ..protocol.encoding import pointer as wire_pointer
from .report import ClassReport
from .retry import retrying

__all__ = ["relation_members", "add_members"]


def _related_to(owner_class: str, owner: str, key: str) -> Dict[str, Any]:
    return {"$relatedTo": {"object": wire_pointer(owner_class, owner), "key": key}}


def relation_members(client: Client, owner_class: str, key: str, member_class: str, owners: Sequence[str],
                     among: Optional[Dict[str, List[str]]] = None) -> Dict[str, Set[str]]:
    """Each owner's members in ``key`` (one batch of queries per page; owners with more members than a
    page are paged by objectId). With ``among``, only which of those ids each owner holds."""
    limit = client.dialect.max_limit
    found: Dict[str, Set[str]] = {owner: set() for owner in owners}
    after: Dict[str, Optional[str]] = dict.fromkeys(owners)
    while after:
        asked = list(after)
        items = []
        for owner in asked:
            where = _related_to(owner_class, owner, key)
            if among is not None:
                where["objectId"] = {"$in": among[owner]}
            elif after[owner]:
                where["objectId"] = {"$gt": after[owner]}
            items.append(("GET", f"classes/{member_class}",
                          {"where": where, "keys": "objectId", "order": "objectId", "limit": limit}))
        with using_master():
            outcomes = retrying(lambda: client.batch(items))
        after = {}
        for owner, outcome in zip(asked, outcomes):
            if isinstance(outcome, LeanCloudError):
                raise outcome
            page = [row["objectId"] for row in outcome["results"]]
            found[owner].update(page)
            if len(page) == limit and among is None:
                after[owner] = page[-1]
    return found


def add_members(target: Client, owner_class: str, key: str, member_class: str, members: Dict[str, List[str]],
                report: ClassReport, updated_at: Optional[Dict[str, Optional[str]]] = None) -> None:
    """Add ``members`` (owner id -> member ids) to the owners' relation ``key`` on ``target``, counting
    in ``report`` (added as ``relations``, held already as ``skipped``, an owner missing as failed).
    ``updated_at`` gives each owner's updatedAt to keep (default: the target's current one)."""
    if not members:
        return
    with using_master():
        owners = retrying(lambda: target.request("GET", f"classes/{owner_class}", {
            "where": {"objectId": {"$in": list(members)}}, "keys": "objectId", "limit": len(members)}))
    current = {o["objectId"]: o.get("updatedAt") for o in owners.get("results", [])}
    members = dict(members)
    for owner in [o for o in members if o not in current]:
        report.fail(owner, f"no {owner_class} {owner} on the target for {len(members.pop(owner))} relation members")
    held = relation_members(target, owner_class, key, member_class, list(members), among=members)
    items = []
    for owner, ids in members.items():
        missing = [m for m in ids if m not in held[owner]]
        report.skipped += len(ids) - len(missing)
        for start in range(0, len(missing), target.dialect.max_limit):
            part = missing[start:start + target.dialect.max_limit]
            body: Dict[str, Any] = {key: {"__op": "AddRelation", "objects": [
                wire_pointer(member_class, m) for m in part]}}
            kept = (updated_at or current).get(owner)
            if kept:
                body["updatedAt"] = {"__type": "Date", "iso": kept}
            items.append((owner, len(part), ("PUT", f"classes/{owner_class}/{owner}", body)))
    if not items:
        return
    with using_master():
        outcomes = retrying(lambda: target.batch([item for _, _, item in items]))
    for (owner, count, _), outcome in zip(items, outcomes):
        if isinstance(outcome, LeanCloudError):
            report.fail(owner, outcome)
        else:
            report.relations += count
