"""Issue 18, finding 7: a before-hook judges the object as it will be stored, whatever operation the
write uses (a ``Batch`` of ``Increment`` got past a hook capping a balance), in-process and through
``leanorm serve --engine``, in both dialects. The hooks are ``tests/security/hook_engine.py``'s."""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from leanorm.embedded import EmbeddedServer
from tests.security.hook_engine import NOT_FIELDS, engine
from tests.security.raw_http import Raw, unique
from tests.served import Served, serve

CLASS = "HookWallet"
OPEN = {"*": {"read": True, "write": True}}


class InProcess:
    """``EmbeddedServer.handle`` with the interface of ``Raw`` (the LeanCloud dialect)."""

    dialect = "in-process"

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server

    def call(self, method: str, path: str, body: Any = None, params: Optional[Dict[str, Any]] = None,
             master: bool = False, session: Optional[str] = None) -> Tuple[int, Any]:
        key = f"{self.server.settings.master_key},master" if master else self.server.settings.app_key
        headers = {"X-LC-Id": self.server.settings.app_id, "X-LC-Key": key, **({"X-LC-Session": session} if session else {})}
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        resp = self.server.handle(method, "/1.1/" + path, query, headers,
                                  None if body is None else json.dumps(body).encode())
        return resp.status, json.loads(resp.body)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = self.call(method, path, body, **kw)
        assert status < 300, (method, path, status, answer)
        return answer


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("hooked") / "app.sqlite3",
               "--engine", "tests.security.hook_engine:engine") as running:
        yield running


@pytest.fixture(scope="module")
def in_process() -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(engine=engine)
    yield server
    server.close()


@pytest.fixture(params=("in-process", "leancloud", "parse"))
def api(request: pytest.FixtureRequest) -> Any:
    if request.param == "in-process":
        return InProcess(request.getfixturevalue("in_process"))
    return Raw(request.getfixturevalue("hooked"), request.param)


def user(api: Any, name: str) -> str:
    """The objectId of a user called ``name`` (made on first use)."""
    found = api.ok("GET", "classes/_User", params={"where": {"username": name}}, master=True)["results"]
    if found:
        return found[0]["objectId"]
    return api.ok("POST", "users", {"username": name, "password": "pw"})["objectId"]


