"""Parse-only endpoints the Parse JS SDK calls, over HTTP on ``leanorm serve`` and on Parse Server:
``verifyPassword``, ``sessions/me``, ``config``, ``aggregate`` (with ``distinct``)."""
from __future__ import annotations

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
