"""Red-team pass on live queries (docs/security.md, "Live queries: red-team pass"), as attacks on a real
``leanorm serve`` over its Parse LiveQuery WebSocket and LeanCloud's realtime port.

Where a test shows that something is *not* sent, it then writes a marker the listener must hear and
checks that the marker's event is the next message: events go out in commit order."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List

import pytest

from leanorm.embedded.live.realtime_wire import CMD, decode, encode
from tests.live_socket import Socket
from tests.security.test_leancloud_live_query import Realtime, Rest
from tests.security.live_served import PUBLIC, api, served  # noqa: F401 (fixtures)
from tests.security.raw_http import Raw, unique
from tests.served import Served, serve

websockets_sync = pytest.importorskip("websockets.sync.client")
ConnectionClosed = pytest.importorskip("websockets.exceptions").ConnectionClosed

def _sub_queries(target: str, count: int) -> Dict[str, Any]:
    """A ``where`` of ``count`` sub-queries into ``target`` (each a different condition)."""
    return {"$or": [{f"f{i}": {"$inQuery": {"className": target, "where": {"n": {"$gt": -i}}}}}
                    for i in range(count)]}


def _marker_heard(api: Raw, socket: Socket, class_name: str, request_id: int) -> None:
    marker = api.ok("POST", f"classes/{class_name}", {"ACL": PUBLIC})
    message = socket.next()
    assert (message["op"], message["requestId"], message["object"]["objectId"]) == \
        ("create", request_id, marker["objectId"]), message


def test_subscriptions_within_their_budget_do_not_break_delivery_for_everyone(api: Raw, served: Served) -> None:
    """Each subscription's ``where`` was within a request's budget when it was made; at a change the
    reader compiled the sub-query ``where`` of every subscriber reading as the same caller (every
    anonymous one) against ONE budget, so two anonymous subscriptions of 40 sub-queries went over it,
    the whole batch failed, and every live connection of the server was closed ("changes were missed")
    — at every write, by any client holding the app key."""
    watched, target, chat = unique("LiveWatched"), unique("LiveTarget"), unique("LiveChat")
    api.ok("POST", f"classes/{target}", {"n": 1, "ACL": PUBLIC})
    bystander = Socket(served)
    assert bystander.subscribe(1, chat, {})["op"] == "subscribed"
    attackers: List[Socket] = []
    for _ in range(2):
        attacker = Socket(served)
        assert attacker.subscribe(1, watched, _sub_queries(target, 40))["op"] == "subscribed"
        attackers.append(attacker)
    api.ok("POST", f"classes/{watched}", {"ACL": PUBLIC})
    _marker_heard(api, bystander, chat, 1)
    for listener in (*attackers, bystander):
        listener.close()


def test_seventeen_subscribers_searching_by_regex_do_not_break_delivery(api: Raw, served: Served) -> None:
    """The ``where`` of every subscription of a class that reads only the object were compiled together
    against one request's budget: the 17th subscriber with a ``$regex`` (a search box, 17 users) went
    over its 16, and every live connection of the server was closed at each change of that class."""
    watched, chat = unique("LiveSearched"), unique("LiveChat")
    bystander = Socket(served)
    assert bystander.subscribe(1, chat, {})["op"] == "subscribed"
    searchers = [Socket(served) for _ in range(17)]
    for number, searcher in enumerate(searchers):
        assert searcher.subscribe(1, watched, {"title": {"$regex": f"^{number}"}})["op"] == "subscribed"
    api.ok("POST", f"classes/{watched}", {"title": "3 ducks", "ACL": PUBLIC})
    message = searchers[3].next()
    assert (message["op"], message["object"]["title"]) == ("create", "3 ducks"), message
    _marker_heard(api, bystander, chat, 1)
    for listener in (*searchers, bystander):
        listener.close()


def test_a_subscription_over_the_budget_is_answered_an_error_and_the_connection_goes_on(
        api: Raw, served: Served) -> None:
    """A ``where`` over a request's budget was an uncaught error: the connection was closed without a
    word, instead of the subscription being refused with 102 naming the bound."""
    chat, target = unique("LiveChat"), unique("LiveTarget")
    api.ok("POST", f"classes/{target}", {"n": 1, "ACL": PUBLIC})
    socket = Socket(served)
    answer = socket.subscribe(1, chat, _sub_queries(target, 65))
    assert (answer["op"], answer["code"], answer["requestId"]) == ("error", 102, 1), answer
    assert "64 sub-queries" in answer["error"]
    assert socket.subscribe(2, chat, {})["op"] == "subscribed"
    _marker_heard(api, socket, chat, 2)
    socket.close()


def test_the_subscriptions_of_a_connection_share_one_budget(api: Raw, served: Served) -> None:
    """Every subscription's ``where`` runs again at every change of its class: a connection's
    subscriptions together ask what one request may, so 100 subscriptions of 60 sub-queries each (6,000
    scans of another class per change, from one socket) are refused past the first."""
    chat, target = unique("LiveChat"), unique("LiveTarget")
    api.ok("POST", f"classes/{target}", {"n": 1, "ACL": PUBLIC})
    socket = Socket(served)
    assert socket.subscribe(1, chat, _sub_queries(target, 60))["op"] == "subscribed"
    answer = socket.subscribe(2, chat, _sub_queries(target, 10))
    assert (answer["op"], answer["code"], answer["requestId"]) == ("error", 102, 2), answer
    assert "a live connection's (or LeanCloud installation's) subscriptions together may have at most 64" \
        in answer["error"]
    # replacing a subscription frees what it held
    assert socket.subscribe(1, chat, {})["op"] == "subscribed"
    assert socket.subscribe(2, chat, _sub_queries(target, 60))["op"] == "subscribed"
    socket.close()


def test_deleting_every_user_ends_their_subscriptions(tmp_path: Any) -> None:
    """``purge/_User`` deletes users but not their sessions' rows; the REST API refuses their tokens
    (209: a session whose user is gone), but the live reader checked only that the session row was
    there and went on sending a deleted user what its ACLs had granted it."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1") as running:
        api = Raw(running, "parse")
        user = api.signup()
        watched = unique("LivePurged")
        socket = Socket(running, sessionToken=user["sessionToken"])
        assert socket.subscribe(1, watched, {})["op"] == "subscribed"
        api.ok("DELETE", "purge/_User", master=True)
        assert api.call("GET", "users/me", session=user["sessionToken"])[1]["code"] == 209
        api.ok("POST", f"classes/{watched}", {"ACL": {user["objectId"]: {"read": True}}}, master=True)
        message = socket.next()
        assert (message["op"], message["code"], message["requestId"]) == ("error", 209, 1), message
        socket.close()


