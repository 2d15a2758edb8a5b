"""LeanCloud LiveQuery's rules (docs/security.md, "LeanCloud LiveQuery"), against ``leanorm serve
--realtime-port`` as a client sends them: ``POST /1.1/LiveQuery/subscribe`` over HTTP, then LeanCloud's
realtime commands over the WebSocket, in protobuf frames.

Where a test shows that something is *not* sent, it then makes a write that must be sent (a marker)
and checks that the marker's event is the next one: events go out in commit order, so nothing else was
sent in between."""
from __future__ import annotations

import json
import socket
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

from leanorm.embedded.live.realtime_wire import CMD, decode, encode
from tests.served import Served, serve

websockets_sync = pytest.importorskip("websockets.sync.client")
ConnectionClosed = pytest.importorskip("websockets.exceptions").ConnectionClosed

SUBSCRIPTIONS = 3


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Served, int]]:
    with serve(tmp_path_factory.mktemp("lclive") / "app.sqlite3", "--realtime-port", "0",
               "--live-subscriptions", str(SUBSCRIPTIONS)) as running:
        assert running.realtime_port is not None
        yield running, running.realtime_port


class Rest:
    """LeanCloud-dialect requests to the server, as one user (or none, or the master key)."""

    def __init__(self, served: Served, token: Optional[str] = None, master: bool = False) -> None:
        self.served, self.token, self.master = served, token, master

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Dict[str, Any]:
        headers = {"X-LC-Id": self.served.app_id, "X-LC-Key": self.served.app_key}
        if self.token:
            headers["X-LC-Session"] = self.token
        if self.master:
            headers["X-LC-Key"] = f"{self.served.master_key},master"
        resp = requests.request(method, f"{self.served.base_url}/1.1/{path}", headers=headers,
                                data=None if body is None else json.dumps(body), timeout=30)
        assert resp.status_code == expect, (resp.status_code, resp.text)
        answer: Dict[str, Any] = resp.json()
        return answer

    def signup(self) -> Tuple["Rest", str]:
        user = self.call("POST", "users", {"username": f"u{uuid.uuid4().hex[:10]}", "password": "pw"}, 201)
        return Rest(self.served, user["sessionToken"]), user["objectId"]

    def subscribe(self, installation: str, class_name: str, where: Dict[str, Any], expect: int = 200,
                  **query: Any) -> Dict[str, Any]:
        return self.call("POST", "LiveQuery/subscribe",
                         {"id": installation, "query": {"className": class_name, "where": where, **query}}, expect)


class Realtime:
    """One realtime WebSocket, speaking LeanCloud's protobuf commands."""

    def __init__(self, port: int) -> None:
        self.ws = websockets_sync.connect(f"ws://127.0.0.1:{port}/", subprotocols=["lc.protobuf2.3"],
                                          open_timeout=10).__enter__()
        self.serial = 0
        self.pending: List[Dict[str, Any]] = []

    def _receive(self) -> Dict[str, Any]:
        data = self.ws.recv(timeout=15)
        assert isinstance(data, bytes), data
        return decode(data)

    def request(self, **command: Any) -> Dict[str, Any]:
        """Send a command with a serial; its answer (events arriving meanwhile are kept)."""
        self.serial += 1
        self.ws.send(encode({**command, "i": self.serial}))
        while True:
            answer = self._receive()
            if answer.get("i") == self.serial:
                return answer
            self.pending.append(answer)

    def login(self, installation: str, app_id: str) -> Dict[str, Any]:
        return self.request(cmd=CMD["login"], appId=app_id, installationId=installation, service=1)

    def event(self) -> Dict[str, Any]:
        """The next event: the JSON of a ``data`` command's message."""
        command = self.pending.pop(0) if self.pending else self._receive()
        assert command["cmd"] == CMD["data"], command
        [message] = command["dataMessage"]["msg"]
        event: Dict[str, Any] = json.loads(message["data"])
        return event

    def close(self) -> None:
        self.ws.close()


def _installation() -> str:
    return str(uuid.uuid4())


