"""Parse Server webhooks end to end: the engine on a real socket, saves through the real Parse Server."""
from __future__ import annotations

import threading
import uuid
from typing import Iterator, List
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import leanorm
from leanorm import cloud
from leanorm.engine import Engine, reject, updated_keys
from leanorm.errors import LeanCloudError

from .conftest import parse_client
from .models import EngineProbe

WEBHOOK_KEY = "leanorm-webhook"  # scripts/parse-server configures Parse with it


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def parse() -> Iterator[leanorm.Client]:
    client = parse_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def served(parse: leanorm.Client) -> Iterator[dict]:
    """An engine served on 127.0.0.1 (random port), its hooks registered with Parse, removed after."""
    seen: List[tuple] = []
    suffix = uuid.uuid4().hex[:8]
    engine = Engine(parse_webhook_key=WEBHOOK_KEY, fetch_user=False)

    @engine.define(f"engineEcho{suffix}")
    def echo(text, times=1):
        user = leanorm.current_user()
        return {"echo": text * times, "user": user.username if user else None}

    @engine.before_save(EngineProbe)
    def before_save(probe):
        if probe.title == "forbidden":
            reject("forbidden titles are refused")
        probe.title = probe.title.upper()
        probe.score = len(probe.title)
        seen.append(("before_save", probe.title))

    @engine.before_update(EngineProbe)
    def before_update(probe):
        seen.append(("before_update", sorted(updated_keys(probe))))
        if "body" in updated_keys(probe):
            probe.body = probe.body + " (edited)"

    @engine.after_save(EngineProbe)
    def after_save(probe):
        seen.append(("after_save", probe.id))

    @engine.before_delete(EngineProbe)
    def before_delete(probe):
        if probe.title == "KEEP":
            raise LeanCloudError(3003, "this one stays")

    server = make_server("127.0.0.1", 0, engine, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    with leanorm.using(parse):
        hooks = engine.register_parse_webhooks(url)
        again = engine.register_parse_webhooks(url)  # registering twice updates, it does not fail
    try:
        yield {"engine": engine, "seen": seen, "hooks": hooks, "again": again, "function": f"engineEcho{suffix}"}
    finally:
        with leanorm.using(parse), leanorm.using_master():
            for hook in hooks:
                where = (f"functions/{hook['functionName']}" if "functionName" in hook
                         else f"triggers/{hook['className']}/{hook['triggerName']}")
                parse.request("PUT", f"hooks/{where}", body={"__op": "Delete"})
        server.shutdown()
        server.server_close()


@pytest.fixture
def use_parse(parse: leanorm.Client) -> Iterator[leanorm.Client]:
    with leanorm.using(parse):
        yield parse


def test_registration_lists_functions_and_triggers(served: dict) -> None:
    hooks = served["hooks"]
    assert served["again"] == hooks
    triggers = {(h["className"], h["triggerName"]) for h in hooks if "triggerName" in h}
    assert triggers == {("EngineProbe", "beforeSave"), ("EngineProbe", "afterSave"),
                        ("EngineProbe", "beforeDelete")}
    assert any(h.get("functionName") == served["function"] for h in hooks)


def test_before_save_changes_the_saved_object(served: dict, use_parse: leanorm.Client) -> None:
    probe = EngineProbe.objects.create(title="hello", body="b")
    stored = use_parse.request("GET", f"classes/EngineProbe/{probe.id}")
    assert stored["title"] == "HELLO" and stored["score"] == 5 and stored["body"] == "b"
    assert ("before_save", "HELLO") in served["seen"] and ("after_save", probe.id) in served["seen"]


def test_before_save_rejection_reaches_the_caller(served: dict, use_parse: leanorm.Client) -> None:
    with pytest.raises(LeanCloudError) as err:
        EngineProbe.objects.create(title="forbidden")
    # Parse reports every webhook error as 141 and keeps the hook's message
    assert err.value.code == 141 and err.value.message == "forbidden titles are refused"
    assert EngineProbe.objects.filter(title="forbidden").count() == 0


def test_update_runs_before_update_with_the_updated_keys(served: dict, use_parse: leanorm.Client) -> None:
    probe = EngineProbe.objects.create(title="upd", body="first")
    probe.body = "second"
    probe.save()
    stored = use_parse.request("GET", f"classes/EngineProbe/{probe.id}")
    assert stored["body"] == "second (edited)" and stored["title"] == "UPD"
    assert ("before_update", ["body"]) in served["seen"]


def test_before_delete_can_refuse(served: dict, use_parse: leanorm.Client) -> None:
    keep = EngineProbe.objects.create(title="keep")
    with pytest.raises(LeanCloudError) as err:
        keep.delete()
    assert err.value.message == "this one stays"
    assert EngineProbe.objects.filter(id=keep.id).count() == 1
    gone = EngineProbe.objects.create(title="gone")
    gone.delete()
    assert EngineProbe.objects.filter(id=gone.id).count() == 0


def test_function_returns_a_value_and_knows_the_caller(served: dict, use_parse: leanorm.Client) -> None:
    assert cloud.run(served["function"], text="ab", times=2) == {"echo": "abab", "user": None}
    name = f"engine-{uuid.uuid4().hex[:10]}"
    user = leanorm.User.signup(name, "pw-123456")
    with leanorm.as_user(user):
        assert cloud.run(served["function"], text="x") == {"echo": "x", "user": name}


def test_webhook_key_is_checked(served: dict) -> None:
    from werkzeug.test import Client
    body = {"functionName": served["function"], "params": {"text": "x"}}
    client = Client(served["engine"])
    assert client.post("/__parse/functions/x", json=body).status_code == 401
    resp = client.post("/__parse/functions/x", json=body, headers={"X-Parse-Webhook-Key": WEBHOOK_KEY})
    assert resp.get_json() == {"success": {"echo": "x", "user": None}}
