"""Parse-only endpoints the Parse JS SDK calls, over HTTP on ``leanorm serve`` and on Parse Server:
``verifyPassword``, ``sessions/me``, ``config``, ``aggregate`` (with ``distinct``)."""
from __future__ import annotations

import json
import uuid

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)


def _signed_up(target) -> dict:
    name = "pe-" + uuid.uuid4().hex[:10]
    answer = target.rest("POST", "users", json={"username": name, "password": "pw-123456"})
    assert answer.status_code == 201, answer.text
    return {**answer.json(), "username": name}


def test_verify_password_answers_the_user_without_opening_a_session(target):
    user = _signed_up(target)
    answer = target.rest("GET", "verifyPassword", params={"username": user["username"], "password": "pw-123456"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["objectId"] == user["objectId"]
    assert "sessionToken" not in answer.json()
    wrong = target.rest("GET", "verifyPassword", params={"username": user["username"], "password": "nope"})
    assert wrong.json()["code"] == 101


def test_sessions_me_is_the_callers_session(target):
    user = _signed_up(target)
    answer = target.rest("GET", "sessions/me", session=user["sessionToken"])
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["sessionToken"] == user["sessionToken"]
    assert session["user"] == {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    assert target.rest("GET", "sessions/me").json()["code"] == 209


def test_config_is_written_by_the_master_key_and_read_by_anyone(target):
    name, hidden = "welcome_" + uuid.uuid4().hex[:8], "secret_" + uuid.uuid4().hex[:8]
    refused = target.rest("PUT", "config", json={"params": {name: "hi"}})
    assert refused.status_code == 403
    saved = target.rest("PUT", "config", master=True,
                        json={"params": {name: {"n": 1}, hidden: "s"}, "masterKeyOnly": {hidden: True}})
    assert saved.json() == {"result": True}
    try:
        public = target.rest("GET", "config").json()["params"]
        assert public[name] == {"n": 1} and hidden not in public
        assert target.rest("GET", "config", master=True).json()["params"][hidden] == "s"
    finally:
        target.rest("PUT", "config", master=True,
                    json={"params": {name: {"__op": "Delete"}, hidden: {"__op": "Delete"}}})
    assert name not in target.rest("GET", "config").json()["params"]


def _items(target) -> str:
    cls = "Agg" + uuid.uuid4().hex[:10]
    for n in range(10):
        assert target.rest("POST", f"classes/{cls}", json={"n": n, "cat": "odd" if n % 2 else "even"}).ok
    return cls


def test_aggregate_groups_sums_and_sorts(target):
    cls = _items(target)
    pipeline = [{"$match": {"n": {"$lt": 8}}}, {"$group": {"_id": "$cat", "total": {"$sum": "$n"}}},
                {"$sort": {"total": -1}}]
    assert target.rest("GET", f"aggregate/{cls}", params={"pipeline": json.dumps(pipeline)}
                       ).status_code in (401, 403)  # the master key only
    answer = target.rest("GET", f"aggregate/{cls}", master=True,
                         params={"pipeline": json.dumps(pipeline)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [{"objectId": "odd", "total": 16}, {"objectId": "even", "total": 12}]


def test_distinct_answers_each_value_once(target):
    cls = _items(target)
    answer = target.rest("GET", f"aggregate/{cls}", master=True,
                         params={"distinct": "cat", "where": '{"n": {"$gte": 1}}'})
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["results"]) == ["even", "odd"]
    only = target.rest("GET", f"aggregate/{cls}", master=True, params={"distinct": "cat", "where": '{"n": 0}'})
    assert only.json()["results"] == ["even"]


def test_a_push_is_recorded_as_a_push_status_with_any_query(served_target):
    """``POST push`` takes a ``where`` with query operators (``$eq``, ``$in``) and answers the id of its
    ``_PushStatus`` record in ``X-Parse-Push-Status-Id`` (what ``Parse.Push.send`` returns), a record
    the master key reads and clients do not. (Parse Server without a push adapter answers 115.)"""
    target = served_target
    where = {"deviceType": {"$eq": "nosuchdevice"}, "channels": {"$in": ["news"]}}
    answer = target.rest("POST", "push", master=True, json={"data": {"alert": "hi"}, "where": where})
    assert answer.status_code in (200, 201) and answer.json() == {"result": True}, answer.text
    status_id = answer.headers["X-Parse-Push-Status-Id"]
    assert "X-Parse-Push-Status-Id" in answer.headers.get("Access-Control-Expose-Headers", "")
    status = target.rest("GET", f"classes/_PushStatus/{status_id}", master=True)
    assert status.status_code == 200, status.text
    record = status.json()
    assert record["objectId"] == status_id and json.loads(record["query"]) == where
    assert json.loads(record["payload"]) == {"alert": "hi"} and record["source"] == "rest"
    refused = target.rest("GET", f"classes/_PushStatus/{status_id}")
    assert refused.status_code >= 400, refused.text
