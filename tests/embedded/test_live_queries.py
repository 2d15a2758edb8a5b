"""Live queries (Parse's LiveQuery protocol) on the embedded server: in-process (``live_connection``) and
over ``leanorm serve``'s WebSocket, across worker processes sharing one database file.

Where a test shows that something is *not* sent, it makes a write that must be sent afterwards (a
marker) and checks that the marker's event is the next message: events go out in commit order, so
nothing else was sent in between."""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
from websockets.exceptions import ConnectionClosed

import leanorm
from leanorm.embedded import EmbeddedServer, LiveLimits
from leanorm.engine import Engine, LiveSubscribeRequest
from leanorm.embedded.live import LiveConnectionClosed
from tests.live_socket import Socket, websockets_sync
from tests.models import Author, Org
from tests import postgresql
from tests.postgresql import STORES
from tests.served import Served, serve

APP = {"app_id": "live-app", "app_key": "live-key", "master_key": "live-master"}
HEADERS = {"X-Parse-Application-Id": "live-app", "X-Parse-REST-API-Key": "live-key"}


def _call(server: EmbeddedServer, method: str, path: str, body: Any = None) -> Dict[str, Any]:
    resp = server.handle(method, "/parse/" + path, headers=HEADERS,
                         body=None if body is None else json.dumps(body).encode())
    assert resp.status < 300, resp.body
    answer: Dict[str, Any] = json.loads(resp.body)
    return answer


def _run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.fixture()
def server() -> Iterator[EmbeddedServer]:
    running = EmbeddedServer(":memory:", **APP)
    yield running
    running.close()


async def _connected(server: EmbeddedServer, **extra: Any) -> Any:
    live = server.live_connection()
    await live.send({"op": "connect", "applicationId": "live-app", "javascriptKey": "live-key", **extra})
    assert (await live.receive())["op"] == "connected"
    return live


async def _subscribed(live: Any, request_id: int, class_name: str, where: Dict[str, Any], **query: Any) -> None:
    await live.send({"op": "subscribe", "requestId": request_id,
                     "query": {"className": class_name, "where": where, **query}})
    answer = await live.receive()
    assert answer["op"] == "subscribed" and answer["requestId"] == request_id, answer


def test_another_clients_writes_arrive_in_order_as_create_update_leave_enter_delete(server: EmbeddedServer) -> None:
    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        await _subscribed(live, 1, "Post", {"score": {"$gte": 5}})
        writer = asyncio.to_thread
        post = await writer(_call, server, "POST", "classes/Post", {"score": 5, "title": "a"})
        oid = post["objectId"]
        await writer(_call, server, "PUT", f"classes/Post/{oid}", {"score": 6})
        await writer(_call, server, "PUT", f"classes/Post/{oid}", {"score": 1})
        await writer(_call, server, "PUT", f"classes/Post/{oid}", {"score": {"__op": "Increment", "amount": 8}})
        await writer(_call, server, "DELETE", f"classes/Post/{oid}")
        events = [await live.receive() for _ in range(5)]
        await live.close()
        return events

    events = _run(scenario())
    assert [(e["op"], e["object"]["score"]) for e in events] == [
        ("create", 5), ("update", 6), ("leave", 1), ("enter", 9), ("delete", 9)]
    assert [e.get("original", {}).get("score") for e in events] == [None, 5, 6, 1, None]
    assert {e["object"]["className"] for e in events} == {"Post"}
    assert {e["requestId"] for e in events} == {1}


#: wheres across the query language: a live query must select exactly what a find selects
WHERES = [
    {"score": {"$gt": 2}}, {"score": {"$in": [1, 3]}}, {"title": {"$regex": "^b", "$options": "i"}},
    {"tags": "x"}, {"tags": {"$all": ["x", "y"]}}, {"meta.level": {"$gte": 2}}, {"missing": {"$exists": False}},
    {"$or": [{"score": 1}, {"title": "c"}]}, {"when": {"$lt": {"__type": "Date", "iso": "2020-06-01T00:00:00.000Z"}}},
    {"owner": {"__type": "Pointer", "className": "Owner", "objectId": "o1"}}, {"score": {"$ne": 2}},
    {"title": {"$nin": ["a"]}, "score": {"$lte": 3}},
    {"owner": {"$inQuery": {"where": {"vip": True}, "className": "Owner"}}},
]


