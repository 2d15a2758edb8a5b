"""Issue 19, items 14, 20 and 21: the Schema API in Parse's shape, as Parse Dashboard and ``Parse.Schema``
use it, over HTTP on ``leanorm serve`` and (``target``) on Parse Server too: classes made and dropped by
the console, typed columns added and deleted with their data, ``required`` and ``defaultValue`` enforced
on writes, ``indexes``, and the open class-level permissions a class without a setting has."""
from __future__ import annotations

import uuid
from typing import Any, Dict

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)
from tests.security.raw_http import Raw, raw  # noqa: F401  (fixture)
from tests.served import served  # noqa: F401  (fixture)

#: Parse's class-level permissions of a class nobody restricted: every operation open to everyone
OPEN = {"find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
        "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}}


def _name(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def _ok(answer: Any, status: int = 200) -> Dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json()


def _error(answer: Any, code: int) -> None:
    assert answer.status_code >= 400 and answer.json()["code"] == code, answer.text


def test_a_class_is_created_with_typed_columns(target):
    name = _name("Dash")
    made = _ok(target.rest("POST", f"schemas/{name}", master=True, json={"fields": {
        "title": {"type": "String"}, "owner": {"type": "Pointer", "targetClass": "_User"},
        "tags": {"type": "Relation", "targetClass": "_Role"}, "when": {"type": "Date"}}}))
    assert made["className"] == name
    fields = _ok(target.rest("GET", f"schemas/{name}", master=True))["fields"]
    assert fields["title"] == {"type": "String"}
    assert fields["owner"] == {"type": "Pointer", "targetClass": "_User"}
    assert fields["tags"] == {"type": "Relation", "targetClass": "_Role"}
    assert fields["when"] == {"type": "Date"}
    assert {"objectId", "createdAt", "updatedAt", "ACL"} <= set(fields)
    _error(target.rest("POST", f"schemas/{name}", master=True, json={}), 103)  # it exists already


def test_a_column_is_added_to_an_existing_class(target):
    name = _name("Dash")
    _ok(target.rest("POST", f"classes/{name}", master=True, json={"n": 1}), 201)
    _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"fields": {"str": {"type": "String"}}}))
    assert _ok(target.rest("GET", f"schemas/{name}", master=True))["fields"]["str"] == {"type": "String"}
    # the column now has its type: another type is refused
    _error(target.rest("POST", f"classes/{name}", master=True, json={"str": 5}), 111)
    _error(target.rest("PUT", f"schemas/{name}", master=True, json={"fields": {"str": {"type": "Number"}}}), 255)


def test_deleting_a_column_deletes_its_data(target):
    name = _name("Dash")
    row = _ok(target.rest("POST", f"classes/{name}", master=True,
                          json={"place": "here", "keep": 1}), 201)
    _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"fields": {"place": {"__op": "Delete"}}}))
    assert "place" not in _ok(target.rest("GET", f"schemas/{name}", master=True))["fields"]
    stored = _ok(target.rest("GET", f"classes/{name}/{row['objectId']}", master=True))
    assert "place" not in stored and stored["keep"] == 1
    # the name is free again, for another type
    _ok(target.rest("POST", f"classes/{name}", master=True, json={"place": 7}), 201)
    _error(target.rest("PUT", f"schemas/{name}", master=True, json={"fields": {"gone": {"__op": "Delete"}}}),
           255)


def test_field_types_are_checked(target):
    name = _name("Dash")
    _error(target.rest("POST", f"schemas/{name}", master=True, json={"fields": {"a": {"type": "Wat"}}}), 111)
    _error(target.rest("POST", f"schemas/{name}", master=True, json={"fields": {"a": {"type": "Pointer"}}}), 135)
    _error(target.rest("POST", f"schemas/{name}", master=True,
                       json={"fields": {"a": {"type": "Number", "defaultValue": "x"}}}), 111)
    _error(target.rest("GET", f"schemas/{name}", master=True), 103)  # nothing was created


def test_required_and_default_values_are_enforced_on_writes(target):
    name = _name("Dash")
    fields = _ok(target.rest("POST", f"schemas/{name}", master=True, json={"fields": {
        "n": {"type": "Number", "required": True}, "s": {"type": "String", "defaultValue": "x"}}}))["fields"]
    assert fields["n"] == {"type": "Number", "required": True}
    assert fields["s"] == {"type": "String", "defaultValue": "x"}
    _error(target.rest("POST", f"classes/{name}", master=True, json={}), 142)
    made = _ok(target.rest("POST", f"classes/{name}", master=True, json={"n": 1}), 201)
    assert made["s"] == "x"  # the answer carries the default, as a hook's change would be
    assert _ok(target.rest("GET", f"classes/{name}/{made['objectId']}", master=True))["s"] == "x"
    given = _ok(target.rest("POST", f"classes/{name}", master=True, json={"n": 2, "s": "mine"}), 201)
    assert _ok(target.rest("GET", f"classes/{name}/{given['objectId']}", master=True))["s"] == "mine"
    path = f"classes/{name}/{made['objectId']}"
    _error(target.rest("PUT", path, master=True, json={"n": {"__op": "Delete"}}), 142)
    _ok(target.rest("PUT", path, master=True, json={"s": {"__op": "Delete"}}))  # no default on update
    assert "s" not in _ok(target.rest("GET", path, master=True))