def pointer(user_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def wallet(api: Any) -> str:
    """A wallet anyone may write, that every hook accepts."""
    return api.ok("POST", f"classes/{CLASS}", {"balance": 1, "flags": 1, "tags": ["keep"], "note": "n",
                                                "ACL": OPEN})["objectId"]


def stored(api: Any, object_id: str) -> Dict[str, Any]:
    return api.ok("GET", f"classes/{CLASS}/{object_id}", master=True)


def fields(obj: Dict[str, Any]) -> Dict[str, Any]:
    """An object's own fields (a Relation's marker apart: the hook sees the change of its members)."""
    return {k: v for k, v in obj.items() if k not in NOT_FIELDS and k != "members"}


def seen_by_hook(obj: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in json.loads(obj["seen"]).items() if k != "members"}


def increment(amount: int) -> Dict[str, Any]:
    return {"__op": "Increment", "amount": amount}


def batch(*ops: Dict[str, Any]) -> Dict[str, Any]:
    return {"__op": "Batch", "ops": list(ops)}


REFUSED = {
    "set": ({"balance": 1000}, 3101),
    "Increment": ({"balance": increment(1000)}, 3101),
    "Decrement": ({"balance": {"__op": "Decrement", "amount": -1000}}, 3101),
    "Batch": ({"balance": batch(increment(1000000))}, 3101),  # the finding
    "Batch of two": ({"balance": batch(increment(60), increment(60))}, 3101),
    "Add": ({"tags": {"__op": "Add", "objects": ["banned"]}}, 3102),
    "AddUnique": ({"tags": {"__op": "AddUnique", "objects": ["banned"]}}, 3102),
    "Remove": ({"tags": {"__op": "Remove", "objects": ["keep"]}}, 3102),
    "Batch of Add": ({"tags": batch({"__op": "Add", "objects": ["ok"]}, {"__op": "Add", "objects": ["banned"]})},
                     3102),
    "Delete": ({"balance": {"__op": "Delete"}}, 3100),
    "BitOr": ({"flags": {"__op": "BitOr", "value": 0x100}}, 3103),
    "BitXor": ({"flags": batch({"__op": "BitXor", "value": 0x300})}, 3103),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_hook_refuses_what_an_operation_would_store(api: Any, name: str) -> None:
    body, code = REFUSED[name]
    object_id = wallet(api)
    before = stored(api, object_id)
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", body)
    if name.startswith("Bit") and api.dialect == "parse":
        code = 111  # bit operations are LeanCloud's: Parse's dialect refuses them whatever the hook
    assert (status, answer.get("code")) == (400, code), answer
    assert stored(api, object_id) == before


@pytest.mark.parametrize("name", ["Batch", "Batch of two", "Increment", "Add"])
def test_a_create_hook_sees_what_the_operations_store(api: Any, name: str) -> None:
    body, code = REFUSED[name]
    body = {"balance": 1, "tags": ["keep"], **body}
    status, answer = api.call("POST", f"classes/{CLASS}", body)
    assert (status, answer.get("code")) == (400, code), answer


ACCEPTED = {
    "Increment": {"balance": increment(5)},
    "Decrement": {"balance": {"__op": "Decrement", "amount": 2}},
    "Batch": {"balance": batch(increment(3), {"__op": "Decrement", "amount": 1})},
    "Add": {"tags": {"__op": "Add", "objects": ["a", {"at": {"__type": "Date", "iso": "2030-01-01T08:00:00+08:00"}}]}},
    "AddUnique": {"tags": {"__op": "AddUnique", "objects": ["keep", "b"]}},
    "Remove": {"tags": batch({"__op": "Add", "objects": ["a"]}, {"__op": "Remove", "objects": ["a"]})},
    "Delete": {"note": {"__op": "Delete"}},
    "Date": {"until": {"__type": "Date", "iso": "2030-06-01T08:00:00+08:00"}},
    "BitAnd": {"flags": batch({"__op": "BitOr", "value": 0x30}, {"__op": "BitAnd", "value": 0x0F},
                              {"__op": "BitXor", "value": 0x02})},
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_hook_saw_exactly_what_was_stored(api: Any, name: str) -> None:
    object_id = wallet(api)
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", ACCEPTED[name])
    if name.startswith("Bit") and api.dialect == "parse":
        assert (status, answer["code"]) == (400, 111)
        return
    assert status == 200, answer
    after = stored(api, object_id)
    assert seen_by_hook(after) == fields(after)
    assert after != stored(api, wallet(api))  # the write did something


def test_a_pointer_sent_as_a_whole_object_reaches_the_hook_as_the_pointer_stored(api: Any) -> None:
    """The hook loads the owner it will be stored with, not the fields a client wrote beside its id."""
    mallory, alice = user(api, "mallory"), user(api, "alice")
    object_id = wallet(api)
    disguised = {"__type": "Object", "className": "_User", "objectId": mallory, "username": "alice"}
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"owner": disguised})
    assert (status, answer.get("code")) == (400, 3104), answer
    assert "owner" not in stored(api, object_id)
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"owner": {**disguised, "objectId": alice, "username": "x"}})
    after = stored(api, object_id)
    assert after["owner"] == pointer(alice) and seen_by_hook(after) == fields(after)