def test_a_live_query_selects_exactly_what_a_find_selects(server: EmbeddedServer) -> None:
    master = {**HEADERS, "X-Parse-Master-Key": "live-master"}
    for oid, vip in (("o1", True), ("o2", False)):
        resp = server.handle("POST", "/parse/classes/Owner", headers=master,
                             body=json.dumps({"objectId": oid, "vip": vip}).encode())
        assert resp.status == 201, resp.body
    rows = [{"title": t, "score": n, "tags": tags, "meta": {"level": n}, "owner": {
        "__type": "Pointer", "className": "Owner", "objectId": f"o{n % 2 + 1}"},
        "when": {"__type": "Date", "iso": f"2020-0{n + 1}-01T00:00:00.000Z"}}
        for t, n, tags in (("a", 1, ["x"]), ("B", 2, ["x", "y"]), ("c", 3, []), ("bd", 4, ["y"]))]

    async def scenario() -> Dict[int, List[str]]:
        live = await _connected(server)
        for n, where in enumerate(WHERES):
            await _subscribed(live, n + 1, "Fidelity", where)
        await _subscribed(live, 999, "FidelityEnd", {})
        for row in rows:
            await asyncio.to_thread(_call, server, "POST", "classes/Fidelity", row)
        await asyncio.to_thread(_call, server, "POST", "classes/FidelityEnd", {})
        heard: Dict[int, List[str]] = {n + 1: [] for n in range(len(WHERES))}
        while True:
            event = await live.receive()
            if event["requestId"] == 999:
                break
            heard[event["requestId"]].append(event["object"]["objectId"])
        await live.close()
        return heard

    heard = _run(scenario())
    for n, where in enumerate(WHERES):
        resp = server.handle("GET", "/parse/classes/Fidelity", params={"where": json.dumps(where)}, headers=HEADERS)
        found = sorted(r["objectId"] for r in json.loads(resp.body)["results"])
        assert sorted(heard[n + 1]) == found, where
    assert any(heard.values()) and not all(len(v) == len(rows) for v in heard.values())


def test_batch_items_and_only_committed_writes_arrive(server: EmbeddedServer) -> None:
    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        await _subscribed(live, 1, "Task", {})
        requests_ = [{"method": "POST", "path": "/parse/classes/Task", "body": {"n": n}} for n in (1, 2)]
        failing = [*requests_, {"method": "PUT", "path": "/parse/classes/Task/missing", "body": {"n": 3}}]
        resp = await asyncio.to_thread(server.handle, "POST", "/parse/batch", headers=HEADERS,
                                       body=json.dumps({"requests": failing, "transaction": True}).encode())
        assert resp.status >= 400  # all or nothing: nothing was written
        await asyncio.to_thread(_call, server, "POST", "batch", {"requests": requests_})
        events = [await live.receive() for _ in range(2)]
        await live.close()
        return events

    assert [(e["op"], e["object"]["n"]) for e in _run(scenario())] == [("create", 1), ("create", 2)]


def test_hooks_changes_and_hooks_own_writes_arrive_as_stored() -> None:
    engine = Engine()

    @engine.before_save(Author)
    def named(author: Author) -> None:
        author.name = author.name.upper()

    @engine.after_save(Author)
    def counted(author: Author) -> None:
        Org.objects.create(name=f"org of {author.name}")

    client = leanorm.connect("local://:memory:", default=False, engine=engine)
    server = client.embedded_server
    assert server is not None
    headers = {"X-Parse-Application-Id": server.settings.app_id, "X-Parse-REST-API-Key": server.settings.app_key}

    async def scenario() -> List[Dict[str, Any]]:
        live = server.live_connection()
        await live.send({"op": "connect", "applicationId": server.settings.app_id,
                         "javascriptKey": server.settings.app_key})
        assert (await live.receive())["op"] == "connected"
        await _subscribed(live, 1, "Author", {})
        await _subscribed(live, 2, "Org", {})
        resp = await asyncio.to_thread(server.handle, "POST", "/parse/classes/Author", headers=headers,
                                       body=b'{"name": "ann"}')
        assert resp.status == 201, resp.body
        events = [await live.receive(), await live.receive()]
        await live.close()
        return events

    try:
        events = _run(scenario())
    finally:
        client.close()
    assert [(e["requestId"], e["op"], e["object"]["name"]) for e in events] == [
        (1, "create", "ANN"), (2, "create", "org of ANN")]


