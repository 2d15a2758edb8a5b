"""Live queries pass the read rules at the moment of each change (docs/security.md, "Live queries"):
the subscriber's ACL, the class-level permissions, protected fields, the roles it holds now, and a
session that still exists.

Each test that shows something is *not* sent writes a marker afterwards (an object of a class the
subscriber reads, on the same connection) and checks that the marker is the next message: events go
out in commit order, so nothing was sent in between."""
from __future__ import annotations

from typing import Any, Dict

from tests.live_socket import Socket
from tests.security.live_served import PUBLIC, api, served  # noqa: F401 (fixtures)
from tests.security.raw_http import Raw, unique
from tests.served import Served


def _own(user: Dict[str, Any]) -> Dict[str, Any]:
    return {user["objectId"]: {"read": True, "write": True}}


def _listener(served: Served, user: Dict[str, Any], class_name: str, **query: Any) -> Socket:
    """A connection of ``user`` subscribed to ``class_name`` (request 1) and to a marker class (request 2)."""
    socket = Socket(served, sessionToken=user["sessionToken"])
    assert socket.connected["op"] == "connected", socket.connected
    assert socket.subscribe(1, class_name, {}, **query)["op"] == "subscribed"
    assert socket.subscribe(2, "LiveMarker", {})["op"] == "subscribed"
    return socket


def _next_is_marker(api: Raw, socket: Socket) -> None:
    marker = api.ok("POST", "classes/LiveMarker", {"ACL": PUBLIC})
    message = socket.next()
    assert (message["op"], message["requestId"], message["object"]["objectId"]) == \
        ("create", 2, marker["objectId"]), message


def test_an_object_the_subscriber_may_not_read_is_never_sent(api: Raw, served: Served) -> None:
    reader, owner = api.signup(), api.signup()
    class_name = unique("LiveAcl")
    socket = _listener(served, reader, class_name)
    api.ok("POST", f"classes/{class_name}", {"secret": "s", "ACL": _own(owner)}, session=owner["sessionToken"])
    _next_is_marker(api, socket)
    mine = api.ok("POST", f"classes/{class_name}", {"ACL": _own(reader)}, session=reader["sessionToken"])
    assert socket.next()["object"]["objectId"] == mine["objectId"]
    socket.close()


def test_losing_read_access_is_a_leave_showing_only_what_it_could_read(api: Raw, served: Served) -> None:
    reader, owner = api.signup(), api.signup()
    class_name = unique("LiveLeave")
    obj = api.ok("POST", f"classes/{class_name}", {"secret": "old", "ACL": {**_own(owner), "*": {"read": True}}},
                 session=owner["sessionToken"])
    socket = _listener(served, reader, class_name)
    api.ok("PUT", f"classes/{class_name}/{obj['objectId']}", {"secret": "new", "ACL": _own(owner)},
           session=owner["sessionToken"])
    leave = socket.next()
    assert (leave["op"], leave["object"]["objectId"], leave["object"]["secret"]) == ("leave", obj["objectId"], "old")
    assert "new" not in str(leave)
    api.ok("PUT", f"classes/{class_name}/{obj['objectId']}", {"secret": "newer"}, session=owner["sessionToken"])
    _next_is_marker(api, socket)
    socket.close()


def test_class_level_permissions_refuse_the_subscription_and_apply_at_each_change(api: Raw, served: Served) -> None:
    reader, owner = api.signup(), api.signup()
    closed, opened = unique("LiveClpClosed"), unique("LiveClpLater")
    only_owner = {"find": {owner["objectId"]: True}, "get": {owner["objectId"]: True}, "create": {"*": True},
                  "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}, "count": {"*": True}}
    api.ok("POST", f"classes/{closed}", {"ACL": PUBLIC})
    api.ok("PUT", f"schemas/{closed}", {"classLevelPermissions": only_owner}, master=True)
    socket = Socket(served, sessionToken=reader["sessionToken"])
    refused = socket.subscribe(1, closed, {})
    assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 119, 1)
    socket.close()

    api.ok("POST", f"classes/{opened}", {"ACL": PUBLIC})
    socket = _listener(served, reader, opened)
    api.ok("PUT", f"schemas/{opened}", {"classLevelPermissions": only_owner}, master=True)
    api.ok("POST", f"classes/{opened}", {"ACL": PUBLIC})
    _next_is_marker(api, socket)
    socket.close()


