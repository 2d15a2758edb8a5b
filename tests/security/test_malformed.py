"""Issue 9, items 15 and 16: malformed input is a 4xx with the protocol's code, never a 500, and
stores nothing.

Codes as LeanCloud and Parse answer them: 107 JSON the server will not take (too deep, a lone UTF-16
surrogate, a batch inside a batch), 102 an invalid query, 104 an invalid objectId, 105 an invalid key
or field name, 401 a key that is not the app's.
"""
from typing import Any

import pytest

from tests.security.raw_http import Raw, raw, refused, unique  # noqa: F401 (fixtures)
from tests.served import served  # noqa: F401 (fixture)


def nested_object(depth: int) -> str:
    return '{"d":' + '{"x":' * depth + "1" + "}" * depth + "}"


def nested_and(depth: int) -> Any:
    where: Any = {"n": 1}
    for _ in range(depth):
        where = {"$and": [where]}
    return where


def class_with_one_object(raw: Raw) -> str:
    name = unique("Bad")
    raw.ok("POST", f"classes/{name}", {"n": 1})
    return name


def test_a_key_that_is_not_ascii_is_unauthorized(raw: Raw) -> None:
    name = class_with_one_object(raw)
    header = "X-LC-Key" if raw.dialect == "leancloud" else "X-Parse-REST-API-Key"
    for key in ("k\xe9y", raw.served.app_key + "\xe9"):
        refused(raw.call("POST", f"classes/{name}", {"n": 2}, headers={header: key}), 401, 401)
    assert [r["n"] for r in raw.rows(name)] == [1]
    if raw.dialect == "parse":  # never master: refused, or (the HTTP server drops the header) an ordinary caller
        status, answer = raw.call("GET", "schemas", headers={"X-Parse-Master-Key": "m\xe9"})
        assert status in (401, 403) and answer.get("code") in (401, 119), (status, answer)


def test_nul_in_a_where_key_or_an_order_is_an_invalid_key(raw: Raw) -> None:
    name = class_with_one_object(raw)
    refused(raw.call("GET", f"classes/{name}", params={"where": {"n\x00": 1}}), 400, 105)
    refused(raw.call("GET", f"classes/{name}", params={"where": {"a.b\x00": 1}}), 400, 105)
    refused(raw.call("GET", f"classes/{name}", params={"order": "n\x00"}), 400, 105)
    row = raw.rows(name)[0]
    refused(raw.call("PUT", f"classes/{name}/{row['objectId']}", {"n": 2}, params={"where": {"n\x00": 1}}),
            400, 105)
    assert [r["n"] for r in raw.rows(name)] == [1]


def test_a_lone_surrogate_is_invalid_json(raw: Raw) -> None:
    name = class_with_one_object(raw)
    refused(raw.call("POST", f"classes/{name}", data=b'{"s": "\\ud800"}'), 400, 107)
    refused(raw.call("POST", f"classes/{name}", data=b'{"\\udfff": 1}'), 400, 107)
    refused(raw.call("GET", f"classes/{name}", params={"where": '{"n": "\\ud800"}'}), 400, 107)
    assert raw.ok("POST", f"classes/{name}", data='{"s": "\\ud83d\\ude00"}'.encode())  # a pair is text
    assert sorted(r.get("s", "") for r in raw.rows(name)) == ["", "\U0001F600"]


def test_deep_nesting_is_refused_and_shallow_nesting_kept(raw: Raw) -> None:
    name = class_with_one_object(raw)
    for depth in (150, 900, 5000):
        refused(raw.call("POST", f"classes/{name}", data=nested_object(depth).encode()), 400, 107)
    created = raw.ok("POST", f"classes/{name}", data=nested_object(90).encode())
    stored = raw.ok("GET", f"classes/{name}/{created['objectId']}")["d"]
    for _ in range(90):
        stored = stored["x"]
    assert stored == 1
    assert len(raw.rows(name)) == 2


def test_deep_where_is_refused_and_shallow_where_answered(raw: Raw) -> None:
    name = class_with_one_object(raw)
    refused(raw.call("GET", f"classes/{name}", params={"where": nested_and(300)}), 400, 107)  # too deep JSON
    refused(raw.call("GET", f"classes/{name}", params={"where": nested_and(40)}), 400, 102)  # too deep a query
    sub = {"n": 1}
    for _ in range(20):
        sub = {"n": {"$inQuery": {"where": sub, "className": name}}}
    refused(raw.call("GET", f"classes/{name}", params={"where": sub}), 400, 102)
    assert [r["n"] for r in raw.ok("GET", f"classes/{name}", params={"where": nested_and(10)})["results"]] == [1]