def test_keys_watch_and_several_subscriptions_on_one_connection(server: EmbeddedServer) -> None:
    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        await _subscribed(live, 1, "Item", {}, keys=["name"])
        await _subscribed(live, 2, "Item", {}, watch=["price"])
        item = await asyncio.to_thread(_call, server, "POST", "classes/Item", {"name": "a", "price": 1, "color": "red"})
        await asyncio.to_thread(_call, server, "PUT", f"classes/Item/{item['objectId']}", {"color": "blue"})
        await asyncio.to_thread(_call, server, "PUT", f"classes/Item/{item['objectId']}", {"price": 2})
        events = [await live.receive() for _ in range(5)]
        await live.close()
        return events

    events = _run(scenario())
    assert [(e["requestId"], e["op"]) for e in events] == [(1, "create"), (2, "create"), (1, "update"),
                                                            (1, "update"), (2, "update")]
    assert set(events[0]["object"]) == {"className", "objectId", "createdAt", "updatedAt", "name"}
    assert events[4]["object"]["price"] == 2 and events[4]["original"]["price"] == 1


def test_unsubscribe_and_close_end_delivery(server: EmbeddedServer) -> None:
    async def scenario() -> Dict[str, Any]:
        live = await _connected(server)
        await _subscribed(live, 1, "Note", {})
        await _subscribed(live, 2, "Marker", {})
        await live.send({"op": "unsubscribe", "requestId": 1})
        assert (await live.receive()) == {"op": "unsubscribed", "clientId": live._client.id, "requestId": 1}
        await asyncio.to_thread(_call, server, "POST", "classes/Note", {})
        await asyncio.to_thread(_call, server, "POST", "classes/Marker", {})
        marker = await live.receive()
        await live.close()
        with pytest.raises(LiveConnectionClosed):
            await live.receive()
        return marker

    assert _run(scenario())["requestId"] == 2


def test_malformed_and_unconnected_requests_are_answered_with_parses_errors(server: EmbeddedServer) -> None:
    async def scenario() -> List[Dict[str, Any]]:
        live = server.live_connection()
        await live.send({"op": "subscribe", "requestId": 1, "query": {"className": "A", "where": {}}})
        answers = [await live.receive()]
        await live.send({"op": "connect", "applicationId": "live-app", "javascriptKey": "live-key", "x": 1})
        answers.append(await live.receive())
        await live.send({"op": "connect", "applicationId": "live-app", "javascriptKey": "wrong"})
        answers.append(await live.receive())
        await live.send({"op": "dance"})
        answers.append(await live.receive())
        await live.close()
        return answers

    answers = _run(scenario())
    assert [(a["op"], a["code"], a["reconnect"]) for a in answers] == [
        ("error", 2, True), ("error", 1, True), ("error", 4, False), ("error", 1, True)]
    assert answers[1]["error"] == "Additional properties not allowed"


def test_in_process_bounds_are_the_apps_own() -> None:
    server = EmbeddedServer(":memory:", **APP, live_limits=LiveLimits(max_subscriptions=1,
                                                                      max_connections_per_address=1))

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        await _subscribed(live, 1, "A", {})
        await live.send({"op": "subscribe", "requestId": 2, "query": {"className": "A", "where": {}}})
        answers = [await live.receive()]
        second = server.live_connection()
        with pytest.raises(LiveConnectionClosed, match="at most 1"):
            await second.send({"op": "connect", "applicationId": "live-app", "javascriptKey": "live-key"})
        answers.append(await second.receive())
        await live.close()
        return answers

    try:
        answers = _run(scenario())
    finally:
        server.close()
    assert [(a["code"], a["requestId"]) for a in answers] == [(155, 2), (155, None)]


# -- over leanorm serve ------------------------------------------------------------------------------------
def _post(served: Served, class_name: str, body: Dict[str, Any]) -> Dict[str, Any]:
    # a new connection each time: with several workers, any of them may take it
    resp = requests.post(f"{served.base_url}/parse/classes/{class_name}", json=body, timeout=30,
                         headers={"X-Parse-Application-Id": served.app_id, "X-Parse-REST-API-Key": served.app_key,
                                  "Connection": "close"})
    assert resp.status_code == 201, resp.text
    answer: Dict[str, Any] = resp.json()
    return answer