def test_protected_fields_are_hidden_and_cannot_be_queried_or_watched(api: Raw, served: Served) -> None:
    reader = api.signup()
    class_name = unique("LiveProtected")
    api.ok("POST", f"classes/{class_name}", {"secret": "x", "ACL": PUBLIC})
    api.ok("PUT", f"schemas/{class_name}", {"classLevelPermissions": {
        "find": {"*": True}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True}, "delete": {"*": True},
        "addField": {"*": True}, "count": {"*": True}, "protectedFields": {"*": ["secret"]}}}, master=True)
    socket = _listener(served, reader, class_name)
    created = api.ok("POST", f"classes/{class_name}", {"secret": "hidden", "title": "t", "ACL": PUBLIC})
    event = socket.next()
    assert event["object"]["objectId"] == created["objectId"] and event["object"]["title"] == "t"
    assert "secret" not in event["object"] and "hidden" not in str(event)
    by_secret = socket.subscribe(3, class_name, {"secret": "hidden"})
    watching = socket.subscribe(4, class_name, {}, )
    assert (by_secret["op"], by_secret["code"]) == ("error", 119)
    socket.send({"op": "subscribe", "requestId": 5, "query": {"className": class_name, "where": {},
                                                              "watch": ["secret"]}})
    watched = socket.next()
    assert watching["op"] == "subscribed" and (watched["op"], watched["code"]) == ("error", 119)
    socket.close()


def test_a_role_grants_and_withdraws_access_from_the_next_change_on(api: Raw, served: Served) -> None:
    reader = api.signup()
    role_name, class_name = unique("Editors"), unique("LiveRole")
    role = api.ok("POST", "roles", {"name": role_name, "ACL": {"*": {"read": True}}}, master=True)
    acl = {f"role:{role_name}": {"read": True}, "*": {"write": True}}
    socket = _listener(served, reader, class_name)
    obj = api.ok("POST", f"classes/{class_name}", {"n": 1, "ACL": acl})
    _next_is_marker(api, socket)
    member = {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User",
                                                   "objectId": reader["objectId"]}]}
    api.ok("PUT", f"roles/{role['objectId']}", {"users": member}, master=True)
    api.ok("PUT", f"classes/{class_name}/{obj['objectId']}", {"n": 2})
    granted = socket.next()
    assert (granted["requestId"], granted["object"]["objectId"], granted["object"]["n"]) == (1, obj["objectId"], 2)
    api.ok("PUT", f"roles/{role['objectId']}", {"users": {**member, "__op": "RemoveRelation"}}, master=True)
    api.ok("PUT", f"classes/{class_name}/{obj['objectId']}", {"n": 3})
    _next_is_marker(api, socket)
    socket.close()


def test_a_logout_ends_the_subscriptions_of_its_session(api: Raw, served: Served) -> None:
    reader = api.signup()
    class_name = unique("LiveLogout")
    socket = _listener(served, reader, class_name)
    api.ok("POST", "logout", {}, session=reader["sessionToken"])
    api.ok("POST", f"classes/{class_name}", {"ACL": PUBLIC})
    ended = [socket.next(), socket.next()]
    assert sorted((m["op"], m["code"], m["requestId"]) for m in ended) == [("error", 209, 1), ("error", 209, 2)]
    socket.send({"op": "unsubscribe", "requestId": 1})
    assert socket.next()["code"] == 2  # the subscription is gone: nothing more reaches it
    socket.close()


def test_an_expired_session_ends_its_subscriptions(api: Raw, served: Served) -> None:
    reader = api.signup()
    class_name = unique("LiveExpiry")
    socket = _listener(served, reader, class_name)
    served.sql("UPDATE _sessions SET expires_at = '2000-01-01T00:00:00.000Z' WHERE token = ?",  # time runs out
               (reader["sessionToken"],))
    api.ok("POST", f"classes/{class_name}", {"ACL": PUBLIC})
    ended = [socket.next(), socket.next()]
    assert sorted((m["op"], m["code"]) for m in ended) == [("error", 209), ("error", 209)]
    assert "object" not in str(ended)
    socket.close()