def test_deep_cql_is_a_syntax_error(served) -> None:  # noqa: F811 (fixture)
    leancloud = Raw(served, "leancloud")
    name = class_with_one_object(leancloud)
    for condition in ("(" * 5000 + "n = 1" + ")" * 5000, "not " * 5000 + "n in (1)"):
        refused(leancloud.call("GET", "cloudQuery", params={"cql": f"select * from {name} where {condition}"}),
                400, 300)
    found = leancloud.ok("GET", "cloudQuery", params={"cql": f"select * from {name} where ((not n in (2)))"})
    assert [r["n"] for r in found["results"]] == [1]


def test_batches_cannot_nest(raw: Raw) -> None:
    name = unique("Bad")
    prefix = "/1.1/" if raw.dialect == "leancloud" else "/parse/"
    inner = {"method": "POST", "path": f"{prefix}classes/{name}", "body": {"n": 1}}
    outer = {"requests": [{"method": "POST", "path": f"{prefix}batch", "body": {"requests": [inner] * 3}},
                          inner]}
    answers = raw.ok("POST", "batch", outer)
    assert answers[0]["error"]["code"] == 107 and "success" in answers[1]
    assert len(raw.rows(name)) == 1  # the nested batch's three writes never ran


@pytest.mark.parametrize("object_id", ["a/b", "a\x00b", "a?b", "a b", "x" * 65])
def test_an_object_id_that_is_not_a_plain_name_is_refused(raw: Raw, object_id: str) -> None:
    name = unique("Bad")
    # without --allow-custom-object-id a client may choose no id at all (105); the master key may, but
    # only a plain one (104)
    refused(raw.call("POST", f"classes/{name}", {"objectId": object_id, "n": 1}), 400, 105)
    refused(raw.call("POST", f"classes/{name}", {"objectId": object_id}, master=True), 400, 104)
    assert raw.rows(name) == []


def test_a_client_cannot_store_a_session_token_field(raw: Raw) -> None:
    name = class_with_one_object(raw)
    refused(raw.call("POST", f"classes/{name}", {"sessionToken": "r:forged", "n": 2}), 400, 105)
    row = raw.rows(name)[0]
    refused(raw.call("PUT", f"classes/{name}/{row['objectId']}", {"sessionToken": "r:forged"}), 400, 105)
    user = raw.signup()
    refused(raw.call("PUT", f"users/{user['objectId']}", {"sessionToken": "r:forged"},
                     session=user["sessionToken"]), 400, 105)
    assert [r["n"] for r in raw.rows(name)] == [1] and "sessionToken" not in raw.rows(name)[0]
    me = raw.ok("GET", "users/me", session=user["sessionToken"])
    assert me["sessionToken"] == user["sessionToken"]


def test_the_server_still_answers(raw: Raw) -> None:
    assert "iso" in raw.ok("GET", "date")


def test_a_nul_character_is_stored_or_refused_never_a_server_error(raw: Raw) -> None:
    """U+0000 in a value, a key's value compared in a query, a username: the SQLite store keeps it; the
    PostgreSQL store cannot (neither ``text`` nor ``jsonb`` holds it) and refuses it as JSON it will
    not take (107), storing nothing."""
    name = unique("Nul")
    raw.ok("POST", f"classes/{name}", {"s": "plain"})
    answers = [raw.call("POST", f"classes/{name}", {"s": "a\u0000b"}),
               raw.call("GET", f"classes/{name}", params={"where": {"s": "a\u0000b"}}),
               raw.call("POST", "users", {"username": unique("nul\u0000"), "password": "a-long-password"})]
    for status, answer in answers:
        assert status in (200, 201) or (status, answer.get("code")) == (400, 107), answer
    stored = raw.ok("GET", f"classes/{name}", params={"where": {"s": {"$ne": "plain"}}})["results"]
    assert stored == [] if answers[0][0] == 400 else [r["s"] for r in stored] == ["a\u0000b"]