def _rows(served: Served, class_name: str, count: int) -> None:
    """``count`` readable objects of ``class_name`` (made by the API once, then copied in SQL: many
    thousands through the API would take minutes, and the change feed does not need them)."""
    if served.store_url is not None:
        pytest.skip("rows are copied in SQLite's dialect")
    Raw(served, "parse").ok("POST", f"classes/{class_name}", {"n": 0, "ACL": PUBLIC})
    served.sql(f'WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {count - 1}) '
               f'INSERT INTO "c_{class_name}" SELECT \'row\' || i, createdAt, updatedAt, acl, '
               f'\'{{"n":\' || i || \'}}\' FROM k, (SELECT * FROM "c_{class_name}" LIMIT 1)')


def test_subscriptions_whose_sub_queries_cost_too_much_per_change_are_ended(api: Raw, served: Served) -> None:
    """A subscription's sub-queries read another class again at every change of its own: 60 of them
    over 50,000 rows held the change feed's reader (which every subscriber of the process waits for)
    for seconds per change, and a client holds 256 such connections. The subscriptions with
    sub-queries of one client address are matched within ``match_seconds`` (0.1 s) per change; past
    it they end with 124, and the others go on being served."""
    watched, target, chat = unique("LiveWatched"), unique("LiveTarget"), unique("LiveChat")
    _rows(served, target, 50_000)
    bystander = Socket(served)
    assert bystander.subscribe(1, chat, {})["op"] == "subscribed"
    attacker = Socket(served)
    assert attacker.subscribe(1, watched, _sub_queries(target, 60))["op"] == "subscribed"
    api.ok("POST", f"classes/{watched}", {"ACL": PUBLIC})
    ended = attacker.next()
    assert (ended["op"], ended["code"], ended["requestId"]) == ("error", 124, 1), ended
    assert "0.1 s" in ended["error"]
    _marker_heard(api, bystander, chat, 1)
    api.ok("POST", f"classes/{watched}", {"ACL": PUBLIC})  # the ended subscription costs nothing more
    assert attacker.subscribe(2, chat, {})["op"] == "subscribed"
    _marker_heard(api, attacker, chat, 2)
    for listener in (attacker, bystander):
        listener.close()


