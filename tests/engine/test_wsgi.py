"""The LeanEngine HTTP protocol, driven like LeanCloud and browsers drive it (werkzeug test client)."""
from __future__ import annotations

import hashlib
import json
import time

import flask
import pytest
from werkzeug.test import Client

import leanorm
from leanorm.auth_context import session_token
from leanorm.engine import Engine, current_request, reject

from .models import EngineNote

APP = {"X-LC-Id": "app", "X-LC-Key": "key"}
HOOK = {**APP, "X-LC-Hook-Key": "hook"}


@pytest.fixture
def engine() -> Engine:
    engine = Engine(app_id="app", app_key="key", master_key="master", hook_key="hook", fetch_user=False)

    @engine.define
    def hello(name="world"):
        request = current_request()
        return {"greeting": f"hello, {name}", "token": session_token(), "prod": request.prod,
                "from": request.remote_address}

    @engine.define
    def fail():
        raise leanorm.errors.LeanCloudError(3002, "nope")

    @engine.before_save(EngineNote)
    def check(note):
        if note.title == "bad":
            reject("bad title")
        note.title = note.title.title()
    return engine


def post(client: Client, path: str, body: object, headers: dict):
    resp = client.post(path, data=json.dumps(body), headers={"Content-Type": "application/json", **headers})
    return resp.status_code, resp.get_json()


def test_function_over_http(engine: Engine) -> None:
    client = Client(engine)
    status, body = post(client, "/1.1/functions/hello", {"name": "ada"},
                        {**APP, "X-LC-Session": "tok", "X-LC-Prod": "0", "X-Real-IP": "10.1.2.3"})
    assert status == 200
    assert body == {"result": {"greeting": "hello, ada", "token": "tok", "prod": False, "from": "10.1.2.3"}}
    for prefix in ("/1/functions/", "/1.1/call/", "/__engine/1.1/functions/", "/__engine/1/call/"):
        assert post(client, prefix + "hello", {}, APP)[1]["result"]["greeting"] == "hello, world"


def test_app_keys_are_checked(engine: Engine) -> None:
    client = Client(engine)
    assert post(client, "/1.1/functions/hello", {}, {}) == (401, {"code": 401, "error": "Unauthorized."})
    assert post(client, "/1.1/functions/hello", {}, {"X-LC-Id": "app", "X-LC-Key": "wrong"})[0] == 401
    assert post(client, "/1.1/functions/hello", {}, {"X-LC-Id": "other", "X-LC-Key": "key"})[0] == 401
    stamp = str(int(time.time() * 1000))
    signed = {"X-LC-Id": "app", "X-LC-Sign": hashlib.md5((stamp + "key").encode()).hexdigest() + "," + stamp}
    assert post(client, "/1.1/functions/hello", {}, signed)[0] == 200
    legacy = {"X-AVOSCloud-Application-Id": "app", "X-AVOSCloud-Application-Key": "key"}
    assert post(client, "/1.1/functions/hello", {}, legacy)[0] == 200
    browser = client.post("/1.1/functions/hello", headers={"Content-Type": "text/plain"},
                          data=json.dumps({"_ApplicationId": "app", "_ApplicationKey": "key", "name": "b"}))
    assert browser.get_json()["result"]["greeting"] == "hello, b"


def test_errors_answer_code_and_error(engine: Engine) -> None:
    client = Client(engine)
    assert post(client, "/1.1/functions/fail", {}, APP) == (400, {"code": 3002, "error": "nope"})
    status, body = post(client, "/1.1/functions/missing", {}, APP)
    assert status == 404 and body["code"] == 141


def test_hooks_need_the_hook_key(engine: Engine) -> None:
    client = Client(engine)
    obj = {"object": {"className": "EngineNote", "title": "hello there"}, "user": None}
    assert post(client, "/1.1/functions/EngineNote/beforeSave", obj, APP)[0] == 401
    assert post(client, "/1.1/functions/EngineNote/beforeSave", obj, HOOK) == (200, {"title": "Hello There"})
    obj["object"]["title"] = "bad"
    assert post(client, "/1.1/functions/EngineNote/beforeSave", obj, HOOK) == \
        (400, {"code": 142, "error": "bad title"})


def test_metadata_needs_the_master_key(engine: Engine) -> None:
    client = Client(engine)
    assert post(client, "/1.1/functions/_ops/metadatas", {}, APP)[0] == 401
    status, body = post(client, "/1.1/functions/_ops/metadatas", {}, {"X-LC-Id": "app", "X-LC-Key": "master,master"})
    assert status == 200 and body["result"] == ["__before_save_for_EngineNote", "fail", "hello"]


def test_ping_and_cors_preflight(engine: Engine) -> None:
    client = Client(engine)
    ping = client.get("/__engine/1/ping")
    assert ping.status_code == 200 and ping.get_json()["version"] == leanorm.__version__
    preflight = client.options("/1.1/functions/hello")
    assert preflight.status_code == 200 and "X-LC-Session" in preflight.headers["Access-Control-Allow-Headers"]


def test_wrap_passes_other_paths_to_the_app(engine: Engine) -> None:
    web = flask.Flask("web")
    web.route("/")(lambda: "home page")
    client = Client(engine.wrap(web))
    assert client.get("/").get_data(as_text=True) == "home page"
    assert post(client, "/1.1/functions/hello", {}, APP)[1]["result"]["greeting"] == "hello, world"
    assert Client(Engine()).get("/anything").status_code == 404