def test_an_empty_class_is_dropped_and_a_full_one_refused(target):
    name = _name("Dash")
    row = _ok(target.rest("POST", f"classes/{name}", master=True, json={"a": 1}), 201)
    for _ in range(6):  # every worker process learns the class
        _ok(target.rest("GET", f"classes/{name}", master=True))
    _error(target.rest("DELETE", f"schemas/{name}", master=True), 255)
    _ok(target.rest("DELETE", f"classes/{name}/{row['objectId']}", master=True))
    assert _ok(target.rest("DELETE", f"schemas/{name}", master=True)) == {}
    _error(target.rest("GET", f"schemas/{name}", master=True), 103)
    assert name not in [s["className"] for s in _ok(target.rest("GET", "schemas", master=True))["results"]]
    # the name can be used again, with other types, by every worker process (each cached the table)
    for _ in range(6):
        _ok(target.rest("POST", f"classes/{name}", master=True, json={"a": "text"}), 201)


def test_indexes_are_created_listed_and_dropped(target):
    name = _name("Dash")
    _ok(target.rest("POST", f"schemas/{name}", master=True, json={
        "fields": {"n": {"type": "Number"}, "s": {"type": "String"}}, "indexes": {"n_idx": {"n": 1}}}))
    assert _ok(target.rest("GET", f"schemas/{name}", master=True))["indexes"]["n_idx"] == {"n": 1}
    changed = _ok(target.rest("PUT", f"schemas/{name}", master=True,
                              json={"indexes": {"n_idx": {"__op": "Delete"}, "s_1": {"s": 1}}}))
    assert "n_idx" not in changed["indexes"] and changed["indexes"]["s_1"] == {"s": 1}
    _error(target.rest("PUT", f"schemas/{name}", master=True, json={"indexes": {"s_1": {"s": 1}}}), 102)


def test_class_permissions_are_parse_shaped_and_open_by_default(target):
    name = _name("Dash")
    _ok(target.rest("POST", f"classes/{name}", master=True, json={"a": 1}), 201)
    rules = _ok(target.rest("GET", f"schemas/{name}", master=True))["classLevelPermissions"]
    assert {k: v for k, v in rules.items() if k in OPEN} == OPEN
    closed = {**OPEN, "find": {}, "protectedFields": {"*": []}}
    answer = _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"classLevelPermissions": closed}))
    assert answer["classLevelPermissions"]["find"] == {}
    assert _ok(target.rest("GET", f"schemas/{name}", master=True))["classLevelPermissions"]["find"] == {}
    _error(target.rest("GET", f"classes/{name}"), 119)


def test_a_fresh_app_lists_the_user_and_role_classes(target):
    listed = {s["className"]: s for s in _ok(target.rest("GET", "schemas", master=True))["results"]}
    user = listed["_User"]["fields"]
    assert {"username", "password", "email", "emailVerified", "authData"} <= set(user)
    assert user["emailVerified"] == {"type": "Boolean"} and user["authData"] == {"type": "Object"}
    role = listed["_Role"]["fields"]
    assert role["name"] == {"type": "String"}
    assert role["users"] == {"type": "Relation", "targetClass": "_User"}
    assert role["roles"] == {"type": "Relation", "targetClass": "_Role"}
    assert "_File" not in listed
    for schema in listed.values():
        assert "classLevelPermissions" in schema, schema["className"]


def test_the_parse_dialect_lists_sessions_and_never_files(served_target):
    target = served_target
    upload = target.rest("POST", "files/hello.txt", data=b"hi")
    assert upload.status_code == 201, upload.text
    listed = {s["className"]: s for s in _ok(target.rest("GET", "schemas", master=True))["results"]}
    assert "_File" not in listed
    assert listed["_Session"]["fields"]["user"] == {"type": "Pointer", "targetClass": "_User"}
    _error(target.rest("GET", "schemas/_File", master=True), 103)


def test_the_leancloud_dialect_keeps_its_schema_map(served):
    raw = Raw(served, "leancloud")
    name = _name("Dash")
    raw.ok("POST", f"classes/{name}", {"a": 1}, master=True)
    raw.ok("PUT", f"schemas/{name}", {"fields": {"b": {"type": "String"}}}, master=True)
    raw.signup()
    listed = raw.ok("GET", "schemas", master=True)
    assert listed[name]["b"] == {"type": "String"} and listed[name]["a"] == {"type": "Number"}
    assert listed["_User"]["username"] == {"type": "String"}
    raw.ok("PUT", f"schemas/{name}", {"fields": {"b": {"__op": "Delete"}}}, master=True)
    assert "b" not in raw.ok("GET", f"schemas/{name}", master=True)["fields"]