@pytest.mark.parametrize("store", STORES)
def test_a_change_the_feed_delivered_while_a_subscription_was_being_made_is_heard(store: str) -> None:
    """A subscription hears every change committed after the feed position it was made at (``since``), or
    its subscriber could see a change neither in what it read nor as an event. Here ``beforeSubscribe``
    (between the two: the position is taken before it) writes an object and holds the subscription back
    until the feed's reader delivered that write to another subscriber: the batch holding it was then
    matched without the new subscription, which must still hear it, before anything later."""
    engine = Engine()
    delivered = threading.Event()

    @engine.before_subscribe("Race")
    def write_while_subscribing(request: LiveSubscribeRequest) -> None:
        if request.where.get("late"):
            _call(server, "POST", "classes/Race", {"during": True})
            assert delivered.wait(10), "the feed's reader did not deliver the write"

    database = postgresql.schema_url("live-registration") if store == "postgresql" else ":memory:"
    server = EmbeddedServer(database, engine=engine, **APP)

    async def scenario() -> List[Dict[str, Any]]:
        watcher, late = await _connected(server), await _connected(server)
        await _subscribed(watcher, 1, "Race", {})
        subscribing = asyncio.ensure_future(_subscribed(late, 2, "Race", {"late": {"$exists": False}}))
        heard = await watcher.receive()
        assert heard["object"]["during"] is True, heard
        delivered.set()
        await subscribing
        await asyncio.to_thread(_call, server, "POST", "classes/Race", {"after": True})
        events = [await late.receive()]
        while "after" not in events[-1]["object"]:  # the marker: what was not heard before it never is
            events.append(await late.receive())
        await watcher.close()
        await late.close()
        return events

    try:
        events = _run(scenario())
    finally:
        server.close()
    assert [(e["op"], sorted(k for k in ("during", "after") if k in e["object"])) for e in events] == [
        ("create", ["during"]), ("create", ["after"])]


@pytest.mark.parametrize("store", STORES)
def test_a_write_through_one_process_reaches_a_subscriber_on_another(tmp_path: Path, store: str) -> None:
    # two servers on one SQLite file (the subscriber's polls the feed), or two nodes on one PostgreSQL
    # database (the subscriber's hears the writer's NOTIFY)
    database = tmp_path / "shared.sqlite3"
    with serve(database, store=store) as first, serve(database, store=store) as second:
        socket = Socket(second, path="/")  # the Parse SDK's default is the server's root
        assert socket.connected["op"] == "connected"
        assert socket.subscribe(1, "Shared", {"n": {"$gt": 0}})["op"] == "subscribed"
        for n in (0, 1, 2):
            _post(first, "Shared", {"n": n})
        events = [socket.next(), socket.next()]
        socket.close()
    assert [(e["op"], e["object"]["n"]) for e in events] == [("create", 1), ("create", 2)]


def test_every_subscriber_of_a_two_worker_server_gets_every_write(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "2") as served:
        sockets = [Socket(served) for _ in range(6)]  # spread over both workers by the kernel
        for socket in sockets:
            assert socket.subscribe(1, "Fanout", {})["op"] == "subscribed"
        written = [_post(served, "Fanout", {"n": n})["objectId"] for n in range(4)]
        for socket in sockets:
            assert [socket.next()["object"]["objectId"] for _ in written] == written
            socket.close()


def test_serve_bounds_subscriptions_connections_and_message_size(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--live-subscriptions", "2",
               "--live-connections-per-address", "2") as served:
        first, second = Socket(served), Socket(served)
        assert [first.subscribe(n, "B", {})["op"] for n in (1, 2)] == ["subscribed", "subscribed"]
        refused = first.subscribe(3, "B", {})
        assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 155, 3)
        third = websockets_sync.connect(f"ws://127.0.0.1:{served.port}/parse").__enter__()
        answer = json.loads(third.recv(timeout=20))
        assert (answer["op"], answer["code"]) == ("error", 155)
        third.close()
        second.send({"op": "subscribe", "requestId": 1, "query": {"className": "B", "where": {"x": "y" * (1 << 20)}}})
        too_large = second.next()
        assert (too_large["op"], too_large["code"]) == ("error", 1) and "too large" in too_large["error"]
        first.close()
        second.close()


