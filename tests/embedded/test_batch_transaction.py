"""A batch of object writes is one transaction, each item in a savepoint of its own: one commit for the
batch, and an item that fails is undone alone, answers its error, and takes nothing else with it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from leanorm.embedded import EmbeddedServer

from .conftest import Api, snapshot


def _item(method: str, path: str, body: Any = None) -> Dict[str, Any]:
    return {"method": method, "path": f"/1.1/{path}", **({} if body is None else {"body": body})}


@pytest.fixture
def commits(server: EmbeddedServer) -> List[str]:
    """The COMMIT statements the server's connections run from now on."""
    seen: List[str] = []
    with server.store.read() as conn:  # the idle connection the requests below borrow
        conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def test_a_batch_of_object_writes_commits_once(api: Api, commits: List[str]) -> None:
    status, answers = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Item", {"n": n}) for n in range(10)]})
    assert status == 200 and all("success" in a for a in answers)
    assert len(commits) == 1
    assert api("GET", "/1.1/classes/Item", params={"count": "1", "limit": "0"})[1]["count"] == 10


def test_the_longest_batch_is_one_transaction_and_a_longer_one_is_refused(api: Api, commits: List[str]) -> None:
    """A batch holds other writers back for at most 100 items: it carries no more (budget.MAX_BATCH_ITEMS)."""
    status, answers = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Item", {"n": n}) for n in range(100)]})
    assert status == 200 and len(answers) == 100 and all("success" in a for a in answers)
    assert len(commits) == 1
    status, answer = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Item", {"n": n}) for n in range(250)]})
    assert status == 400 and answer["code"] == 107 and "100" in answer["error"]
    assert api("GET", "/1.1/classes/Item", params={"count": "1", "limit": "0"})[1]["count"] == 100


def test_a_failing_item_is_undone_alone_and_answers_its_error(api: Api, database: Path) -> None:
    """The failing item wrote relation rows and a new field before its error: none of it stays; the
    items before and after it are committed."""
    _, tag = api("POST", "/1.1/classes/Tag", body={"name": "t"})
    pointer = {"__type": "Pointer", "className": "Tag", "objectId": tag["objectId"]}
    status, answers = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Item", {"n": 1}),
        _item("POST", "classes/Item", {"n": 2, "label": "half", "tags": {"__op": "Batch", "ops": [
            {"__op": "AddRelation", "objects": [pointer]}, {"__op": "Unknown"}]}}),
        _item("POST", "classes/Item", {"n": 3})]})
    assert status == 200
    assert "success" in answers[0] and "success" in answers[2]
    assert answers[1]["error"]["code"] == 111
    stored = snapshot(database)
    assert sorted(row[-1] for row in stored["c_Item"]) == ['{"n":1}', '{"n":3}']
    assert stored["_relations"] == []
    assert ("Item", "label") not in {(row[0], row[1]) for row in stored["_schema"]}


def test_a_class_whose_first_write_failed_in_a_batch_can_be_written_later(api: Api) -> None:
    """The failed item created the class's table inside its savepoint: undone, it is not taken as
    existing by the items after it."""
    status, answers = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Fresh", {"n": {"__op": "Unknown"}}),
        _item("POST", "classes/Fresh", {"n": 1})]})
    assert status == 200 and "error" in answers[0] and "success" in answers[1]
    assert api("GET", "/1.1/classes/Fresh", params={"count": "1", "limit": "0"})[1]["count"] == 1


def test_a_batch_with_other_requests_commits_item_by_item(api: Api, commits: List[str]) -> None:
    """Not only object writes (here a sign-up, which hashes a password): each item commits on its own."""
    status, answers = api("POST", "/1.1/batch", body={"requests": [
        _item("POST", "classes/Item", {"n": 1}), _item("POST", "users", {"username": "u", "password": "p"})]})
    assert status == 200 and all("success" in a for a in answers), answers
    assert len(commits) >= 2


def test_a_transactional_batch_is_all_or_nothing(api: Api, database: Path) -> None:
    """``"transaction": true`` (Parse Server's flag): one failing item undoes every other, nothing of the
    batch is committed, and the error answer gives each item's outcome."""
    api("POST", "/1.1/classes/Item", body={"n": 0})
    before = snapshot(database)
    status, answer = api("POST", "/1.1/batch", body={"transaction": True, "requests": [
        _item("POST", "classes/Item", {"n": 1}), _item("POST", "classes/Item", {"n": "not a number"}),
        _item("PUT", "classes/Item/nosuchitem", {"n": 3})]})
    assert status == 400 and answer["code"] == 111 and "request 1 failed" in answer["error"]
    assert answer["results"][0] == {"undone": True}
    assert answer["results"][1]["error"]["code"] == 111 and answer["results"][2]["error"]["code"] == 101
    assert snapshot(database) == before
    status, answers = api("POST", "/1.1/batch", body={"transaction": True, "requests": [
        _item("POST", "classes/Item", {"n": n}) for n in (1, 2)]})
    assert status == 200 and all("success" in a for a in answers)
    assert api("GET", "/1.1/classes/Item", params={"count": "1", "limit": "0"})[1]["count"] == 3


def test_a_transactional_batch_that_cannot_be_one_transaction_is_refused_whole(api: Api, database: Path) -> None:
    """A sign-up (password hashing) cannot hold the write lock: the whole batch is refused, nothing runs."""
    before = snapshot(database)
    status, answer = api("POST", "/1.1/batch", body={"transaction": True, "requests": [
        _item("POST", "classes/Item", {"n": 1}), _item("POST", "users", {"username": "u", "password": "pw-1234"})]})
    assert status == 400 and answer["code"] == 107
    assert snapshot(database) == before
