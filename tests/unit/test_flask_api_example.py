"""examples/flask_api.py through Flask's test client, on the embedded backend: what a client of the
API sends and gets back, and what ends up stored."""
import importlib.util
import pathlib

import pytest

import leanorm
from leanorm.models import registry

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flask_api.py"


@pytest.fixture
def api():
    with registry.preserved():  # the example declares Author and Post: keep them to this test
        spec = importlib.util.spec_from_file_location("flask_api_example", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        client = leanorm.connect("local://:memory:", default=False)
        try:
            with leanorm.using(client):
                module.web = module.create_app().test_client()
                module.backend = client
                yield module
        finally:
            client.close()


def make_author(api, name="Ann"):
    answer = api.web.post("/authors", json={"name": name})
    assert answer.status_code == 201
    return answer.get_json()["objectId"]


def test_a_post_is_created_stored_and_read_back(api):
    ann = make_author(api)
    answer = api.web.post("/posts", json={"title": "Hello", "author": ann, "tags": ["intro"],
                                          "publishedAt": "2026-03-01T10:00:00+00:00"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["title"] == "Hello" and body["status"] == "draft" and body["score"] == 0
    assert body["author"]["objectId"] == ann and body["author"]["name"] == "Ann"
    stored = api.backend.request("GET", f"classes/Post/{body['objectId']}")
    assert stored["author"] == {"__type": "Pointer", "className": "Author", "objectId": ann}
    assert stored["publishedAt"]["iso"].startswith("2026-03-01T10:00:00")
    assert stored["tags"] == ["intro"] and stored["status"] == "draft"
    assert api.web.get(f"/posts/{body['objectId']}").get_json() == body


def test_bad_input_is_answered_field_by_field_and_nothing_is_saved(api):
    answer = api.web.post("/posts", json={"title": "x" * 200, "status": "secret", "score": -1,
                                          "tags": ["ok", "y" * 30], "author": "nope"})
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert set(errors) == {"title", "status", "score", "tags", "author"}
    assert errors["author"] == ["no Author with objectId 'nope'"]
    assert list(errors["tags"]) == ["1"]
    assert api.web.post("/posts", json={"title": "No author"}).get_json()["errors"] == {
        "author": ["Missing data for required field."]}
    assert api.Post.objects.count() == 0


def test_patch_changes_only_the_fields_sent(api):
    ann = make_author(api)
    post_id = api.web.post("/posts", json={"title": "Draft", "author": ann, "body": "text"}).get_json()["objectId"]
    answer = api.web.patch(f"/posts/{post_id}", json={"status": "published", "score": 3})
    assert answer.status_code == 200
    stored = api.backend.request("GET", f"classes/Post/{post_id}")
    assert (stored["title"], stored["body"], stored["status"], stored["score"]) == ("Draft", "text", "published", 3)
    assert api.web.patch(f"/posts/{post_id}", json={"score": "many"}).status_code == 422
    assert api.backend.request("GET", f"classes/Post/{post_id}")["score"] == 3


def test_listing_filters_by_tag_and_missing_posts_are_404(api):
    ann = make_author(api)
    for title, tags in (("A", ["x"]), ("B", ["y"]), ("C", ["x", "y"])):
        api.web.post("/posts", json={"title": title, "author": ann, "tags": tags})
    assert [p["title"] for p in api.web.get("/posts?tag=x").get_json()] == ["A", "C"]
    assert api.web.get("/posts/missing").status_code == 404
    post_id = api.web.get("/posts").get_json()[0]["objectId"]
    assert api.web.delete(f"/posts/{post_id}").status_code == 204
    assert api.web.get(f"/posts/{post_id}").status_code == 404
