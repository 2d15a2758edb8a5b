"""Dotted keys in writes and queries (``"objectField.number"``), over HTTP on ``leanorm serve`` and on Parse
Server: an operation or a value at a path inside an Object field, and the path in ``where`` and ``keys``."""
from __future__ import annotations

import json
import uuid

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)


def _class() -> str:
    return "Dot" + uuid.uuid4().hex[:10]


def _get(target, cls: str, object_id: str) -> dict:
    answer = target.rest("GET", f"classes/{cls}/{object_id}", master=True)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_increment_at_a_path_changes_only_that_value(target):
    cls = _class()
    made = target.rest("POST", f"classes/{cls}", json={"objectField": {"number": 5, "label": "x"}}).json()
    answer = target.rest("PUT", f"classes/{cls}/{made['objectId']}",
                         json={"objectField.number": {"__op": "Increment", "amount": 15}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["objectField"]["number"] == 20  # the computed value goes back to the client
    assert _get(target, cls, made["objectId"])["objectField"] == {"number": 20, "label": "x"}


def test_nested_set_and_unset_keep_the_rest_of_the_object(target):
    cls = _class()
    made = target.rest("POST", f"classes/{cls}", json={"obj": {"a": {"b": 0}, "d": 2, "f": 3}}).json()
    answer = target.rest("PUT", f"classes/{cls}/{made['objectId']}",
                         json={"obj.f": 4, "obj.d": {"__op": "Delete"}, "obj.e": "new"})
    assert answer.status_code == 200, answer.text
    assert _get(target, cls, made["objectId"])["obj"] == {"a": {"b": 0}, "f": 4, "e": "new"}
    target.rest("PUT", f"classes/{cls}/{made['objectId']}", json={"obj.a": {"__op": "Delete"}})
    assert _get(target, cls, made["objectId"])["obj"] == {"f": 4, "e": "new"}


def test_a_deep_path_sets_only_its_leaf(served_target):
    """MongoDB's meaning of a path, which Parse Server on MongoDB keeps (on PostgreSQL it replaces ``obj.a``
    with ``{"b": 1}``: docs/embedded.md lists the difference)."""
    cls = _class()
    made = served_target.rest("POST", f"classes/{cls}", json={"obj": {"a": {"b": 0, "c": 1}}}).json()
    answer = served_target.rest("PUT", f"classes/{cls}/{made['objectId']}",
                                json={"obj.a.b": 1, "obj.a.c": {"__op": "Delete"}, "obj.x.y": True})
    assert answer.status_code == 200, answer.text
    assert _get(served_target, cls, made["objectId"])["obj"] == {"a": {"b": 1}, "x": {"y": True}}


def test_a_path_into_a_missing_field_makes_the_object(target):
    cls = _class()
    made = target.rest("POST", f"classes/{cls}", json={"counts.views": {"__op": "Increment", "amount": 3},
                                                       "meta.lang": "en"})
    assert made.status_code == 201, made.text
    stored = _get(target, cls, made.json()["objectId"])
    assert stored["counts"] == {"views": 3} and stored["meta"] == {"lang": "en"}


def test_a_path_into_a_value_that_is_not_an_object_is_refused(target):
    cls = _class()
    made = target.rest("POST", f"classes/{cls}", json={"title": "t"}).json()
    answer = target.rest("PUT", f"classes/{cls}/{made['objectId']}", json={"title.b": 1})
    assert answer.status_code == 400 and answer.json()["code"] == 111, answer.text
    # Parse Server's words for it, which clients may show or match
    assert answer.json()["error"] == f"schema mismatch for {cls}.title; expected String but got Object"
    answer = target.rest("PUT", f"classes/{cls}/{made['objectId']}",
                         json={"title.b": {"__op": "Increment", "amount": 15}})
    assert answer.json()["error"] == f"schema mismatch for {cls}.title; expected String but got Object"
    assert _get(target, cls, made["objectId"])["title"] == "t"


def test_a_value_of_another_type_names_the_class_and_both_types(target):
    cls = _class()
    assert target.rest("POST", f"classes/{cls}", json={"score": 1}).status_code == 201
    answer = target.rest("POST", f"classes/{cls}", json={"score": "high"})
    assert answer.status_code == 400 and answer.json() == {
        "code": 111, "error": f"schema mismatch for {cls}.score; expected Number but got String"}


def test_dotted_keys_in_where_and_keys(target):
    cls = _class()
    for n in (1, 5, 9):
        assert target.rest("POST", f"classes/{cls}", json={"stats": {"n": n, "tag": f"t{n}"}, "title": n}).ok
    found = target.rest("GET", f"classes/{cls}", params={
        "where": json.dumps({"stats.n": {"$gt": 2}}), "order": "stats.n", "keys": "stats.n"}).json()["results"]
    assert [r["stats"]["n"] for r in found] == [5, 9]
    assert all("title" not in r for r in found)  # keys names the object; the other fields stay out
