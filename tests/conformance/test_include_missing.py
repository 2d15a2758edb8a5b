"""``include`` of a pointer whose object is gone (deleted) or hidden from the caller (its ACL), per dialect.

Parse Server drops what it cannot include: the key of a pointer, the element of an array of pointers
(its ``RestQuery`` replaces each pointer by the object the include query found, and JSON has no
``undefined``), for a find and a get alike. LeanCloud's documentation and SDKs say nothing of the case:
the LeanCloud dialect keeps the pointer, which its SDKs read as an object not fetched (only its id).
"""
from __future__ import annotations

import uuid

import pytest

import leanorm
from tests.conftest import BACKENDS


@pytest.fixture(params=[*BACKENDS, "served-parse"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _pointer(class_name: str, made: dict) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": made["objectId"]}


def test_include_of_a_deleted_or_hidden_pointer_follows_the_dialect(client):
    target, holder = f"Gone{uuid.uuid4().hex[:8]}", f"Holder{uuid.uuid4().hex[:8]}"
    with leanorm.using_master():
        deleted = client.request("POST", f"classes/{target}", body={"n": 1})
        kept = client.request("POST", f"classes/{target}", body={"n": 2})
        hidden = client.request("POST", f"classes/{target}", body={"n": 3, "ACL": {}})
        made = client.request("POST", f"classes/{holder}", body={
            "one": _pointer(target, deleted), "many": [_pointer(target, deleted), _pointer(target, kept)],
            "secret": _pointer(target, hidden), "label": "x"})
        client.request("DELETE", f"classes/{target}/{deleted['objectId']}")

    found = client.request("GET", f"classes/{holder}", params={"include": "one,many,secret"})["results"]
    got = client.request("GET", f"classes/{holder}/{made['objectId']}", params={"include": "one,many,secret"})
    for answer in (found[0], got):
        assert answer["label"] == "x"
        assert [item.get("n") for item in answer["many"] if item["__type"] == "Object"] == [2]
        if client.dialect.name == "parse":
            assert "one" not in answer and "secret" not in answer
            assert [item["objectId"] for item in answer["many"]] == [kept["objectId"]]
        else:
            assert answer["one"] == _pointer(target, deleted) and answer["secret"] == _pointer(target, hidden)
            assert answer["many"][0] == _pointer(target, deleted)
