"""examples/fastapi_app.py through FastAPI's test client, on the embedded backend: what a client of the
API sends and gets back, and what ends up stored. The app runs on the test client's event loop, every
leanorm call through the async API."""
import asyncio
import importlib.util
import pathlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

import leanorm
from leanorm.models import registry
from leanorm.transport import Request, Response, Transport


class NoBlockingSends(Transport):
    """The embedded backend's transport, refusing a blocking send from a thread running an event loop
    (the app must await every request); the async API's sends go to the real one."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def send(self, request: Request) -> Response:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self.inner.send(request)
        raise AssertionError(f"a blocking {request.method} {request.path} on the event loop")

    async def asend(self, request: Request) -> Response:
        return await self.inner.asend(request)

    def close(self) -> None:
        self.inner.close()

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"


@pytest.fixture
def api():
    with registry.preserved():  # the example declares Author and Post: keep them to this test
        spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        client = leanorm.connect("local://:memory:", default=False)
        client.transport = NoBlockingSends(client.transport)
        try:
            with TestClient(module.create_app(client)) as web:
                module.web = web
                module.backend = client
                yield module
        finally:
            client.close()


def make_author(api, name="Ann"):
    answer = api.web.post("/authors", json={"name": name})
    assert answer.status_code == 201
    return answer.json()["objectId"]


def test_a_post_is_created_stored_and_read_back(api):
    ann = make_author(api)
    answer = api.web.post("/posts", json={"title": "Hello", "author": ann, "tags": ["intro"],
                                          "publishedAt": "2026-03-01T10:00:00+00:00"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["title"] == "Hello" and body["score"] == 0
    assert body["author"]["objectId"] == ann and body["author"]["name"] == "Ann"
    stored = api.backend.request("GET", f"classes/Post/{body['objectId']}")
    assert stored["author"] == {"__type": "Pointer", "className": "Author", "objectId": ann}
    assert stored["publishedAt"]["iso"].startswith("2026-03-01T10:00:00")
    assert api.web.get(f"/posts/{body['objectId']}").json() == body
    assert [a["name"] for a in api.web.get("/authors").json()] == ["Ann"]


def test_bad_input_is_answered_field_by_field_and_nothing_is_saved(api):
    answer = api.web.post("/posts", json={"title": "x" * 200, "score": -1, "tags": ["ok", "y" * 30],
                                          "author": "nope"})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert set(errors) == {"title", "score", "tags", "author"}
    assert errors["author"] == ["no Author with objectId 'nope'"]
    with leanorm.using(api.backend):
        assert api.Post.objects.count() == 0


def test_patch_changes_only_the_fields_sent(api):
    ann, bob = make_author(api), make_author(api, "Bob")
    post_id = api.web.post("/posts", json={"title": "Draft", "author": ann, "body": "text"}).json()["objectId"]
    answer = api.web.patch(f"/posts/{post_id}", json={"score": 3, "author": bob})
    assert answer.status_code == 200 and answer.json()["author"]["name"] == "Bob"
    stored = api.backend.request("GET", f"classes/Post/{post_id}")
    assert (stored["title"], stored["body"], stored["score"], stored["author"]["objectId"]) == ("Draft", "text", 3, bob)
    assert api.web.patch(f"/posts/{post_id}", json={"score": "many"}).status_code == 422
    assert api.backend.request("GET", f"classes/Post/{post_id}")["score"] == 3


def test_concurrent_likes_all_count(api):
    ann = make_author(api)
    post_id = api.web.post("/posts", json={"title": "Liked", "author": ann}).json()["objectId"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.web.post(f"/posts/{post_id}/like"), range(16)))
    assert {a.status_code for a in answers} == {200}
    assert api.backend.request("GET", f"classes/Post/{post_id}")["score"] == 16
    assert api.web.post("/posts/missing/like").status_code == 404


def test_listing_filters_by_tag_and_missing_posts_are_404(api):
    ann = make_author(api)
    for title, tags in (("A", ["x"]), ("B", ["y"]), ("C", ["x", "y"])):
        api.web.post("/posts", json={"title": title, "author": ann, "tags": tags})
    assert [p["title"] for p in api.web.get("/posts?tag=x").json()] == ["A", "C"]
    assert api.web.get("/posts/missing").status_code == 404
    post_id = api.web.get("/posts").json()[0]["objectId"]
    assert api.web.delete(f"/posts/{post_id}").status_code == 204
    assert api.web.get(f"/posts/{post_id}").status_code == 404
