"""The messages of Parse's LiveQuery protocol: JSON objects over a WebSocket.

A client sends ``connect`` (application id, a key, optionally a session token or the master key) and
is answered ``connected``; it sends ``subscribe`` (a ``requestId`` it chose and a query: ``className``,
``where``, optional ``keys`` and ``watch``) and is answered ``subscribed``; from then on each change
the query sees arrives as an event whose ``op`` is one of :data:`EVENT_KINDS`, with the object and, for
a change of an existing object, its ``original``. ``unsubscribe`` ends a subscription. A refusal is
``{"op": "error", "code": ..., "error": ..., "reconnect": ..., "requestId": ...}``.

These builders and readers are shared by every side that speaks it (the ORM's live queries; a server
implementing it), so the field names live in one place.

>>> subscribe_message(1, "Post", {"score": {"$gte": 5}}, keys=["title"])
{'op': 'subscribe', 'requestId': 1, 'query': {'className': 'Post', 'where': {'score': {'$gte': 5}}, 'keys': ['title']}}
>>> unmatchable({"author": {"$inQuery": {"where": {}, "className": "Author"}}})
"'$inQuery' (on 'author')"
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

__all__ = ["EVENT_KINDS", "MATCHABLE_OPERATORS", "connect_message", "subscribe_message", "unsubscribe_message",
           "unmatchable", "object_data"]

#: the events a subscription receives: an object that is new and matches (``create``), came to match
#: (``enter``), changed and still matches (``update``), no longer matches (``leave``), was deleted
EVENT_KINDS = ("create", "enter", "update", "leave", "delete")

#: the condition operators Parse Server's LiveQuery server evaluates against a changed object (its
#: QueryTools, checked on 9.10); any other operator (``$inQuery``, ``$relatedTo``, ``$text``...) matches
#: nothing there, silently
MATCHABLE_OPERATORS = frozenset({"$lt", "$lte", "$gt", "$gte", "$eq", "$ne", "$in", "$nin", "$all", "$exists",
                                 "$regex", "$options", "$nearSphere", "$maxDistance", "$within", "$containedBy",
                                 "$geoWithin", "$geoIntersects"})
_LOGICAL = ("$or", "$and", "$nor")


def connect_message(app_id: str, app_key: str, master_key: Optional[str] = None,
                    session_token: Optional[str] = None) -> Dict[str, Any]:
    """``connect``: the app's id and key (as ``restAPIKey``), the master key when the caller uses it, the
    session token of the user it acts as."""
    message: Dict[str, Any] = {"op": "connect", "applicationId": app_id, "restAPIKey": app_key}
    if master_key:
        message["masterKey"] = master_key
    if session_token:
        message["sessionToken"] = session_token
    return message


def subscribe_message(request_id: int, class_name: str, where: Dict[str, Any],
                      keys: Optional[Sequence[str]] = None, watch: Optional[Sequence[str]] = None,
                      session_token: Optional[str] = None) -> Dict[str, Any]:
    """``subscribe``: the query (``keys`` limits the fields events carry, ``watch`` the fields whose
    change makes an ``update``) and the subscriber's session token. The token goes in each subscription
    too, not only in ``connect``: Parse Server checks class-level permissions of each event against
    the subscription's own token (and refuses the event without it)."""
    query: Dict[str, Any] = {"className": class_name, "where": where}
    if keys:
        query["keys"] = list(keys)
    if watch:
        query["watch"] = list(watch)
    message = {"op": "subscribe", "requestId": request_id, "query": query}
    if session_token:
        message["sessionToken"] = session_token
    return message


def unsubscribe_message(request_id: int) -> Dict[str, Any]:
    """``unsubscribe``: end the subscription ``request_id``."""
    return {"op": "unsubscribe", "requestId": request_id}


def unmatchable(where: Dict[str, Any]) -> Optional[str]:
    """The first condition of ``where`` a LiveQuery server cannot evaluate (so the subscription would
    silently match nothing), named for a message; None when every condition can be evaluated. Equality
    with null is one: Parse's matcher never matches it."""
    for key, condition in where.items():
        if key in _LOGICAL:
            for part in condition if isinstance(condition, list) else []:
                found = unmatchable(part) if isinstance(part, dict) else None
                if found:
                    return found
            continue
        if key.startswith("$"):
            return repr(key)
        if condition is None:
            # where the null comes from, as the user wrote it: a negation's "or missing" half is not obvious
            return (f"equality with null (on {key!r}: {key}=None and {key}__isnull=True compile to it, and so does "
                    f"the 'or missing' half of a negated comparison or text lookup, ~Q({key}__lt=...) or "
                    f"exclude({key}__lt=...); write {key}__exists=False, or the opposite lookup ({key}__gte=...))")
        if isinstance(condition, dict) and "__type" not in condition:
            for operator in condition:
                if operator not in MATCHABLE_OPERATORS:
                    return f"{operator!r} (on {key!r})"
    return None


def object_data(message_object: Dict[str, Any]) -> Dict[str, Any]:
    """An event's object as the REST API answers it: without the ``className`` the event adds."""
    return {k: v for k, v in message_object.items() if k != "className"}
