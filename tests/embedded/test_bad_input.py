"""Bad input answers LeanCloud's error shape and code with a 4xx — never a 500 — and writes nothing.

Each case runs against a database holding one ``Post`` (whose schema has learnt ``score`` as a Number)
and a unique index on ``Post.slug``; the whole database file is compared before and after.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from leanorm.embedded import EmbeddedServer

from .conftest import Api, snapshot

POSTS = "/1.1/classes/Post"
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = 2 ** 70


@pytest.fixture
def seeded(api: Api, server: EmbeddedServer) -> Dict[str, Any]:
    status, created = api("POST", POSTS, body={"title": "a", "score": 1, "tags": ["x"], "slug": "first"})
    assert status == 201
    server.create_index("Post", "slug", unique=True)
    return created


def case(name: str, method: str, path: str, code: int, status: int = 400, params: Optional[Dict[str, str]] = None,
         body: Any = None) -> Any:
    return pytest.param(method, path, params, body, code, status, id=name)


CASES = [
    # bodies that are not a JSON object
    case("malformed-json", "POST", POSTS, 107, body=b'{"title":'),
    case("body-not-an-object", "POST", POSTS, 107, body=b"[1, 2]"),
    case("body-not-utf8", "POST", POSTS, 107, body=b"\xff\xfe{}"),
    case("body-nan", "POST", POSTS, 107, body=b'{"score": NaN}'),
    case("body-infinity", "POST", POSTS, 107, body=b'{"score": Infinity}'),
    case("body-nested-too-deep", "POST", POSTS, 107, body=DEEP),
    case("number-overflows-float", "POST", POSTS, 107, body=b'{"score": 1e999}'),  # Infinity spelled otherwise
    case("integer-beyond-64-bits", "POST", POSTS, 111, body={"score": HUGE}),
    # where
    case("where-malformed", "GET", POSTS, 107, params={"where": '{"score":'}),
    case("where-not-an-object", "GET", POSTS, 102, params={"where": "[1]"}),
    case("unknown-operator", "GET", POSTS, 102, params={"where": '{"score": {"$near": 1}}'}),
    case("unknown-top-level-operator", "GET", POSTS, 102, params={"where": '{"$where": "1"}'}),
    case("operators-mixed-with-values", "GET", POSTS, 102, params={"where": '{"score": {"$gt": 1, "a": 2}}'}),
    case("comparison-with-a-list", "GET", POSTS, 102, params={"where": '{"score": {"$gt": [1]}}'}),
    case("comparison-with-a-bool", "GET", POSTS, 102, params={"where": '{"score": {"$lt": true}}'}),
    case("in-without-a-list", "GET", POSTS, 102, params={"where": '{"score": {"$in": 3}}'}),
    case("exists-not-a-bool", "GET", POSTS, 102, params={"where": '{"score": {"$exists": 1}}'}),
    case("or-not-a-list", "GET", POSTS, 102, params={"where": '{"$or": {"score": 1}}'}),
    case("bad-regex", "GET", POSTS, 102, params={"where": '{"title": {"$regex": "("}}'}),
    case("where-integer-beyond-64-bits", "GET", POSTS, 102, params={"where": json.dumps({"score": HUGE})}),
    case("where-object-where-a-number-goes", "GET", POSTS, 102,
         params={"where": '{"place": {"__type": "GeoPoint", "latitude": {}, "longitude": 1}}'}),
    case("related-to-with-an-object-id-object", "GET", POSTS, 102,
         params={"where": '{"$relatedTo": {"object": {"className": "Post", "objectId": {}}, "key": "k"}}'}),
    case("in-query-bad-class", "GET", POSTS, 103,
         params={"where": '{"author": {"$inQuery": {"className": "no such", "where": {}}}}'}),
    # limit and skip
    case("limit-over-the-cap", "GET", POSTS, 102, params={"limit": "1001"}),
    case("limit-not-a-number", "GET", POSTS, 102, params={"limit": "ten"}),
    case("limit-negative", "GET", POSTS, 102, params={"limit": "-1"}),
    case("skip-beyond-64-bits", "GET", POSTS, 102, params={"skip": str(HUGE)}),
    # names
    case("class-name-starts-with-digit", "POST", "/1.1/classes/1Post", 103, body={"a": 1}),
    case("class-name-with-dash", "POST", "/1.1/classes/Blog-Post", 103, body={"a": 1}),
    case("query-invalid-class", "GET", "/1.1/classes/Blog-Post", 103),
    case("field-name-with-dash", "POST", POSTS, 105, body={"bad-field": 1}),
    case("field-name-with-dollar", "POST", POSTS, 105, body={"$set": 1}),
    case("field-name-too-long", "POST", POSTS, 105, body={"f" * 200: 1}),
    case("dotted-key-inside-an-object", "POST", POSTS, 105, body={"meta": {"a.b": 1}}),
    case("pointer-invalid-class", "POST", POSTS, 103,
         body={"author": {"__type": "Pointer", "className": "no such", "objectId": "x"}}),
    case("pointer-class-not-a-string", "POST", POSTS, 111,
         body={"author": {"__type": "Pointer", "className": 5, "objectId": "x"}}),
    case("relation-without-class", "POST", POSTS, 103, body={"readers": {"__type": "Relation"}}),
    # values and operations
    case("wrong-type-after-schema-learnt", "POST", POSTS, 111, body={"fresh": 1, "score": "high"}),
    case("increment-a-string", "POST", POSTS, 111, body={"title": {"__op": "Increment", "amount": 1}}),
    case("increment-by-a-string", "POST", POSTS, 111, body={"score": {"__op": "Increment", "amount": "1"}}),
    case("add-to-a-number", "POST", POSTS, 111, body={"score": {"__op": "Add", "objects": [1]}}),
    case("unknown-operation", "POST", POSTS, 111, body={"score": {"__op": "Multiply", "amount": 2}}),
    case("batch-operation-without-ops", "POST", POSTS, 111, body={"tags": {"__op": "Batch", "ops": 5}}),
    case("batch-operation-with-a-value", "POST", POSTS, 111, body={"tags": {"__op": "Batch", "ops": ["x"]}}),
    case("bad-date", "POST", POSTS, 111, body={"when": {"__type": "Date", "iso": "yesterday"}}),
    case("geopoint-out-of-range", "POST", POSTS, 111,
         body={"place": {"__type": "GeoPoint", "latitude": 91, "longitude": 0}}),
    case("bytes-not-base64", "POST", POSTS, 111, body={"blob": {"__type": "Bytes", "base64": "!!"}}),
    case("unknown-type", "POST", POSTS, 111, body={"x": {"__type": "Decimal", "value": "1"}}),
    case("bad-acl", "POST", POSTS, 123, body={"title": "b", "ACL": {"*": {"read": "yes"}}}),
    case("bad-object-id", "POST", POSTS, 105, body={"objectId": "x" * 100}),  # no client ids by default
    # unique index
    case("unique-index-violation", "POST", POSTS, 137, body={"title": "b", "slug": "first"}),
    # endpoints
    case("unknown-endpoint", "GET", "/1.1/nothing/here", 1, status=404),
    case("outside-the-api", "GET", "/admin", 1, status=404),
    case("method-not-allowed", "PATCH", POSTS, 1, status=405),
    case("batch-without-requests", "POST", "/1.1/batch", 107, body={"requests": 5}),
]


@pytest.mark.parametrize("method, path, params, body, code, status", CASES)
def test_bad_input_answers_an_error_and_writes_nothing(api: Api, database: Path, seeded: Dict[str, Any],
                                                       method: str, path: str, params: Optional[Dict[str, str]],
                                                       body: Any, code: int, status: int) -> None:
    before = snapshot(database)
    got_status, answer = api(method, path, params, body)
    assert (got_status, answer.get("code")) == (status, code), answer
    assert set(answer) == {"code", "error"} and isinstance(answer["error"], str) and answer["error"]
    assert snapshot(database) == before


def test_update_with_bad_input_keeps_the_object(api: Api, database: Path, seeded: Dict[str, Any]) -> None:
    """A failing field in an update leaves every field of the object as it was, valid ones included."""
    path = f"{POSTS}/{seeded['objectId']}"
    before = snapshot(database)
    for body in ({"title": "changed", "score": "high"}, {"title": "changed", "tags": {"__op": "Increment"}},
                 {"title": "changed", "bad-field": 1}):
        status, answer = api("PUT", path, body=body)
        assert status == 400 and answer["code"] in (105, 111)
    status, answer = api("PUT", path, params={"where": '{"score": {"$bogus": 1}}'}, body={"title": "changed"})
    assert (status, answer["code"]) == (400, 102)
    assert snapshot(database) == before
    assert api("GET", path)[1]["title"] == "a"


def test_unique_index_refuses_an_update_to_a_taken_value(api: Api, database: Path, seeded: Dict[str, Any]) -> None:
    status, other = api("POST", POSTS, body={"title": "b", "slug": "second"})
    assert status == 201
    before = snapshot(database)
    status, answer = api("PUT", f"{POSTS}/{other['objectId']}", body={"slug": "first", "title": "c"})
    assert (status, answer["code"]) == (400, 137)
    assert snapshot(database) == before


def test_batch_item_errors_write_nothing_for_that_item(api: Api, seeded: Dict[str, Any]) -> None:
    """Batch answers per item: the bad items fail with their codes, the good one is written."""
    requests = [{"method": "POST", "path": POSTS, "body": {"title": "ok", "score": 2}},
                {"method": "POST", "path": POSTS, "body": {"title": "bad", "score": "two"}},
                {"method": "POST", "path": POSTS, "body": {"title": "dup", "slug": "first"}},
                {"method": "POST", "path": "/1.1/classes/no-such", "body": {}},
                "not a request"]
    status, answer = api("POST", "/1.1/batch", body={"requests": requests})
    assert status == 200
    assert "success" in answer[0]
    assert [item.get("error", {}).get("code") for item in answer[1:]] == [111, 137, 103, 107]
    titles = sorted(r["title"] for r in api("GET", POSTS)[1]["results"])
    assert titles == ["a", "ok"]


def test_wsgi_answers_bad_requests_in_the_protocol_shape(server: EmbeddedServer, database: Path,
                                                         seeded: Dict[str, Any]) -> None:
    """The same checks through the WSGI entry ``leanorm serve`` runs (headers as HTTP_* keys)."""
    before = snapshot(database)

    def call(method: str, path: str, body: bytes, content_length: Optional[str] = None) -> Any:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "wsgi.input": io.BytesIO(body),
                   "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
                   "HTTP_X_LC_ID": "leanorm-local", "HTTP_X_LC_KEY": "leanorm-local-key", "wsgi.errors": sys.stderr}
        seen: List[str] = []
        chunks = server(environ, lambda status, headers: seen.append(status))
        return int(seen[0].split()[0]), json.loads(b"".join(chunks))

    status, answer = call("POST", POSTS, b'{"title": ')
    assert (status, answer["code"]) == (400, 107)
    status, answer = call("POST", POSTS, b'{"title": "x"}', content_length="lots")
    assert (status, answer["code"]) == (400, 107)
    status, answer = call("GET", "/1.1/nowhere", b"")
    assert (status, answer["code"]) == (404, 1)
    assert snapshot(database) == before


PARSE = {"X-Parse-Application-Id": "leanorm-local", "X-Parse-REST-API-Key": "leanorm-local-key"}


@pytest.mark.parametrize("method, path, params, body, code", [
    ("POST", "/parse/classes/Post", None, b'{"title":', 107),
    ("GET", "/parse/classes/Post", {"where": '{"score": {"$near": 1}}'}, None, 102),
    ("POST", "/parse/classes/Blog-Post", None, {"a": 1}, 103),
    ("POST", "/parse/classes/Post", None, {"score": "high"}, 111),
    ("POST", "/parse/classes/Post", None, {"title": "b", "slug": "first"}, 137),
])
def test_parse_dialect_answers_the_same_errors(api: Api, database: Path, seeded: Dict[str, Any], method: str,
                                               path: str, params: Optional[Dict[str, str]], body: Any,
                                               code: int) -> None:
    before = snapshot(database)
    status, answer = api(method, path, params, body, headers=PARSE)
    assert (status, answer.get("code")) == (400, code), answer
    assert snapshot(database) == before


def test_parse_dialect_has_no_limit_cap(api: Api, seeded: Dict[str, Any]) -> None:
    status, answer = api("GET", "/parse/classes/Post", params={"limit": "5000"}, headers=PARSE)
    assert status == 200 and len(answer["results"]) == 1
