"""Black-box fuzzing of ``leanorm serve``'s LiveQuery WebSocket: random ``connect`` keys and sessions, random
``subscribe`` queries (``where``, ``keys``/``fields``, ``watch``), random ops and frames that are not JSON,
from user B or no one; then A and the master key change A's objects and open ones. Every error must be
Parse's ``{"op": "error", "code": int, "error": str}``, nothing of A's may reach B's socket, and the server
keeps answering ``/health`` (docs/security.md, "The fuzzing tier"). ``LEANORM_LIVE_FUZZ_EXAMPLES`` runs
longer.
"""
from __future__ import annotations

import json
import os
import uuid
from typing import Any, Dict, Iterator, List, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.http_fuzz_requests import FIELDS, VALUES, WHERE
from tests.security.http_fuzz_world import World
from tests.served import serve

websockets_sync = pytest.importorskip("websockets.sync.client")
ConnectionClosed = pytest.importorskip("websockets.exceptions").ConnectionClosed

#: how long a socket is read after the writes that may (wrongly) reach it
QUIET = 0.4


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with serve(tmp_path_factory.mktemp("livefuzz") / "app.sqlite3", "--workers", "2") as running:
        yield World(running, 20.0)


def _connect(world: World, caller: str, extra: Dict[str, Any]) -> Dict[str, Any]:
    served = world.served
    message: Dict[str, Any] = {"op": "connect", "applicationId": served.app_id}
    if caller != "none":
        message["javascriptKey"] = served.app_key if caller != "wrong-key" else "nope"
    if caller == "B":
        message["sessionToken"] = world.tokens["B"]
    elif caller == "stale":
        message["sessionToken"] = world.tokens["stale"]
    return {**message, **extra}


SUBSCRIBE = st.builds(
    lambda request_id, cls, where, extra: {"op": "subscribe", "requestId": request_id,
                                           "query": {"className": cls, "where": where, **extra}},
    st.one_of(st.integers(-2, 5), VALUES), st.sampled_from(["Secret", "Fz", "_User", "_Session", "Nope", "_changes"]),
    st.one_of(WHERE, VALUES),
    st.fixed_dictionaries({}, optional={"keys": st.lists(st.sampled_from(FIELDS), max_size=3) | VALUES,
                                        "fields": st.lists(st.sampled_from(FIELDS), max_size=3) | VALUES,
                                        "watch": st.lists(st.sampled_from(FIELDS), max_size=3) | VALUES}))
MESSAGES = st.one_of(
    SUBSCRIBE, SUBSCRIBE,
    st.builds(lambda op, rest: {"op": op, **rest}, st.sampled_from(["update", "unsubscribe", "connect", "nope"]),
              st.dictionaries(st.sampled_from(["requestId", "query", "sessionToken", "applicationId"]), VALUES,
                              max_size=3)),
    VALUES, st.sampled_from([b"\x00\xff", "{", "[]", '{"op": NaN}', "x" * 70000]))
Frame = Union[str, bytes, Dict[str, Any]]


@settings(max_examples=int(os.environ.get("LEANORM_LIVE_FUZZ_EXAMPLES", "12")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(caller=st.sampled_from(["B", "none", "wrong-key", "stale"]),
       connect_extra=st.dictionaries(st.sampled_from(["sessionToken", "installationId", "masterKey", "clientKey"]),
                                     VALUES, max_size=1),
       frames=st.lists(MESSAGES, min_size=1, max_size=4))
def test_no_live_message_breaks_the_servers_rules(world: World, caller: str, connect_extra: Dict[str, Any],
                                                  frames: List[Any]) -> None:
    world.restore()
    received: List[str] = []
    with websockets_sync.connect(f"ws://127.0.0.1:{world.served.port}/parse", open_timeout=30) as ws:
        try:
            for frame in [_connect(world, caller, connect_extra), *frames]:
                ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame).replace(
                    "@secret", world.ids["@secret"]).replace("@A", world.ids["@A"]))
            # what may (wrongly) reach B: A's objects changed and made, open objects changed
            world.ok("PUT", f"classes/Secret/{world.ids['@secret']}", {"n": {"__op": "Increment", "amount": 1}},
                      caller="A")
            world.ok("POST", "classes/Secret", {"m": world.marker, "ACL": {world.ids["@A"]: {"read": True}}},
                      caller="A")
            world.ok("PUT", f"classes/Fz/{world.ids['@mixed']}", {"s": uuid.uuid4().hex}, caller="master")
            world.ok("PUT", f"classes/Fz/{world.ids['@obj']}", {"s": uuid.uuid4().hex}, caller="master")
            while True:
                received.append(str(ws.recv(timeout=QUIET)))
        except (TimeoutError, ConnectionClosed):
            pass
    for text in received:
        assert world.marker not in text, text
        message = json.loads(text)
        if message.get("op") == "error":
            assert type(message.get("code")) is int and isinstance(message.get("error"), str), message
    assert world.alive()
