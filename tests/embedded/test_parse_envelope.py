"""The Parse JS SDK's request envelope (keys, session and real method inside a ``text/plain`` JSON body),
over HTTP: ``leanorm serve`` must read it as Parse Server does, and the same requests run on Parse Server
when the tier has one (``LEANORM_PARSE_URL``; its JavaScript key is not configured, so the requests
that need one run on ``leanorm serve`` only)."""
from __future__ import annotations

import base64
import uuid

import requests

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)


def _class() -> str:
    return "Env" + uuid.uuid4().hex[:10]


def test_a_post_with_method_get_is_a_query_reading_its_parameters_from_the_body(target):
    cls = _class()
    for n in (1, 2, 3):
        assert target.envelope(f"classes/{cls}", {"n": n}, master=True).status_code == 201
    answer = target.envelope(f"classes/{cls}", {"where": {"n": {"$gte": 2}}, "order": "-n", "count": 1},
                             method="GET", master=True)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [row["n"] for row in body["results"]] == [3, 2]
    assert body["count"] == 2
    assert len(target.master_get(f"classes/{cls}")["results"]) == 3  # the query created nothing


def test_no_envelope_key_is_stored(target):
    cls = _class()
    created = target.envelope(f"classes/{cls}", {"title": "kept"}, master=True)
    assert created.status_code == 201, created.text
    stored = target.master_get(f"classes/{cls}/{created.json()['objectId']}")
    assert stored["title"] == "kept"
    assert [key for key in stored if key.startswith("_")] == []


def test_put_and_delete_travel_as_method_overrides(target):
    cls = _class()
    object_id = target.envelope(f"classes/{cls}", {"title": "a"}, master=True).json()["objectId"]
    updated = target.envelope(f"classes/{cls}/{object_id}", {"title": "b"}, method="PUT", master=True)
    assert updated.status_code == 200, updated.text
    assert target.master_get(f"classes/{cls}/{object_id}")["title"] == "b"
    assert target.envelope(f"classes/{cls}/{object_id}", {}, method="DELETE", master=True).status_code == 200
    assert target.master_get(f"classes/{cls}")["results"] == []


def test_a_base64_file_in_an_envelope_is_stored_as_its_bytes(target):
    data = bytes(range(256))
    answer = target.envelope("files/blob.bin", {"base64": base64.b64encode(data).decode(), "_ContentType":
                             "application/octet-stream", "fileData": {"metadata": {}, "tags": {}}}, master=True)
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"].endswith("blob.bin")
    assert requests.get(answer.json()["url"], timeout=30).content == data


def test_the_javascript_key_and_session_token_in_the_envelope_act_as_the_user(served_target):
    name = "env-" + uuid.uuid4().hex[:8]
    signed_up = served_target.envelope("users", {"username": name, "password": "pw-123456"})
    assert signed_up.status_code == 201, signed_up.text
    token = signed_up.json()["sessionToken"]
    me = served_target.envelope("users/me", {}, method="GET", session=token)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == name
    assert "_SessionToken" not in served_target.master_get(f"classes/_User/{me.json()['objectId']}")


def test_a_wrong_key_in_the_envelope_is_refused(served_target):
    original, served_target.js_key = served_target.js_key, "not-the-key"
    try:
        answer = served_target.envelope(f"classes/{_class()}", {"title": "x"})
    finally:
        served_target.js_key = original
    assert answer.status_code in (401, 403)