def test_behind_a_trusted_proxy_the_bound_per_address_counts_the_client_it_names(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--trust-proxy",
               "--live-connections-per-address", "1") as served:
        def first_answer(client: str) -> Dict[str, Any]:
            socket = websockets_sync.connect(f"ws://127.0.0.1:{served.port}/parse",
                                             additional_headers={"X-Forwarded-For": client}).__enter__()
            opened.append(socket)
            # a connection over the bound is answered its error and closed as soon as it opens: the
            # connect may find it closed already, the answer is still there to read
            with contextlib.suppress(ConnectionClosed):
                socket.send(json.dumps({"op": "connect", "applicationId": served.app_id,
                                        "javascriptKey": served.app_key}))
            answer: Dict[str, Any] = json.loads(socket.recv(timeout=20))
            return answer

        opened: List[Any] = []
        answers = [first_answer(client) for client in ("203.0.113.1", "203.0.113.2")]
        # every refused client reads why: the server must not close on a connect it has not read (a
        # reset can discard its answer unread; this lost about one refusal in twenty)
        refused = [first_answer("203.0.113.1") for _ in range(30)]
        for socket in opened:
            socket.close()
    assert [a["op"] for a in answers] == ["connected", "connected"]
    assert {(a["op"], a["code"], "203.0.113.1" in a["error"]) for a in refused} == {("error", 155, True)}


def test_a_socket_that_never_connects_is_closed_after_the_read_timeout(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--read-timeout", "1") as served:
        silent = websockets_sync.connect(f"ws://127.0.0.1:{served.port}/parse").__enter__()
        answer = json.loads(silent.recv(timeout=20))
        assert (answer["op"], answer["code"]) == ("error", 1) and "Not connected" in answer["error"]
        with pytest.raises(ConnectionClosed):
            silent.recv(timeout=20)
        connected = Socket(served)  # one that connects in time stays, however long it is then idle
        assert connected.connected["op"] == "connected"
        connected.close()


def test_a_connect_with_wrong_keys_or_an_unknown_session_is_refused(served: Served) -> None:
    wrong_key = Socket(served, javascriptKey="nope")
    unknown = Socket(served, sessionToken="r:nope")
    assert (wrong_key.connected["op"], wrong_key.connected["code"]) == ("error", 4)
    assert (unknown.connected["op"], unknown.connected["code"]) == ("error", 209)
    assert wrong_key.subscribe(1, "A", {})["code"] == 2  # still not connected
    wrong_key.close()
    unknown.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("live") / "app.sqlite3") as running:
        yield running



def test_a_subscription_hears_only_changes_committed_after_it_even_when_its_reader_is_behind(tmp_path: Path) -> None:
    # two servers on one file, as two workers of leanorm serve: the subscriber's reads the other's writes
    # a poll later (a second here), so a write committed just before the subscription is read after it
    database = str(tmp_path / "shared.sqlite3")
    writer = EmbeddedServer(database, **APP)
    reader = EmbeddedServer(database, **APP, live_limits=LiveLimits(poll_interval=1.0))

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(reader)
        await _subscribed(live, 1, "Early", {})           # the reader runs from here on
        await asyncio.sleep(1.5)                           # and has just polled: the next poll is a second away
        await asyncio.to_thread(_call, writer, "POST", "classes/Post", {"title": "before"})
        await _subscribed(live, 2, "Post", {})
        await asyncio.to_thread(_call, writer, "POST", "classes/Post", {"title": "after"})
        event = await live.receive()
        await live.close()
        return [event]

    try:
        events = _run(scenario())
    finally:
        reader.close()
        writer.close()
    assert [(e["op"], e["object"]["title"]) for e in events] == [("create", "after")]


def test_the_feeds_reader_outlives_a_store_that_fails_for_a_while(server: EmbeddedServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be read for a while (PostgreSQL restarting, a disk error: 503) must not end
    live queries for good: the reader tries again and the subscribers hear the writes made after."""
    from leanorm.embedded.answers import ProtocolError

    read_feed = server.store.changes_after
    failures = [ProtocolError(1, "The database cannot be read.", 503)] * 3

    def failing_for_a_while(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return read_feed(*args)

    async def scenario() -> Dict[str, Any]:
        live = await _connected(server)
        await _subscribed(live, 1, "Memo", {})
        monkeypatch.setattr(server.store, "changes_after", failing_for_a_while)
        await asyncio.to_thread(_call, server, "POST", "classes/Memo", {"title": "after the outage"})
        event: Dict[str, Any] = await live.receive()
        await live.close()
        return event

    event = _run(scenario())
    assert (event["op"], event["object"]["title"], failures) == ("create", "after the outage", [])