def _public(owner: str) -> Dict[str, Any]:
    return {"*": {"read": True}, owner: {"read": True, "write": True}}


def _private(owner: str) -> Dict[str, Any]:
    return {owner: {"read": True, "write": True}}


def _class() -> str:
    return f"Live{uuid.uuid4().hex[:8]}"


def _connected(live: Tuple[Served, int], *installations: str) -> Realtime:
    served, port = live
    realtime = Realtime(port)
    for installation in installations:
        assert realtime.login(installation, served.app_id)["cmd"] == CMD["loggedin"]
    return realtime


def test_events_show_only_what_the_subscribers_acl_lets_it_read(live: Tuple[Served, int]) -> None:
    served, _ = live
    writer, writer_id = Rest(served).signup()
    reader, _ = Rest(served).signup()
    cls, installation = _class(), _installation()
    realtime = _connected(live, installation)
    query_id = reader.subscribe(installation, cls, {"list": "a"})["query_id"]
    writer.call("POST", f"classes/{cls}", {"list": "a", "title": "secret", "ACL": _private(writer_id)}, 201)
    marker = writer.call("POST", f"classes/{cls}", {"list": "a", "title": "open", "ACL": _public(writer_id)}, 201)
    event = realtime.event()
    assert (event["op"], event["object"]["objectId"], event["query_id"]) == ("create", marker["objectId"], query_id)
    assert "ACL" not in event["object"]  # shown only with returnACL
    realtime.close()


def test_losing_read_access_is_a_leave_showing_the_object_as_it_could_last_read_it(live: Tuple[Served, int]) -> None:
    served, _ = live
    writer, writer_id = Rest(served).signup()
    reader, _ = Rest(served).signup()
    cls, installation = _class(), _installation()
    realtime = _connected(live, installation)
    reader.subscribe(installation, cls, {"list": "a"})
    todo = writer.call("POST", f"classes/{cls}", {"list": "a", "title": "before", "ACL": _public(writer_id)}, 201)
    assert realtime.event()["op"] == "create"
    writer.call("PUT", f"classes/{cls}/{todo['objectId']}", {"title": "after, private", "ACL": _private(writer_id)})
    event = realtime.event()
    assert (event["op"], event["object"]["title"]) == ("leave", "before")
    writer.call("PUT", f"classes/{cls}/{todo['objectId']}", {"title": "still private"})
    marker = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    assert realtime.event()["object"]["objectId"] == marker["objectId"]
    realtime.close()


def test_a_session_that_ends_mid_subscription_hears_nothing_more(live: Tuple[Served, int]) -> None:
    served, _ = live
    writer, writer_id = Rest(served).signup()
    leaving, _ = Rest(served).signup()
    staying, _ = Rest(served).signup()
    cls, gone, kept = _class(), _installation(), _installation()
    realtime = _connected(live, gone, kept)
    leaving.subscribe(gone, cls, {"list": "a"})
    staying.subscribe(kept, cls, {"list": "a"})
    first = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    heard = [realtime.event(), realtime.event()]
    assert sorted(e["object"]["objectId"] for e in heard) == [first["objectId"]] * 2
    leaving.call("POST", "logout", {})  # the session ends
    marker = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    event = realtime.event()
    assert event["object"]["objectId"] == marker["objectId"]
    writer.call("POST", f"classes/{cls}", {"list": "b", "ACL": _public(writer_id)}, 201)
    second = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    assert realtime.event()["object"]["objectId"] == second["objectId"]  # the staying one's; none for the other
    realtime.close()


def test_a_session_expired_in_the_database_ends_its_subscription(live: Tuple[Served, int]) -> None:
    served, _ = live
    writer, writer_id = Rest(served).signup()
    expiring, _ = Rest(served).signup()
    staying, _ = Rest(served).signup()
    cls, gone, kept = _class(), _installation(), _installation()
    realtime = _connected(live, gone, kept)
    expiring.subscribe(gone, cls, {"list": "a"})
    staying.subscribe(kept, cls, {"list": "a"})
    served.sql("UPDATE _sessions SET expires_at = '2000-01-01T00:00:00.000Z' WHERE token = ?", (expiring.token,))
    marker = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    assert realtime.event()["object"]["objectId"] == marker["objectId"]
    second = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
    assert realtime.event()["object"]["objectId"] == second["objectId"]
    realtime.close()


