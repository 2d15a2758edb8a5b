"""Which event a change makes for one subscription, and what it shows, as Parse Server decides them.

An object *matches* a subscription when its ``where`` selects it and the subscriber may read it (the read
filter, ``ReadPolicy.reveal``: class-level permissions for ``get``/``find``, the ACL, protected fields
hidden). Before and after the write:

- matched neither time: nothing;
- after only: ``create`` (a new object) or ``enter`` (an update brought it in);
- before only: ``leave`` (the update took it out, or took the subscriber's read access away);
- both: ``update``; a delete of a matched object: ``delete``;
- a login (a change whose object is the same before and after): ``login`` when the user matches, an
  event only LeanCloud's protocol has (a client receives only the events its protocol speaks).

``watch`` limits ``create`` and ``update`` to writes that changed one of the watched fields; ``keys``
limits the fields shown to those and the object's own (``className``, ``objectId``, dates, ``ACL``).
``original`` (the object before) comes with ``update``, ``enter`` and ``leave``, only when the subscriber
could read it then; a ``leave`` caused by losing read access shows the object as it last could read it,
never the state it may not see.
"""
from __future__ import annotations

from typing import AbstractSet, Any, Dict, List, Optional

__all__ = ["Seen", "decide", "shown"]

#: what ``keys`` always leaves in an object (Parse Server's list)
_ALWAYS_SHOWN = ("className", "objectId", "updatedAt", "createdAt", "ACL")


class Seen:
    """One change as one subscriber sees it: the object before and after through its read filter (None
    where it may not read it), and whether the subscription's ``where`` matched it then."""

    __slots__ = ("before", "after", "where_before", "where_after")

    def __init__(self, before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]],
                 where_before: bool, where_after: bool) -> None:
        self.before, self.after = before, after
        self.where_before, self.where_after = where_before, where_after


def decide(seen: Seen, raw_before: Optional[Dict[str, Any]], raw_after: Optional[Dict[str, Any]],
           watch: Optional[List[str]]) -> Optional[Dict[str, Any]]:
    """The event (``op``, ``object``, maybe ``original``, objects still unprojected) the change makes for
    the subscription, or None. ``raw_*`` are the objects as stored (``watch`` compares them)."""
    was = seen.where_before and seen.before is not None
    now = seen.where_after and seen.after is not None
    if raw_after is None:  # a delete
        return {"op": "delete", "object": seen.before} if was else None
    if raw_before == raw_after:  # a change of nothing: a login (``objects.record_login``)
        return {"op": "login", "object": seen.after} if now else None
    if was and now:
        op = "update"
    elif now:
        op = "create" if raw_before is None else "enter"
    elif was:
        op = "leave"
    else:
        return None
    if watch is not None and op in ("create", "update") and not any(
            (raw_before or {}).get(f) != raw_after.get(f) for f in watch):
        return None
    if op == "create":
        return {"op": op, "object": seen.after}
    if op == "enter":  # the original only when the subscriber could read it then
        return {"op": op, "object": seen.after, "original": seen.before}
    if op == "leave":  # the object as it is now only when the subscriber may still read it
        return {"op": op, "object": seen.after if seen.after is not None else seen.before,
                "original": seen.before}
    return {"op": op, "object": seen.after, "original": seen.before}


def shown(obj: Dict[str, Any], class_name: str, keys: Optional[AbstractSet[str]]) -> Dict[str, Any]:
    """An event's object as sent: with its ``className``, limited to ``keys`` (and the object's own).
    It walks the object's fields, not ``keys``: an event costs what its object holds, however many keys
    the subscription names."""
    obj = {**obj, "className": class_name}
    if keys is None:
        return obj
    return {k: v for k, v in obj.items() if k in keys or k in _ALWAYS_SHOWN}
