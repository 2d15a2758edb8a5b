"""Cloud code's live query triggers on the embedded server (Parse Server's beforeConnect, beforeSubscribe,
afterLiveQueryEvent): declared on an Engine, called by the live server through its cloud code entry.

As in test_live_queries.py, where a test shows that something is *not* sent, it makes a write that must
be sent afterwards (a marker) and checks that the marker's event is the next message."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Dict, Iterator, List, Optional

import pytest

from leanorm import IntegerField, Model, StringField
from leanorm.embedded import EmbeddedServer, LiveLimits
from leanorm.engine import Engine, LiveConnectRequest, LiveEventRequest, LiveSubscribeRequest, reject

APP = {"app_id": "trig-app", "app_key": "trig-key", "master_key": "trig-master"}
HEADERS = {"X-Parse-Application-Id": "trig-app", "X-Parse-REST-API-Key": "trig-key"}
MASTER = {**HEADERS, "X-Parse-Master-Key": "trig-master"}


class Memo(Model):
    title = StringField()
    team = StringField()
    secret = StringField()
    rank = IntegerField()


def _call(server: EmbeddedServer, method: str, path: str, body: Any = None,
          headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    resp = server.handle(method, "/parse/" + path, headers=headers or HEADERS,
                         body=None if body is None else json.dumps(body).encode())
    assert resp.status < 300, resp.body
    answer: Dict[str, Any] = json.loads(resp.body)
    return answer


async def _write(server: EmbeddedServer, body: Dict[str, Any], class_name: str = "Memo") -> Dict[str, Any]:
    return await asyncio.to_thread(_call, server, "POST", f"classes/{class_name}", body)


def _run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def _serve(engine: Engine, **limits: Any) -> EmbeddedServer:
    return EmbeddedServer(":memory:", engine=engine, live_limits=LiveLimits(**limits), **APP)


@pytest.fixture()
def engine() -> Engine:
    return Engine()


async def _open(server: EmbeddedServer, **extra: Any) -> Any:
    live = server.live_connection()
    await live.send({"op": "connect", "applicationId": "trig-app", "javascriptKey": "trig-key", **extra})
    return live


async def _connected(server: EmbeddedServer, **extra: Any) -> Any:
    live = await _open(server, **extra)
    answer = await live.receive()
    assert answer["op"] == "connected", answer
    return live


async def _subscribe(live: Any, request_id: int, where: Dict[str, Any], class_name: str = "Memo",
                     **query: Any) -> Dict[str, Any]:
    await live.send({"op": "subscribe", "requestId": request_id,
                     "query": {"className": class_name, "where": where, **query}})
    answer: Dict[str, Any] = await live.receive()
    return answer


def test_before_subscribe_narrows_the_where_and_sees_who_subscribes(engine: Engine) -> None:
    seen: List[LiveSubscribeRequest] = []

    @engine.before_subscribe(Memo)
    def only_red(request: LiveSubscribeRequest) -> None:
        seen.append(request)
        request.narrow(Memo.objects.filter(team="red"))
        request.keys = ["title", "team"]

    server = _serve(engine)

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server, installationId="inst-1")
        assert (await _subscribe(live, 1, {"rank": {"$gte": 1}}))["op"] == "subscribed"
        await _write(server, {"title": "blue one", "team": "blue", "rank": 5, "secret": "s"})
        await _write(server, {"title": "red zero", "team": "red", "rank": 0})
        await _write(server, {"title": "red one", "team": "red", "rank": 3, "secret": "s"})
        events = [await live.receive()]
        await live.close()
        return events

    try:
        events = _run(scenario())
    finally:
        server.close()
    assert [(e["op"], e["object"]["title"]) for e in events] == [("create", "red one")]
    assert "secret" not in events[0]["object"] and "rank" not in events[0]["object"]
    assert (seen[0].class_name, seen[0].where, seen[0].installation_id, seen[0].user) == (
        "Memo", {"$and": [{"rank": {"$gte": 1}}, {"team": "red"}]}, "inst-1", None)


def test_before_subscribe_refuses_with_its_code_or_141_and_no_subscription_is_made(engine: Engine) -> None:
    @engine.before_subscribe(Memo)
    def refuse(request: LiveSubscribeRequest) -> None:
        if request.where.get("team") == "gold":
            reject("gold is not for you", 119)
        if request.where.get("team") == "lead":
            raise RuntimeError("a bug in the trigger")

    server = _serve(engine)

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        answers = [await _subscribe(live, 1, {"team": "gold"}), await _subscribe(live, 2, {"team": "lead"}),
                   await _subscribe(live, 3, {"team": "tin"})]
        await _write(server, {"title": "gold", "team": "gold"})
        await _write(server, {"title": "lead", "team": "lead"})
        await _write(server, {"title": "marker", "team": "tin"})
        answers.append(await live.receive())
        await live.close()
        return answers

    try:
        answers = _run(scenario())
    finally:
        server.close()
    assert [(a["op"], a.get("code"), a.get("error"), a["requestId"]) for a in answers[:3]] == [
        ("error", 119, "gold is not for you", 1), ("error", 141, "Cloud Code script had an error.", 2),
        ("subscribed", None, None, 3)]
    assert (answers[3]["op"], answers[3]["requestId"], answers[3]["object"]["title"]) == ("create", 3, "marker")


def test_a_trigger_cannot_widen_a_subscription_past_what_the_subscriber_may_query(engine: Engine) -> None:
    @engine.before_subscribe(Memo)
    def by_secret(request: LiveSubscribeRequest) -> None:
        request.where = {"secret": "x"}

    server = _serve(engine)
    _call(server, "POST", "classes/Memo", {"title": "made"}, MASTER)
    _call(server, "PUT", "schemas/Memo", {"classLevelPermissions": {
        "find": {"*": True}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True},
        "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": ["secret"]}}}, MASTER)

    async def scenario() -> Dict[str, Any]:
        live = await _connected(server)
        answer = await _subscribe(live, 1, {})
        await live.close()
        return answer

    try:
        answer = _run(scenario())
    finally:
        server.close()
    assert (answer["op"], answer["code"], answer["requestId"]) == ("error", 119, 1)


def test_before_connect_refuses_and_sees_the_user_of_a_known_token(engine: Engine) -> None:
    seen: List[LiveConnectRequest] = []

    @engine.before_connect
    def gate(request: LiveConnectRequest) -> None:
        seen.append(request)
        if request.installation_id == "banned" or request.session_token == "testToken":
            raise RuntimeError("refused")  # a plain exception: 141
        if request.user is not None and request.user.username == "mallory":
            reject("not allowed to connect", 141)

    server = _serve(engine)
    alice = _call(server, "POST", "users", {"username": "alice", "password": "pw-alice"})
    mallory = _call(server, "POST", "users", {"username": "mallory", "password": "pw-mallory"})

    async def answer(**extra: Any) -> Dict[str, Any]:
        live = await _open(server, **extra)
        first: Dict[str, Any] = await live.receive()
        if first["op"] != "connected":  # not connected: a subscribe is refused as before any connect
            assert (await _subscribe(live, 1, {}))["code"] == 2
        await live.close()
        return first

    async def scenario() -> List[Dict[str, Any]]:
        return [await answer(sessionToken=alice["sessionToken"]), await answer(sessionToken=mallory["sessionToken"]),
                await answer(installationId="banned"), await answer(sessionToken="testToken"),
                await answer(sessionToken="r:unknown")]

    try:
        answers = _run(scenario())
    finally:
        server.close()
    assert [(a["op"], a.get("code"), a.get("error")) for a in answers] == [
        ("connected", None, None), ("error", 141, "not allowed to connect"),
        ("error", 141, "Cloud Code script had an error."), ("error", 141, "Cloud Code script had an error."),
        ("error", 209, "Invalid session token.")]
    assert all(a.get("requestId") is None for a in answers)
    # the trigger ran before the server refused the unknown token, with no user
    assert [(r.user.username if r.user else None, r.session_token) for r in seen] == [
        ("alice", alice["sessionToken"]), ("mallory", mallory["sessionToken"]), (None, None),
        (None, "testToken"), (None, "r:unknown")]


def test_after_live_query_event_drops_and_edits_events(engine: Engine) -> None:
    seen: List[str] = []

    @engine.after_live_query_event(Memo)
    def edit(request: LiveEventRequest) -> None:
        seen.append(request.event)
        if request.object.team == "hidden":
            request.send_event = False
        request.object.title = (request.object.title or "").upper()
        if request.original is not None:
            request.original.title = "was " + (request.original.title or "")

    server = _serve(engine)

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        assert (await _subscribe(live, 1, {}))["op"] == "subscribed"
        await _write(server, {"title": "quiet", "team": "hidden"})
        made = await _write(server, {"title": "loud", "team": "shown"})
        await asyncio.to_thread(_call, server, "PUT", f"classes/Memo/{made['objectId']}", {"rank": 2})
        events = [await live.receive(), await live.receive()]
        await live.close()
        return events

    try:
        events = _run(scenario())
    finally:
        server.close()
    assert [(e["op"], e["object"]["title"], e.get("original", {}).get("title")) for e in events] == [
        ("create", "LOUD", None), ("update", "LOUD", "was loud")]
    assert events[1]["object"]["rank"] == 2 and events[1]["object"]["objectId"]
    assert seen == ["create", "create", "update"]


def test_what_an_event_trigger_adds_still_passes_the_subscribers_read_filter(engine: Engine) -> None:
    @engine.after_live_query_event(Memo)
    def leak(request: LiveEventRequest) -> None:
        request.object.secret = "copied from elsewhere"  # a protected field: no subscriber but master sees it
        request.object.title = "edited"

    server = _serve(engine)
    _call(server, "POST", "classes/Memo", {"title": "made"}, MASTER)
    _call(server, "PUT", "schemas/Memo", {"classLevelPermissions": {
        "find": {"*": True}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True},
        "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": ["secret"]}}}, MASTER)

    async def scenario() -> List[Dict[str, Any]]:
        reader = await _connected(server)
        master = await _connected(server, masterKey="trig-master")
        assert (await _subscribe(reader, 1, {}))["op"] == "subscribed"
        assert (await _subscribe(master, 1, {}))["op"] == "subscribed"
        await _write(server, {"title": "new", "secret": "the secret"})
        events = [await reader.receive(), await master.receive()]
        await reader.close()
        await master.close()
        return events

    try:
        reader_event, master_event = _run(scenario())
    finally:
        server.close()
    assert reader_event["object"]["title"] == "edited" and "secret" not in reader_event["object"]
    assert master_event["object"]["title"] == "edited" and master_event["object"]["secret"] == "copied from elsewhere"


def test_a_slow_event_trigger_holds_back_only_its_own_connection(engine: Engine) -> None:
    release = threading.Event()

    @engine.after_live_query_event(Memo)
    def slow(request: LiveEventRequest) -> None:
        release.wait(20)

    server = _serve(engine, trigger_timeout=25)

    async def scenario() -> List[Dict[str, Any]]:
        waiting = await _connected(server)
        other = await _connected(server)
        assert (await _subscribe(waiting, 1, {}))["op"] == "subscribed"
        assert (await _subscribe(waiting, 2, {}, class_name="Plain"))["op"] == "subscribed"
        assert (await _subscribe(other, 1, {}, class_name="Plain"))["op"] == "subscribed"
        await _write(server, {"title": "held"})
        await _write(server, {"name": "after"}, class_name="Plain")
        heard = [await other.receive()]  # not stalled by the trigger that has not answered
        release.set()
        heard += [await waiting.receive(), await waiting.receive()]  # in commit order
        await waiting.close()
        await other.close()
        return heard

    try:
        heard = _run(scenario())
    finally:
        release.set()
        server.close()
    assert [(e["op"], e["requestId"], e["object"].get("title") or e["object"].get("name")) for e in heard] == [
        ("create", 1, "after"), ("create", 1, "held"), ("create", 2, "after")]


def test_an_event_trigger_past_its_time_sends_an_error_instead(engine: Engine) -> None:
    release = threading.Event()

    @engine.after_live_query_event(Memo)
    def stuck(request: LiveEventRequest) -> None:
        if request.object.title == "stuck":
            release.wait(20)

    server = _serve(engine, trigger_timeout=0.3)

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        assert (await _subscribe(live, 1, {}))["op"] == "subscribed"
        # the marker's class has no trigger: it waits behind the stuck event with no time limit of its own
        # (a marker with a trigger of its own had 0.3 s to be answered, short on a busy machine)
        assert (await _subscribe(live, 2, {}, class_name="Plain"))["op"] == "subscribed"
        await _write(server, {"title": "stuck"})
        await _write(server, {"name": "marker"}, class_name="Plain")
        heard = [await live.receive(), await live.receive()]
        await live.close()
        return heard

    try:
        heard = _run(scenario())
    finally:
        release.set()
        server.close()
    assert (heard[0]["op"], heard[0]["code"], heard[0]["requestId"]) == ("error", 141, 1)
    assert "did not answer" in heard[0]["error"]
    assert (heard[1]["op"], heard[1]["requestId"], heard[1]["object"]["name"]) == ("create", 2, "marker")


def test_leanclouds_subscribe_goes_through_the_same_before_subscribe(engine: Engine) -> None:
    """A trigger that narrows subscriptions for access is not gone around by LeanCloud's protocol."""
    @engine.before_subscribe(Memo)
    def only_red(request: LiveSubscribeRequest) -> None:
        if request.where.get("team") == "gold":
            reject("gold is not for you", 119)
        request.narrow({"team": "red"})

    server = _serve(engine)
    headers = {"X-LC-Id": "trig-app", "X-LC-Key": "trig-key", "Content-Type": "application/json"}

    def subscribe(where: Dict[str, Any]) -> Any:
        return server.handle("POST", "/1.1/LiveQuery/subscribe", headers=headers, body=json.dumps(
            {"id": "install-1", "query": {"className": "Memo", "where": where}}).encode())

    try:
        refused, made = subscribe({"team": "gold"}), subscribe({"rank": 1})
        with server.store.read() as conn:
            stored = [json.loads(q) for (q,) in conn.execute("SELECT query FROM _live_subscriptions")]
    finally:
        server.close()
    assert (refused.status, json.loads(refused.body)["code"]) == (400, 119)
    assert made.status == 200, made.body
    assert [q["where"] for q in stored] == [{"$and": [{"rank": 1}, {"team": "red"}]}]


def test_events_of_one_batch_of_changes_all_pass_through_after_live_query_event(engine: Engine) -> None:
    """The feed's reader queues each event while it reads the batch; the triggers' answers are finished
    (read filter, ``keys``) on the trigger threads at the same time. Neither may wait for the other: on
    the in-memory store, whose one connection is shared, the two waited for each other for ever."""
    @engine.after_live_query_event(Memo)
    def edit(request: LiveEventRequest) -> None:
        request.object.title = (request.object.title or "").upper()

    server = _serve(engine)

    async def scenario() -> List[Dict[str, Any]]:
        live = await _connected(server)
        assert (await _subscribe(live, 1, {}))["op"] == "subscribed"
        await asyncio.to_thread(_call, server, "POST", "batch", {"requests": [
            {"method": "POST", "path": "/parse/classes/Memo", "body": {"title": f"memo {n}"}} for n in range(60)]})
        events = [await live.receive() for _ in range(60)]
        await live.close()
        return events

    try:
        events = _run(scenario())
    finally:
        server.close()
    assert [e["object"]["title"] for e in events] == [f"MEMO {n}" for n in range(60)]