def test_subscribe_is_refused_where_a_find_would_be(live: Tuple[Served, int]) -> None:
    served, _ = live
    master = Rest(served, master=True)
    reader, _ = Rest(served).signup()
    closed = _class()
    master.call("POST", f"classes/{closed}", {"list": "a"}, 201)
    master.call("PUT", f"schemas/{closed}", {"classLevelPermissions": {
        "find": {}, "get": {}, "create": {"*": True}, "update": {}, "delete": {}, "addField": {}}})
    refused = reader.subscribe(_installation(), closed, {"list": "a"}, expect=403)
    assert refused["code"] == 119
    # a protected field (another user's email) may not be queried, nor may a password
    assert reader.subscribe(_installation(), "_User", {"email": "a@example.com"}, expect=403)["code"] == 119
    assert reader.subscribe(_installation(), "_User", {"password": "x"}, expect=400)["code"] == 102
    assert Rest(served).call("POST", "LiveQuery/subscribe", {"id": _installation(), "query": {
        "className": closed, "where": {}}}, expect=403)["code"] == 119


def test_subscribe_is_stored_only_when_allowed(live: Tuple[Served, int]) -> None:
    served, _ = live
    reader, _ = Rest(served).signup()
    installation = _installation()
    reader.subscribe(installation, "_User", {"email": "a@example.com"}, expect=403)
    assert served.sql("SELECT count(*) FROM _live_subscriptions WHERE installation_id = ?",
                      (installation,)) == [(0,)]


def test_subscribe_needs_the_app_key(live: Tuple[Served, int]) -> None:
    served, _ = live
    resp = requests.post(f"{served.base_url}/1.1/LiveQuery/subscribe", headers={"X-LC-Id": served.app_id},
                         data=json.dumps({"id": _installation(), "query": {"className": "Post", "where": {}}}),
                         timeout=30)
    assert resp.status_code == 401


def test_an_installation_holds_a_bounded_number_of_subscriptions(live: Tuple[Served, int]) -> None:
    served, _ = live
    reader, _ = Rest(served).signup()
    installation, cls = _installation(), _class()
    ids = [reader.subscribe(installation, cls, {"n": n})["query_id"] for n in range(SUBSCRIPTIONS)]
    assert reader.subscribe(installation, cls, {"n": 0})["query_id"] == ids[0]  # again: the same one
    assert reader.subscribe(installation, cls, {"n": SUBSCRIPTIONS}, expect=429)["code"] == 155
    reader.call("POST", "LiveQuery/unsubscribe", {"id": installation, "query_id": ids[0]})
    reader.subscribe(installation, cls, {"n": SUBSCRIPTIONS})


def test_unsubscribe_needs_the_installation_id(live: Tuple[Served, int]) -> None:
    served, _ = live
    writer, writer_id = Rest(served).signup()
    reader, _ = Rest(served).signup()
    cls, installation = _class(), _installation()
    realtime = _connected(live, installation)
    query_id = reader.subscribe(installation, cls, {})["query_id"]
    reader.call("POST", "LiveQuery/unsubscribe", {"id": _installation(), "query_id": query_id})  # not its id
    first = writer.call("POST", f"classes/{cls}", {"ACL": _public(writer_id)}, 201)
    assert realtime.event()["object"]["objectId"] == first["objectId"]
    realtime.close()


def test_login_with_another_app_id_is_refused(live: Tuple[Served, int]) -> None:
    _, port = live
    realtime = Realtime(port)
    answer = realtime.login(_installation(), "another-app")
    assert (answer["cmd"], answer["errorMessage"]["code"]) == (CMD["error"], 4100)
    realtime.close()


