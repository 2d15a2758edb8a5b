"""LeanCloud's status API: a user publishes a status (any JSON data) to the inboxes of other users.

A status goes to the users a query selects (:func:`send`), to the sender's followers
(:func:`send_to_followers`, see ``User.follow``) or to one user (:func:`send_private`, inbox type
``private``). Each inbox entry has a ``message_id`` that grows with every delivery and is unread until
:func:`reset_unread_count`. Inboxes are read by their owner (the current user) or under
``using_master()``. LeanCloud and the embedded backend have it; Parse Server does not
(:class:`~leanorm.errors.NotSupported`).

>>> import leanorm
>>> from leanorm import User, as_user, status
>>> _ = leanorm.connect("local://:memory:")
>>> ann = User.signup(username="ann", password="pw")
>>> bob = User.signup(username="bob", password="pw")
>>> with as_user(ann):
...     sent = status.send_private({"message": "lunch?"}, bob)
>>> with as_user(bob):
...     status.unread_count(inbox_type="private")
...     [(s.data["message"], s.source_id == ann.id) for s in status.inbox(inbox_type="private")]
...     status.reset_unread_count(inbox_type="private")
...     status.unread_count(inbox_type="private")
StatusCount(total=1, unread=1)
[('lunch?', True)]
StatusCount(total=1, unread=0)
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional

import arrow

from . import auth_context
from .config import get_client
from .protocol.encoding import decode, decode_date, encode
from .protocol.encoding import pointer as wire_pointer
from .errors import LeanORMError

if TYPE_CHECKING:  # pragma: no cover
    from .auth import User
    from .client import Client
    from .query.queryset import QuerySet

__all__ = ["Status", "StatusCount", "send", "send_to_followers", "send_private", "inbox", "unread_count",
           "reset_unread_count", "delete", "delete_from_inbox"]

DEFAULT_INBOX = "default"
PRIVATE_INBOX = "private"


class StatusCount(NamedTuple):
    """How many statuses an inbox holds, and how many of them are unread."""

    total: int
    unread: int


@dataclasses.dataclass
class Status:
    """One status: its ``data`` (decoded), who published it, and where it sits in an inbox."""

    id: str
    data: Dict[str, Any]
    source_id: Optional[str]
    inbox_type: str
    created_at: Optional[arrow.Arrow] = None
    #: the entry's position in the inbox it was read from (None for a status just sent)
    message_id: Optional[int] = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> "Status":
        data = {k: decode(v) for k, v in raw.items()
                if k not in ("objectId", "createdAt", "updatedAt", "ACL", "source", "inboxType", "messageId")}
        source = raw.get("source")
        return cls(id=raw["objectId"], data=data, source_id=source.get("objectId") if isinstance(source, dict) else None,
                   inbox_type=raw.get("inboxType", DEFAULT_INBOX),
                   created_at=decode_date(raw["createdAt"]) if raw.get("createdAt") else None,
                   message_id=raw.get("messageId"))


def _client(client: Optional["Client"]) -> "Client":
    client = get_client(client)
    client.require("statuses", "the status API")
    return client


def _checked(data: Mapping[str, Any], inbox_type: str) -> Dict[str, Any]:
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise LeanORMError("a status's data must be a mapping with string keys")
    if not isinstance(inbox_type, str) or not inbox_type:
        raise LeanORMError("inbox_type must be a non-empty string")
    return {k: encode(v) for k, v in data.items()}


def _owner(owner: Optional["User"]) -> Dict[str, str]:
    user = owner if owner is not None else auth_context.current_user()
    if user is None or not getattr(user, "id", None):
        raise LeanORMError("an inbox belongs to a saved user: pass owner= or act as a logged-in user")
    return wire_pointer("_User", str(user.id))


def _publish(client: "Client", data: Mapping[str, Any], query: Dict[str, Any], inbox_type: str) -> Status:
    body = {"data": _checked(data, inbox_type), "inboxType": inbox_type, "query": query}
    answer = client.request("POST", "statuses", body=body)
    sender = auth_context.current_user()
    return Status(id=answer["objectId"], data=dict(data), source_id=getattr(sender, "id", None),
                  inbox_type=inbox_type, created_at=decode_date(answer["createdAt"]))


def send(data: Mapping[str, Any], to: "QuerySet[Any]", inbox_type: str = DEFAULT_INBOX, *,
         client: Optional["Client"] = None) -> Status:
    """Publish ``data`` as the current user to the inboxes of the users ``to`` selects (a queryset of
    users, or of objects whose first pointer to ``_User`` names the recipient)."""
    client = _client(client)
    query = to.subquery(to._ctx(client))
    return _publish(client, data, query, inbox_type)


def send_to_followers(data: Mapping[str, Any], inbox_type: str = DEFAULT_INBOX, *,
                      client: Optional["Client"] = None) -> Status:
    """Publish ``data`` to the current user's followers."""
    me = _owner(None)
    query = {"className": "_Follower", "keys": "follower", "where": {"user": me}}
    return _publish(_client(client), data, query, inbox_type)