def test_a_connection_that_does_not_read_holds_a_bounded_number_of_bytes(api: Raw, served: Served) -> None:
    """Unread messages were bounded by their number only (1,000): an event carries its object twice,
    and objects were not bounded in size (now 1 MiB), so ten 2 MB updates watched by ten sockets that never
    read grew the server by 500 MB (a client holds 256 sockets). Past ``max_pending_bytes`` (4 MiB) the
    connection is told (155) and closed, as past 1,000 messages."""
    watched = unique("LiveBig")
    thing = api.ok("POST", f"classes/{watched}", {"blob": "", "ACL": PUBLIC})
    # the client library stops reading the socket while one message waits in it: nothing is read here
    # until the updates are made
    with websockets_sync.connect(f"ws://127.0.0.1:{served.port}/parse", max_queue=1, max_size=None) as stalled:
        stalled.send(json.dumps({"op": "connect", "applicationId": served.app_id, "javascriptKey": served.app_key}))
        assert json.loads(stalled.recv(timeout=20))["op"] == "connected"
        stalled.send(json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": watched, "where": {}}}))
        assert json.loads(stalled.recv(timeout=20))["op"] == "subscribed"
        blob = "x" * 900 * 1024  # within the bound on one object (1 MiB as stored)
        for number in range(12):
            api.ok("PUT", f"classes/{watched}/{thing['objectId']}", {"blob": f"{number}{blob}"})
        received = []
        with pytest.raises(ConnectionClosed):
            while True:
                received.append(json.loads(stalled.recv(timeout=20)))
    assert [m["op"] for m in received[:-1]] == ["update"] * (len(received) - 1)
    assert len(received) - 1 < 12
    assert (received[-1]["op"], received[-1]["code"]) == ("error", 155), received[-1]
    assert "4194304 bytes" in received[-1]["error"]


def test_behind_a_trusted_proxy_the_realtime_port_counts_each_client_apart(tmp_path: Any) -> None:
    """The realtime port (LeanCloud LiveQuery) counted its per-address bound by the socket's peer even
    with ``--trust-proxy``: behind the proxy that is the proxy, so one client opening 256 connections
    (per worker) shut every other client's live queries out. It counts by ``X-Forwarded-For`` there, as
    the HTTP port does."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--trust-proxy", "--realtime-port", "0",
               "--live-connections-per-address", "2") as running:
        port = running.realtime_port
        assert port is not None
        def opened(client: str) -> Any:
            ws = websockets_sync.connect(f"ws://127.0.0.1:{port}/", subprotocols=["lc.protobuf2.3"],
                                         additional_headers={"X-Forwarded-For": f"203.0.113.9, {client}"}).__enter__()
            ws.send(encode({"cmd": CMD["login"], "appId": running.app_id, "installationId": client, "service": 1,
                            "i": 1}))
            return ws, decode(ws.recv(timeout=15))

        held = [opened("198.51.100.1") for _ in range(2)]
        assert [answer["cmd"] for _, answer in held] == [CMD["loggedin"]] * 2
        other, answer = opened("198.51.100.2")
        assert answer["cmd"] == CMD["loggedin"], answer
        with pytest.raises(ConnectionClosed) as refused:
            opened("198.51.100.1")
        assert "Too many live connections from 198.51.100.1" in str(refused.value)
        for ws in (other, *(ws for ws, _ in held)):
            ws.close()


def test_a_realtime_connection_hears_at_most_its_bound_of_subscriptions(tmp_path: Any) -> None:
    """An installation holds ``--live-subscriptions`` subscriptions and a realtime connection logs in
    as many installations, so one socket heard the square of the bound (10,000 by default), and every
    socket logging in the same ids heard them all again: the reader loaded and matched millions per
    batch. A connection hears the oldest ``--live-subscriptions`` of its installations', as a Parse
    connection holds that many, and is told (155) that the others are not heard."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--realtime-port", "0",
               "--live-subscriptions", "3") as running:
        port = running.realtime_port
        assert port is not None
        rest, watched = Rest(running), unique("LiveMany")
        installations = [str(uuid.uuid4()) for _ in range(2)]
        query_ids = [rest.subscribe(installation, watched, {"tag": {"$ne": f"t{number}"}})["query_id"]
                     for installation in installations for number in range(3)]
        realtime = Realtime(port)
        for installation in installations:
            assert realtime.login(installation, running.app_id)["cmd"] == CMD["loggedin"]
        first = rest.call("POST", f"classes/{watched}", {"ACL": PUBLIC}, 201)
        second = rest.call("POST", f"classes/{watched}", {"ACL": PUBLIC}, 201)
        frames = realtime.pending + [realtime._receive() for _ in range(5 - len(realtime.pending))]
        told, heard = frames[0], [json.loads(f["dataMessage"]["msg"][0]["data"]) for f in frames[1:]]
        assert (told["cmd"], told["errorMessage"]["code"]) == (CMD["error"], 155), told
        assert "at most 3 subscriptions" in told["errorMessage"]["reason"]
        assert [(e["query_id"], e["object"]["objectId"]) for e in heard[:3]] == \
            [(query_id, first["objectId"]) for query_id in query_ids[:3]]
        assert heard[3]["object"]["objectId"] == second["objectId"]
        realtime.close()