@pytest.mark.parametrize("form", ["AddRelation", "Batch"])
def test_a_hook_sees_the_members_a_relation_change_adds(api: Any, form: str) -> None:
    mallory, alice = user(api, "mallory"), user(api, "alice")
    object_id = wallet(api)
    add = {"__op": "AddRelation", "objects": [pointer(mallory)]}
    change = add if form == "AddRelation" else batch({"__op": "AddRelation", "objects": [pointer(alice)]}, add)
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"members": change})
    assert (status, answer.get("code")) == (400, 3105), answer
    members = {"$relatedTo": {"object": {"__type": "Pointer", "className": CLASS, "objectId": object_id},
                              "key": "members"}}
    assert api.ok("GET", "classes/_User", params={"where": members}, master=True)["results"] == []
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"members": {"__op": "AddRelation", "objects": [pointer(alice)]}})
    seen = json.loads(stored(api, object_id)["seen"])["members"]
    assert seen == {"__op": "AddRelation", "objects": [pointer(alice)]}
    listed = api.ok("GET", "classes/_User", params={"where": members}, master=True)["results"]
    assert [u["objectId"] for u in listed] == [alice]


def test_a_batch_mixing_members_and_values_is_refused(api: Any) -> None:
    object_id = wallet(api)
    mixed = batch({"__op": "AddRelation", "objects": [pointer(user(api, "alice"))]}, increment(1))
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"members": mixed})
    assert (status, answer.get("code")) == (400, 111), answer


def test_a_hook_sees_what_a_dotted_key_stores(api: Any) -> None:
    """A path inside an Object field (``limits.daily``) is applied by the same function for the hook and
    for the write: an ``Increment`` at a path past the cap is refused, one within it is what is stored."""
    object_id = wallet(api)
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"limits": {"daily": 90, "weekly": 5}})
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"limits.daily": batch(increment(11))})
    assert (status, answer.get("code")) == (400, 3106), answer
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"limits.daily": increment(5)})
    after = stored(api, object_id)
    assert after["limits"] == {"daily": 95, "weekly": 5}
    assert json.loads(after["seen"])["limits"] == after["limits"]


def test_a_dotted_key_into_a_value_that_is_not_an_object_is_refused_before_any_hook(api: Any) -> None:
    object_id = wallet(api)
    before = stored(api, object_id)
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"balance.cents": 1000})
    assert (status, answer.get("code")) == (400, 111), answer
    assert stored(api, object_id) == before


def test_an_object_changed_while_its_hook_ran_is_not_written(api: Any) -> None:
    """The hook judged the object as it was; written over another client's change, what is stored is
    not what it saw."""
    object_id = wallet(api)
    status, answer = api.call("PUT", f"classes/{CLASS}/{object_id}", {"note": "race", "balance": increment(1)})
    assert (status, answer.get("code")) == (400, 305), answer
    after = stored(api, object_id)
    assert (after["note"], after["balance"]) == ("raced", 1)


def test_a_class_without_hooks_is_unaffected(api: Any) -> None:
    name = unique("Unhooked")
    object_id = api.ok("POST", f"classes/{name}", {"n": 1})["objectId"]
    api.ok("PUT", f"classes/{name}/{object_id}", {"n": batch(increment(1000000))})
    assert api.ok("GET", f"classes/{name}/{object_id}")["n"] == 1000001


def test_a_batch_request_item_meets_the_same_hook(api: Any) -> None:
    object_id = wallet(api)
    prefix = "/parse/" if api.dialect == "parse" else "/1.1/"
    items = [{"method": "PUT", "path": f"{prefix}classes/{CLASS}/{object_id}",
              "body": {"balance": batch(increment(1000000))}}]
    answers = api.ok("POST", "batch", {"requests": items})
    assert answers[0]["error"]["code"] == 3101, answers
    assert stored(api, object_id)["balance"] == 1


def test_an_object_changed_while_its_delete_hook_ran_is_not_deleted(api: Any) -> None:
    object_id = wallet(api)
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"note": "pinned"})
    status, answer = api.call("DELETE", f"classes/{CLASS}/{object_id}")
    assert (status, answer.get("code")) == (400, 3106), answer
    api.ok("PUT", f"classes/{CLASS}/{object_id}", {"note": "race-delete"})
    status, answer = api.call("DELETE", f"classes/{CLASS}/{object_id}")
    assert (status, answer.get("code")) == (400, 305), answer
    assert stored(api, object_id)["note"] == "pinned"