def test_im_commands_are_not_served(live: Tuple[Served, int]) -> None:
    served, port = live
    realtime = Realtime(port)
    answer = realtime.request(cmd=CMD["session"], op=1, appId=served.app_id, peerId="alice")
    assert (answer["cmd"], answer["errorMessage"]["code"]) == (CMD["error"], 4200)
    realtime.ws.send(b"\xff\xff\xff")  # not a command: answered, the connection lives on
    assert realtime._receive()["cmd"] == CMD["error"]
    assert realtime.request(cmd=CMD["echo"])["cmd"] == CMD["echo"]
    realtime.close()


def test_the_router_names_the_realtime_server_only_for_this_app(live: Tuple[Served, int]) -> None:
    served, port = live
    found = requests.get(f"{served.base_url}/v1/route", params={"appId": served.app_id, "secure": "1"}, timeout=30)
    assert found.json()["server"] == f"ws://127.0.0.1:{port}/"
    other = requests.get(f"{served.base_url}/v1/route", params={"appId": "another-app"}, timeout=30)
    assert other.status_code == 404


def test_a_browser_app_reads_the_router_from_another_origin(live: Tuple[Served, int]) -> None:
    # issue 19: LeanTodo (leancloud/leantodo-vue) subscribes from a page served elsewhere; the browser
    # drops an answer without CORS headers, so the SDK's subscribe failed before it reached the WebSocket
    served, _ = live
    origin = {"Origin": "https://todo.example.com"}
    found = requests.get(f"{served.base_url}/v1/route", params={"appId": served.app_id}, headers=origin, timeout=30)
    assert found.status_code == 200 and found.headers.get("Access-Control-Allow-Origin") == "*"
    other = requests.get(f"{served.base_url}/v1/route", params={"appId": "another-app"}, headers=origin, timeout=30)
    assert other.status_code == 404 and other.headers.get("Access-Control-Allow-Origin") == "*"


def test_a_websocket_without_the_realtime_subprotocol_is_refused(live: Tuple[Served, int]) -> None:
    _, port = live
    with pytest.raises(Exception):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/", open_timeout=10) as ws:
            ws.recv(timeout=10)


def test_every_worker_hears_subscriptions_made_through_any_other(tmp_path: Any) -> None:
    """Subscribing (HTTP) and listening (the realtime WebSocket) may reach different worker processes:
    the subscription is stored, so whichever worker holds the connection delivers."""
    with serve(tmp_path / "app.sqlite3", "--workers", "2", "--realtime-port", "0") as served:
        assert served.realtime_port is not None
        port = served.realtime_port
        writer, writer_id = Rest(served).signup()
        reader, _ = Rest(served).signup()
        cls = _class()
        connections = []
        for _ in range(6):  # the kernel spreads them over both workers' listeners
            installation = _installation()
            connections.append(_connected((served, port), installation))
            reader.subscribe(installation, cls, {"list": "a"})  # a connection of its own: any worker
        todo = writer.call("POST", f"classes/{cls}", {"list": "a", "ACL": _public(writer_id)}, 201)
        for realtime in connections:
            event = realtime.event()
            assert (event["op"], event["object"]["objectId"]) == ("create", todo["objectId"])
            realtime.close()


def test_a_connection_that_never_logs_in_is_closed_after_the_read_timeout(tmp_path: Any) -> None:
    with serve(tmp_path / "app.sqlite3", "--realtime-port", "0", "--read-timeout", "1") as served:
        assert served.realtime_port is not None
        realtime = Realtime(served.realtime_port)
        assert realtime._receive()["cmd"] == CMD["goaway"]  # then the server closes it
        with pytest.raises(ConnectionClosed):
            realtime.ws.recv(timeout=15)