def test_live_messages_do_not_take_the_threads_requests_are_answered_on(tmp_path: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each live message (a subscribe: a session read, a compile, cloud code's ``beforeSubscribe``) ran
    on the thread pool that answers HTTP requests, and a reverse proxy limits requests, not a WebSocket's
    messages: two sockets whose subscriptions were being checked held both threads (``--threads 2``),
    and every request waited behind them. Live messages have threads of their own."""
    monkeypatch.setenv("LEANORM_TEST_HOLD_DIR", str(tmp_path))
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--threads", "2",
               "--engine", "tests.security.live_hold_engine:engine") as running:
        sockets = [Socket(running) for _ in range(2)]
        for socket_ in sockets:
            socket_.send({"op": "subscribe", "requestId": 1, "query": {"className": "LiveHeld", "where": {}}})
        for _ in range(2000):  # until both subscriptions are in their trigger (each writes a file there)
            if len(list(tmp_path.glob("held-*"))) == 2:
                break
            time.sleep(0.01)
        assert len(list(tmp_path.glob("held-*"))) == 2
        assert Raw(running, "parse").ok("GET", "classes/LiveHeld")["results"] == []
        for socket_ in sockets:  # the request was answered while both subscriptions were still held
            with pytest.raises(TimeoutError):
                socket_.ws.recv(timeout=0)
        (tmp_path / "release").touch()
        assert [socket_.next()["op"] for socket_ in sockets] == ["subscribed", "subscribed"]
        for socket_ in sockets:
            socket_.close()


def test_a_subscription_names_at_most_a_thousand_keys(api: Raw, served: Served) -> None:
    """``keys`` (and ``watch``) were walked whole for each event of each subscription: 100 subscriptions
    of 50,000 keys made every matching write cost 0.2 s per socket. They name at most 1,000 fields (a
    class holds no more from clients), and an event walks its object's fields, not the keys."""
    watched = unique("LiveKeys")
    socket_ = Socket(served)
    many = [f"k{number}" for number in range(1001)]
    for name in ("keys", "watch"):
        socket_.send({"op": "subscribe", "requestId": 1, "query": {"className": watched, "where": {}, name: many}})
        answer = socket_.next()
        assert (answer["op"], answer["code"]) == ("error", 102), answer
        assert f"{name} names at most 1000 fields" in answer["error"]
    socket_.send({"op": "subscribe", "requestId": 1,
                  "query": {"className": watched, "where": {}, "keys": many[:1000]}})
    assert socket_.next()["op"] == "subscribed"
    made = api.ok("POST", f"classes/{watched}", {"k7": 7, "other": 1, "ACL": PUBLIC})
    event = socket_.next()
    assert event["object"] == {"k7": 7, "objectId": made["objectId"], "createdAt": made["createdAt"],
                               "updatedAt": made["createdAt"], "ACL": PUBLIC, "className": watched}, event
    socket_.close()


def test_a_field_hidden_after_subscribing_is_no_oracle(api: Raw, served: Served) -> None:
    """A subscription's ``where`` was checked against the protected fields when it was made, then
    matched as the server reads: once ``salary`` was hidden, a find on it was refused (119) but the
    subscription kept telling its subscriber which objects had a salary over 100,000 (``create``, ``enter``,
    ``leave``). It now ends with the find's 119 at the first change it would have matched."""
    watched, chat = unique("LivePay"), unique("LiveChat")
    user = api.signup()
    socket_ = Socket(served, sessionToken=user["sessionToken"])
    assert socket_.subscribe(1, watched, {"salary": {"$gt": 100000}})["op"] == "subscribed"
    socket_.send({"op": "subscribe", "requestId": 2, "query": {"className": watched, "where": {}, "watch": ["salary"]}})
    assert socket_.next()["op"] == "subscribed"
    assert socket_.subscribe(3, chat, {})["op"] == "subscribed"
    api.ok("PUT", f"schemas/{watched}", {"classLevelPermissions": {
        **{op: {"*": True} for op in ("get", "find", "count", "create", "update", "delete", "addField")},
        "protectedFields": {"*": ["salary"]}}}, master=True)
    assert api.call("GET", f"classes/{watched}", params={"where": {"salary": {"$gt": 100000}}},
                    session=user["sessionToken"])[1]["code"] == 119
    api.ok("POST", f"classes/{watched}", {"salary": 200000, "ACL": PUBLIC})
    ended = sorted((m["op"], m["code"], m["requestId"]) for m in (socket_.next(), socket_.next()))
    assert ended == [("error", 119, 1), ("error", 119, 2)], ended
    _marker_heard(api, socket_, chat, 3)
    socket_.close()


def test_the_subscriptions_of_a_leancloud_installation_share_one_budget(api: Raw, served: Served) -> None:
    """LeanCloud's subscriptions are kept per installation: what their ``where``s ask together is one
    request's budget too (the same query again renews its subscription and costs nothing more)."""
    watched, target = unique("LiveWatched"), unique("LiveTarget")
    api.ok("POST", f"classes/{target}", {"n": 1, "ACL": PUBLIC})
    rest, installation = Rest(served), str(uuid.uuid4())
    rest.subscribe(installation, watched, _sub_queries(target, 40))
    rest.subscribe(installation, watched, _sub_queries(target, 40))  # renewed
    refused = rest.subscribe(installation, watched, {"other": _sub_queries(target, 30)["$or"][0]["f0"],
                                                      **_sub_queries(target, 29)}, expect=400)
    assert refused["code"] == 102 and "installation's) subscriptions together" in refused["error"], refused
    rest.subscribe(str(uuid.uuid4()), watched, _sub_queries(target, 40))  # another installation has its own


def test_behind_a_proxy_adding_its_own_header_line_the_client_can_not_choose_its_address(tmp_path: Any) -> None:
    """A proxy that adds its own ``X-Forwarded-For`` line after the client's (HAProxy's ``option
    forwardfor``) is read by the API as the last address; the Parse LiveQuery WebSocket took the first
    line, the client's own: a client naming a new address per socket had no bound on its sockets."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--trust-proxy",
               "--live-connections-per-address", "1") as running:
        def opened(chosen: str) -> Any:
            return websockets_sync.connect(f"ws://127.0.0.1:{running.port}/parse", additional_headers=[
                ("X-Forwarded-For", chosen), ("X-Forwarded-For", "198.51.100.7")]).__enter__()

        first = opened("203.0.113.1")
        first.send(json.dumps({"op": "connect", "applicationId": running.app_id, "javascriptKey": running.app_key}))
        assert json.loads(first.recv(timeout=20))["op"] == "connected"
        second = opened("203.0.113.2")  # a socket past the bound is answered as soon as it opens
        answer = json.loads(second.recv(timeout=20))
        assert (answer["op"], answer["code"]) == ("error", 155), answer
        assert "Too many live connections from 198.51.100.7" in answer["error"]
        for ws in (first, second):
            ws.close()