def test_schema_writes_need_the_master_key(raw: Raw):
    name = _name("Dash")
    for method in ("POST", "PUT", "DELETE"):
        status, answer = raw.call(method, f"schemas/{name}", {"fields": {"a": {"type": "String"}}})
        assert status == 403, (method, answer)
    status, _ = raw.call("GET", f"schemas/{name}", master=True)
    assert status != 200  # nothing was created


def test_the_permissions_answered_are_those_enforced(served_target):
    """An operation a setting leaves out is open on ``leanorm serve`` (``permissions.permit``), and the
    answer says so: a console must not show a class closed while clients still write to it."""
    target = served_target
    name = _name("Dash")
    _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"classLevelPermissions": {"find": {}}}))
    rules = _ok(target.rest("GET", f"schemas/{name}", master=True))["classLevelPermissions"]
    assert rules["find"] == {}
    created = target.rest("POST", f"classes/{name}", json={"a": 1})
    assert (rules["create"] == {"*": True}) == (created.status_code == 201), (rules, created.text)


def test_a_class_is_created_by_name_in_the_body(target):
    name = _name("Dash")
    made = _ok(target.rest("POST", "schemas", master=True,
                           json={"className": name, "fields": {"title": {"type": "String"}}}))
    assert made["className"] == name and made["fields"]["title"] == {"type": "String"}
    _error(target.rest("POST", "schemas", master=True, json={}), 135)
    _error(target.rest("POST", f"schemas/{name}x", master=True, json={"className": name}), 103)


def test_a_default_value_is_answered_as_declared_and_stored_in_stored_form(target):
    """The schema keeps a field's ``defaultValue`` as it was declared (an open Polygon stays open, as
    Parse keeps it); an object given the default stores it as any written value (the Polygon closed)."""
    name = _name("Dash")
    shape = {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]}
    fields = _ok(target.rest("POST", f"schemas/{name}", master=True, json={"fields": {
        "area": {"type": "Polygon", "defaultValue": shape}}}))["fields"]
    assert fields["area"] == {"type": "Polygon", "defaultValue": shape}
    assert _ok(target.rest("GET", f"schemas/{name}", master=True))["fields"]["area"]["defaultValue"] == shape
    made = _ok(target.rest("POST", f"classes/{name}", master=True, json={"n": 1}), 201)
    stored = _ok(target.rest("GET", f"classes/{name}/{made['objectId']}", master=True))["area"]
    assert stored["coordinates"] == [[0, 0], [0, 1], [1, 1], [0, 0]]


#: Parse's class-level permissions where nothing is permitted (the master key alone)
CLOSED = {**{op: {} for op in OPEN}, "protectedFields": {}}


def test_a_permissions_setting_closes_what_it_does_not_name(target):
    """As on Parse Server: a stored setting permits only what it names (an operation it leaves out is
    closed), a setting naming nothing (``{}``, or a bare number as ``Parse.Schema.setCLP(1234)`` sends)
    closes every operation, and a full setting is answered as set."""
    name = _name("Dash")
    _ok(target.rest("POST", f"classes/{name}", master=True, json={"a": 1}), 201)
    answer = _ok(target.rest("PUT", f"schemas/{name}", master=True,
                             json={"classLevelPermissions": {"find": {"*": True}, "get": {"*": True}}}))
    assert answer["classLevelPermissions"] == {**CLOSED, "find": {"*": True}, "get": {"*": True}}
    assert _ok(target.rest("GET", f"classes/{name}"))["results"]  # named: open
    _error(target.rest("POST", f"classes/{name}", json={"a": 2}), 119)  # not named: closed
    for nothing in (1234, {}):
        answer = _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"classLevelPermissions": nothing}))
        assert answer["classLevelPermissions"] == CLOSED, nothing
        _error(target.rest("GET", f"classes/{name}"), 119)
    full = {"get": {"requiresAuthentication": True}, "find": {}, "count": {}, "create": {"*": True},
            "update": {"requiresAuthentication": True}, "delete": {}, "addField": {}, "protectedFields": {}}
    assert _ok(target.rest("PUT", f"schemas/{name}", master=True,
                           json={"classLevelPermissions": full}))["classLevelPermissions"] == full
    _error(target.rest("PUT", f"schemas/{name}", master=True, json={"classLevelPermissions": "find"}), 107)
    reset = _ok(target.rest("PUT", f"schemas/{name}", master=True, json={"classLevelPermissions": None}))
    assert {k: v for k, v in reset["classLevelPermissions"].items() if k in OPEN} == OPEN  # the default again
    assert _ok(target.rest("POST", f"classes/{name}", json={"a": 3}), 201)