def send_private(data: Mapping[str, Any], user: "User", inbox_type: str = PRIVATE_INBOX, *,
                 client: Optional["Client"] = None) -> Status:
    """Publish ``data`` to one user's ``private`` inbox."""
    target = _owner(user)
    query = {"className": "_User", "where": {"objectId": target["objectId"]}}
    return _publish(_client(client), data, query, inbox_type)


def inbox(owner: Optional["User"] = None, inbox_type: str = DEFAULT_INBOX, since_id: Optional[int] = None,
          max_id: Optional[int] = None, limit: int = 100, *, client: Optional["Client"] = None) -> List[Status]:
    """The statuses of ``owner``'s inbox (the current user's by default), newest first: those with a
    ``message_id`` above ``since_id`` and at most ``max_id``."""
    params: Dict[str, Any] = {"owner": _owner(owner), "inboxType": inbox_type, "limit": str(int(limit))}
    if since_id is not None:
        params["sinceId"] = str(int(since_id))
    if max_id is not None:
        params["maxId"] = str(int(max_id))
    answer = _client(client).request("GET", "subscribe/statuses", params)
    return [Status.from_wire(raw) for raw in answer["results"]]


def unread_count(owner: Optional["User"] = None, inbox_type: str = DEFAULT_INBOX, *,
                 client: Optional["Client"] = None) -> StatusCount:
    """How many statuses ``owner``'s inbox holds, and how many are unread."""
    answer = _client(client).request("GET", "subscribe/statuses/count",
                                     {"owner": _owner(owner), "inboxType": inbox_type})
    return StatusCount(total=int(answer["total"]), unread=int(answer["unread"]))


def reset_unread_count(owner: Optional["User"] = None, inbox_type: str = DEFAULT_INBOX, *,
                       client: Optional["Client"] = None) -> None:
    """Mark every status of ``owner``'s inbox read."""
    _client(client).request("POST", "subscribe/statuses/resetUnreadCount",
                      body={"owner": _owner(owner), "inboxType": inbox_type})


def delete(status: Status, *, client: Optional["Client"] = None) -> None:
    """Delete a status its sender published (or any, under ``using_master()``): it leaves every inbox."""
    _client(client).request("DELETE", f"statuses/{status.id}")


def delete_from_inbox(status: Status, owner: Optional["User"] = None, *,
                      client: Optional["Client"] = None) -> None:
    """Remove one entry (a status read from ``inbox()``) from ``owner``'s inbox."""
    if status.message_id is None:
        raise LeanORMError("only a status read from an inbox has a message_id to remove")
    _client(client).request("DELETE", "subscribe/statuses/inbox",
                            {"owner": _owner(owner), "inboxType": status.inbox_type,
                             "messageId": str(status.message_id)})
