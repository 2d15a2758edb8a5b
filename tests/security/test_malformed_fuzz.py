"""Issue 9, item 15 as a property: no request, however malformed, answers 500.

Random bodies and parameters (operators in the wrong places, numbers beyond 64 bits, NUL and lone
surrogates in keys, nesting) against every kind of endpoint, alone and inside a batch. It runs the
handler ``leanorm serve`` runs, in-process, so that it can send thousands of requests;
``LEANORM_FUZZ_EXAMPLES`` sends more (the other files in this folder send each attack over HTTP).
"""
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanorm.embedded import EmbeddedServer

LEANCLOUD = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
PARSE = {"X-Parse-Application-Id": "leanorm-local", "X-Parse-REST-API-Key": "leanorm-local-key"}
WORDS = ["$ne", "$lt", "$gte", "$in", "$nin", "$all", "$exists", "$regex", "$options", "$size", "$select",
         "$dontSelect", "$inQuery", "$notInQuery", "$relatedTo", "$nearSphere", "$maxDistanceInKilometers",
         "$within", "$geoWithin", "$box", "$centerSphere", "$and", "$or", "$nor", "__type", "__op", "className",
         "objectId", "where", "query", "key", "iso", "latitude", "longitude", "objects", "amount", "ACL", "Date",
         "Pointer", "GeoPoint", "Increment", "Add", "Batch", "ops", "username", "password", "requests", "path",
         "method", "body", "name", "token", "url", "base64", "mime_type", "users", "__ignore_hooks"]
KEYS = st.sampled_from(["n", "s", "a", "o", "o.k", "a.0", "createdAt", "", "n\x00", "\ud800", "x" * 200] + WORDS)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                    st.text(max_size=6), st.sampled_from(["F", "_User", "zz", r"(a)\1", "[", "i", "x", "\x00"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=3)), max_leaves=12)
PARAMS = st.dictionaries(
    st.sampled_from(["where", "order", "keys", "include", "limit", "skip", "count", "excludeKeys", "cql",
                     "pvalues", "cursor", "fetchWhenSave"]),
    st.one_of(VALUES.map(json.dumps), st.text(max_size=8),
              st.sampled_from(["-n", "n,-s", "a.b", "select * from F where n in (?)", "-1", "9" * 25])),
    max_size=4)
PATHS = ["classes/F", "classes/F/zz", "scan/classes/F", "cloudQuery", "users", "users/me", "login", "roles",
         "fileTokens", "fileCallback", "files/a.txt", "schemas/F", "classes/_User", "requestSmsCode",
         "requestPasswordReset", "functions/f", "installations", "push", "batch"]


@pytest.fixture(scope="module")
def server():
    backend = EmbeddedServer()
    backend.handle("POST", "/1.1/classes/F", {}, LEANCLOUD, json.dumps(
        {"n": 1, "s": "x", "a": [1, 2], "o": {"k": 1}, "d": {"__type": "Date", "iso": "2020-01-01T00:00:00Z"},
         "g": {"__type": "GeoPoint", "latitude": 1, "longitude": 2}}).encode())
    yield backend
    backend.close()


@settings(max_examples=int(os.environ.get("LEANORM_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(dialect=st.sampled_from(["leancloud", "parse"]), path=st.sampled_from(PATHS), params=PARAMS,
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), body=VALUES)
def test_no_request_answers_500(server, dialect: str, path: str, params: dict, method: str, body) -> None:
    prefix, keys = ("/1.1/", LEANCLOUD) if dialect == "leancloud" else ("/parse/", PARSE)
    raw = None if method in ("GET", "DELETE") else json.dumps(body).encode("utf-8", "surrogatepass")
    alone = server.handle(method, prefix + path, params, keys, raw)
    assert alone.status < 500, alone.body
    batch = {"requests": [{"method": method, "path": prefix + path, "body": body}]}
    inside = server.handle("POST", prefix + "batch", {}, keys, json.dumps(batch).encode("utf-8", "surrogatepass"))
    assert inside.status < 500, inside.body
