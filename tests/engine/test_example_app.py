"""examples/engine_app.py on the embedded backend: its hooks run in-process, and the cookie session
carries the logged-in user from request to request."""
import importlib.util
import pathlib

import pytest
from werkzeug.test import Client

import leanorm
from leanorm import config

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "engine_app.py"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("LEANORM_URL", "local://:memory:")
    previous = config._default
    spec = importlib.util.spec_from_file_location("engine_app_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        config.get_client().close()
        config._default = previous


def test_hooks_run_on_the_embedded_backend(app):
    review = app.Review.objects.create(comment="x" * 200, stars=4)
    assert len(app.Review.objects.get(id=review.id).comment) == 140
    review.stars = 5
    with pytest.raises(leanorm.errors.LeanCloudError) as info:
        review.save()
    assert info.value.code == 400


def test_cookie_session_follows_login_and_logout(app):
    leanorm.User.signup(username="cookie-ann", password="pw")
    web = Client(app.application)
    https = {"wsgi.url_scheme": "https"}
    assert web.get("/", environ_overrides=https).json == {"hello": "stranger"}
    answer = web.post("/login", data={"username": "cookie-ann", "password": "pw"}, environ_overrides=https)
    assert answer.json == {"logged_in": "cookie-ann"} and "Set-Cookie" in answer.headers
    assert web.get("/", environ_overrides=https).json == {"hello": "cookie-ann"}
    web.post("/logout", environ_overrides=https)
    assert web.get("/", environ_overrides=https).json == {"hello": "stranger"}


def test_plain_http_is_redirected_to_https(app):
    answer = Client(app.application).get("/")
    assert answer.status_code in (301, 302, 307, 308)
    assert answer.headers["Location"].startswith("https://")
