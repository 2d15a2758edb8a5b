"""HttpsRedirectMiddleware and CookieSessionMiddleware, as WSGI apps around a small Flask app."""
from __future__ import annotations

import uuid

import flask
import pytest
from werkzeug.test import Client

import leanorm
from leanorm.auth_context import session_token
from leanorm.engine import CookieSessionMiddleware, Engine, HttpsRedirectMiddleware
from leanorm.engine.cookie_session import set_session_user
from leanorm.engine.objects import instance_from_wire

from .conftest import parse_client


def make_web() -> flask.Flask:
    web = flask.Flask("web")

    @web.route("/me")
    def me():
        user = leanorm.current_user()
        return {"id": user.id if user else None, "token": session_token()}

    @web.route("/remember/<uid>/<token>")
    def remember(uid, token):
        user = instance_from_wire(leanorm.User, {"objectId": uid, "sessionToken": token})
        set_session_user(user)
        return "ok"

    @web.route("/forget")
    def forget():
        set_session_user(None)
        return "ok"

    @web.route("/login", methods=["POST"])
    def login():
        user = leanorm.User.login(flask.request.form["username"], flask.request.form["password"])
        return {"id": user.id}

    @web.route("/logout", methods=["POST"])
    def logout():
        leanorm.current_user().logout()
        return "bye"
    return web


def test_https_redirect() -> None:
    app = HttpsRedirectMiddleware(Engine().wrap(make_web()))
    client = Client(app)
    resp = client.get("/me?x=1", headers={"Host": "example.com"})
    assert resp.status_code == 301 and resp.headers["Location"] == "https://example.com/me?x=1"
    assert client.post("/me", headers={"Host": "example.com"}).status_code == 307
    assert client.get("/me", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    assert client.get("/__engine/1/ping").status_code == 200  # LeanCloud's internal calls stay on http


def test_cookie_session_roundtrip_and_tampering() -> None:
    client = Client(CookieSessionMiddleware(make_web(), "s3cret"))
    assert client.get("/me").get_json() == {"id": None, "token": None}
    resp = client.get("/remember/u42/tok-42")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("leanorm_session=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert client.get("/me").get_json() == {"id": "u42", "token": "tok-42"}
    value = cookie.split(";")[0].split("=", 1)[1]
    other = Client(CookieSessionMiddleware(make_web(), "another secret"))
    other.set_cookie("leanorm_session", value)
    assert other.get("/me").get_json() == {"id": None, "token": None}  # not signed by this secret
    forged = Client(CookieSessionMiddleware(make_web(), "s3cret"))
    forged.set_cookie("leanorm_session", "eyJ1aWQiOiJ4IiwidG9rZW4iOiJ5In0." + "0" * 64)
    assert forged.get("/me").get_json() == {"id": None, "token": None}
    cleared = client.get("/forget").headers["Set-Cookie"]
    assert "Max-Age=0" in cleared
    assert client.get("/me").get_json() == {"id": None, "token": None}


def test_cookie_options_and_excluded_paths() -> None:
    engine = Engine(app_id="app", app_key="key")
    engine.define("who")(lambda: session_token())
    app = CookieSessionMiddleware(engine.wrap(make_web()), "s3cret", max_age=3600, expires=7200, secure=True)
    client = Client(app)
    cookie = client.get("/remember/u1/tok-1").headers["Set-Cookie"]
    assert "Max-Age=3600" in cookie and "Expires=" in cookie and "Secure" in cookie
    # the engine's paths are excluded: the caller's own header names the session, not the cookie
    resp = client.post("/1.1/functions/who", json={}, headers={"X-LC-Id": "app", "X-LC-Key": "key"})
    assert resp.get_json() == {"result": None}
    expired = Client(CookieSessionMiddleware(make_web(), "s3cret", max_age=-1))
    expired.set_cookie("leanorm_session", cookie.split(";")[0].split("=", 1)[1])
    assert expired.get("/me").get_json()["id"] is None


def test_login_sets_the_cookie_and_logout_clears_it(parse: leanorm.Client) -> None:
    name = f"engine-{uuid.uuid4().hex[:10]}"
    leanorm.User.signup(name, "pw-123456")
    client = Client(CookieSessionMiddleware(make_web(), "s3cret", fetch_user=True))
    resp = client.post("/login", data={"username": name, "password": "pw-123456"})
    assert resp.status_code == 200 and "leanorm_session=" in resp.headers["Set-Cookie"]
    me = client.get("/me").get_json()
    assert me["id"] == resp.get_json()["id"] and me["token"]
    bye = client.post("/logout")
    assert "Max-Age=0" in bye.headers["Set-Cookie"]
    assert client.get("/me").get_json() == {"id": None, "token": None}


@pytest.fixture
def parse() -> leanorm.Client:
    client = parse_client()
    with leanorm.using(client):
        yield client
    client.close()