def test_a_login_is_heard_only_by_subscribers_who_may_read_the_user(live: Tuple[Served, int]) -> None:
    served, _ = live
    master = Rest(served, master=True)
    reader, _ = Rest(served).signup()
    hidden, hidden_id = Rest(served).signup()
    shown, shown_id = Rest(served).signup()
    master.call("PUT", f"users/{hidden_id}", {"ACL": _private(hidden_id), "team": "t"})
    master.call("PUT", f"users/{shown_id}", {"team": "t"})
    installation = _installation()
    realtime = _connected(live, installation)
    query_id = reader.subscribe(installation, "_User", {"team": "t"})["query_id"]
    for user_id in (hidden_id, shown_id):
        name = master.call("GET", f"users/{user_id}")["username"]
        Rest(served).call("POST", "login", {"username": name, "password": "pw"})
    event = realtime.event()
    assert (event["op"], event["object"]["objectId"], event["query_id"]) == ("login", shown_id, query_id)
    assert "updatedKeys" not in event and "sessionToken" not in event["object"]
    realtime.close()


def test_a_login_is_no_event_in_parses_protocol() -> None:
    """Parse's LiveQuery has no login event: a subscriber of ``_User`` hears the next real change."""
    import asyncio

    from leanorm.embedded import EmbeddedServer

    server = EmbeddedServer(":memory:")
    headers = {"X-LC-Id": server.settings.app_id, "X-LC-Key": server.settings.app_key}

    def call(method: str, path: str, body: Any, token: Optional[str] = None) -> Dict[str, Any]:
        resp = server.handle(method, "/1.1/" + path, headers={**headers, **({"X-LC-Session": token} if token else {})},
                             body=json.dumps(body).encode())
        assert resp.status < 300, resp.body
        answer: Dict[str, Any] = json.loads(resp.body)
        return answer

    async def scenario() -> Dict[str, Any]:
        user = await asyncio.to_thread(call, "POST", "users", {"username": "parse-login", "password": "pw"})
        live = server.live_connection()
        await live.send({"op": "connect", "applicationId": server.settings.app_id,
                         "javascriptKey": server.settings.app_key})
        assert (await live.receive())["op"] == "connected"
        await live.send({"op": "subscribe", "requestId": 1,
                         "query": {"className": "_User", "where": {"username": "parse-login"}}})
        assert (await live.receive())["op"] == "subscribed"
        await asyncio.to_thread(call, "POST", "login", {"username": "parse-login", "password": "pw"})
        await asyncio.to_thread(call, "PUT", f"users/{user['objectId']}", {"nickname": "n"}, user["sessionToken"])
        event: Dict[str, Any] = await live.receive()
        await live.close()
        return event

    try:
        event = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        server.close()
    assert (event["op"], event["object"].get("nickname")) == ("update", "n")


def test_a_realtime_port_another_server_holds_is_refused_at_start(tmp_path: Any) -> None:
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "leanorm.cli", "serve", "--db", str(tmp_path / "a.sqlite3"),
                               "--host", "127.0.0.1", "--port", "0", "--realtime-port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout


def test_the_base64_subprotocol_carries_the_same_commands_as_text(live: Tuple[Served, int]) -> None:
    """``lc.proto2base64.3`` (the SDK's ``noBinary``): the same protobuf bytes, base64 in text frames."""
    import base64

    served, port = live
    writer, writer_id = Rest(served).signup()
    cls, installation = _class(), _installation()
    with websockets_sync.connect(f"ws://127.0.0.1:{port}/", subprotocols=["lc.proto2base64.3"],
                                 open_timeout=10) as ws:
        ws.send(base64.b64encode(encode({"cmd": CMD["login"], "appId": served.app_id, "installationId": installation,
                                         "service": 1, "i": 1})).decode())
        answer = ws.recv(timeout=15)
        assert isinstance(answer, str) and decode(base64.b64decode(answer))["cmd"] == CMD["loggedin"]
        Rest(served).subscribe(installation, cls, {})
        todo = writer.call("POST", f"classes/{cls}", {"ACL": _public(writer_id)}, 201)
        data = decode(base64.b64decode(ws.recv(timeout=15)))
        event = json.loads(data["dataMessage"]["msg"][0]["data"])
        assert (event["op"], event["object"]["objectId"]) == ("create", todo["objectId"])
