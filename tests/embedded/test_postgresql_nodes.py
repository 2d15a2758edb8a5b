"""Two ``leanorm serve`` processes on one PostgreSQL database stay exact when they write at once:
increments, ``AddUnique``, unique usernames and role names, conditional saves and transactional batches,
each raced from both nodes (an app class's writes run side by side there, row-locked: a lost update
or a duplicate would show here); the change feed gives every write once, in commit order, to a reader
following it while they run; a database restart costs no request an error; and a database an older
version set up is set up again.

Runs when ``LEANORM_TEST_POSTGRESQL`` names a test database (``tests/postgresql.py``)."""
from __future__ import annotations

import importlib
import threading
import time
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from leanorm.embedded import EmbeddedServer
from tests import postgresql
from tests.served import Served, serve

THREADS_PER_NODE = 4


@pytest.fixture(scope="module")
def nodes() -> Iterator[Tuple[Served, Served]]:
    url = postgresql.schema_url("two-nodes")
    unique = ("--unique-index", "Coupon.code")
    with serve(url, *unique) as first, serve(url, *unique) as second:  # type: ignore[arg-type]
        yield first, second


def _call(node: Served, method: str, path: str, body: Any = None, params: Any = None,
          master: bool = False) -> Tuple[int, Any]:
    key = f"{node.master_key},master" if master else node.app_key
    resp = requests.request(method, f"{node.base_url}/1.1/{path}", json=body, params=params, timeout=60,
                            headers={"X-LC-Id": node.app_id, "X-LC-Key": key})
    return resp.status_code, resp.json()


def _race(nodes: Tuple[Served, Served], times: int, work: Any) -> List[Any]:
    """``work(node, i)`` ``times`` times, spread over both nodes and several threads each."""
    with ThreadPoolExecutor(2 * THREADS_PER_NODE) as pool:
        return list(pool.map(lambda i: work(nodes[i % 2], i), range(times)))


def _create(node: Served, class_name: str, body: Any) -> str:
    status, answer = _call(node, "POST", f"classes/{class_name}", body)
    assert status == 201, answer
    return str(answer["objectId"])


def _fetch(node: Served, class_name: str, object_id: str) -> Any:
    status, answer = _call(node, "GET", f"classes/{class_name}/{object_id}")
    assert status == 200, answer
    return answer


def test_increments_from_two_nodes_lose_nothing(nodes: Tuple[Served, Served]) -> None:
    object_id = _create(nodes[0], "Tally", {"n": 0})
    answers = _race(nodes, 120, lambda node, i: _call(node, "PUT", f"classes/Tally/{object_id}",
                                                     {"n": {"__op": "Increment", "amount": 1}})[0])
    assert answers == [200] * 120
    assert _fetch(nodes[1], "Tally", object_id)["n"] == 120


def test_add_unique_from_two_nodes_keeps_each_value_once(nodes: Tuple[Served, Served]) -> None:
    object_id = _create(nodes[0], "Tagged", {"tags": []})
    _race(nodes, 60, lambda node, i: _call(node, "PUT", f"classes/Tagged/{object_id}",
                                          {"tags": {"__op": "AddUnique", "objects": [f"t{i % 7}", f"t{i % 5}"]}}))
    tags = _fetch(nodes[0], "Tagged", object_id)["tags"]
    assert sorted(tags) == sorted({f"t{i}" for i in range(7)})


def _assert_made_once(answers: List[Tuple[int, Dict[str, Any]]], refusal: int, node: Served, path: str,
                      where: Dict[str, Any]) -> None:
    """Of racing creates, one was made (201), every other refused with ``refusal``, and ``path`` holds one
    object matching ``where``."""
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1, answers
    assert all(answer["code"] == refusal for status, answer in answers if status != 201)
    status, found = _call(node, "GET", path, params={"where": json.dumps(where), "count": "1", "limit": "0"},
                          master=True)
    assert status == 200 and found["count"] == 1


def test_one_username_signs_up_once_across_nodes(nodes: Tuple[Served, Served]) -> None:
    answers = _race(nodes, 16, lambda node, i: _call(node, "POST", "users",
                                                    {"username": "same-name", "password": f"pw-{i}-long"}))
    _assert_made_once(answers, 202, nodes[1], "users", {"username": "same-name"})


def test_conditional_saves_from_two_nodes_sell_each_item_once(nodes: Tuple[Served, Served]) -> None:
    object_id = _create(nodes[0], "Stock", {"left": 10})
    where = json.dumps({"left": {"$gt": 0}})
    answers = _race(nodes, 30, lambda node, i: _call(
        node, "PUT", f"classes/Stock/{object_id}", {"left": {"__op": "Increment", "amount": -1}},
        params={"where": where}))
    sold = [answer for status, answer in answers if status == 200]
    refused = [answer for status, answer in answers if status != 200]
    assert len(sold) == 10
    assert all(answer["code"] == 305 for answer in refused)
    assert _fetch(nodes[1], "Stock", object_id)["left"] == 0


def test_increments_of_many_objects_from_two_nodes_lose_nothing(nodes: Tuple[Served, Served]) -> None:
    """Writes of different objects run side by side (each row locked alone): none is lost either."""
    ids = [_create(nodes[i % 2], "Tallies", {"n": 0}) for i in range(6)]
    answers = _race(nodes, 180, lambda node, i: _call(node, "PUT", f"classes/Tallies/{ids[i % 6]}",
                                                     {"n": {"__op": "Increment", "amount": 1}})[0])
    assert answers == [200] * 180
    assert [_fetch(nodes[1], "Tallies", object_id)["n"] for object_id in ids] == [30] * 6


def test_one_role_name_is_created_once_across_nodes(nodes: Tuple[Served, Served]) -> None:
    status, answer = _call(nodes[0], "POST", "roles", {"name": "first", "ACL": {"*": {"read": True}}}, master=True)
    assert status == 201, answer  # the class and its fields exist: the race below is of the writes alone
    answers = _race(nodes, 12, lambda node, i: _call(node, "POST", "roles", {
        "name": "editors", "ACL": {"*": {"read": True}}}, master=True))
    _assert_made_once(answers, 137, nodes[0], "roles", {"name": "editors"})


def test_a_condition_on_another_object_holds_when_both_are_saved_at_once(nodes: Tuple[Served, Served]) -> None:
    """Write skew: each of two doctors goes off call only if the other is on call (a ``where`` reading the
    other object, ``$inQuery``). Saved at once on two nodes, one of them must stay on call: such a
    condition runs its save alone (no lock holds the other object still while it is read)."""
    def pair() -> Tuple[str, str]:
        first, second = (_create(nodes[0], "Doctor", {"onCall": True}) for _ in range(2))
        for one, other in ((first, second), (second, first)):
            _call(nodes[0], "PUT", f"classes/Doctor/{one}",
                  {"buddy": {"__type": "Pointer", "className": "Doctor", "objectId": other}})
        return first, second
    pairs = [pair() for _ in range(8)]
    start = threading.Barrier(2 * THREADS_PER_NODE)
    where = json.dumps({"buddy": {"$inQuery": {"className": "Doctor", "where": {"onCall": True}}}})

    def off_call(node: Served, i: int) -> int:
        if i < 2 * THREADS_PER_NODE:
            start.wait(timeout=30)
        return _call(node, "PUT", f"classes/Doctor/{pairs[i // 2][i % 2]}", {"onCall": False},
                     params={"where": where})[0]
    _race(nodes, 16, off_call)
    on_call = [[_fetch(nodes[1], "Doctor", object_id)["onCall"] for object_id in doctors] for doctors in pairs]
    assert all(any(states) for states in on_call), on_call


def test_a_unique_field_of_an_app_class_takes_a_value_once_across_nodes(nodes: Tuple[Served, Served]) -> None:
    """``--unique-index``: creates of an app class run side by side, and the database's unique index
    (not a read before the insert) refuses the second of a value."""
    _create(nodes[0], "Coupon", {"code": "first"})
    answers = _race(nodes, 16, lambda node, i: _call(node, "POST", "classes/Coupon", {"code": "SAVE10", "n": i}))
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1, answers
    assert all(answer["code"] == 137 for status, answer in answers if status != 201)


def test_a_new_field_raced_with_two_types_from_two_nodes_gets_one(nodes: Tuple[Served, Served]) -> None:
    """A field's first type is learnt by one write; the writes racing it with the other type are refused
    (111), on either node (learning it runs alone: its type is read and written with no writer between)."""
    _create(nodes[1], "Learnt", {"other": 1})
    start = threading.Barrier(2 * THREADS_PER_NODE)

    def work(node: Served, i: int) -> Tuple[int, Any]:
        if i < 2 * THREADS_PER_NODE:  # the first writes leave together: the field's first type is raced
            start.wait(timeout=30)
        return _call(node, "POST", "classes/Learnt", {"fresh": i if i // 2 % 2 else f"text {i}"})  # both on each node
    answers = _race(nodes, 24, work)
    kinds = {type(i if i // 2 % 2 else "") for i, (status, _) in enumerate(answers) if status == 201}
    assert len(kinds) == 1, answers
    assert all(answer["code"] == 111 for status, answer in answers if status != 201)
    status, found = _call(nodes[0], "GET", "classes/Learnt", params={"where": json.dumps({"fresh": {"$exists": True}}),
                                                                     "limit": "100"})
    assert status == 200 and {type(row["fresh"]) for row in found["results"]} == kinds
    assert len(found["results"]) == [status for status, _ in answers].count(201) == 12


def test_transactional_batches_and_single_writes_from_two_nodes_add_up(nodes: Tuple[Served, Served]) -> None:
    """All-or-nothing batches moving one unit between two objects (run alone) race single increments of
    one of them (run side by side): every unit is where the acknowledged writes put it."""
    source = _create(nodes[0], "Account", {"balance": 100})
    sink = _create(nodes[1], "Account", {"balance": 0})

    def work(node: Served, i: int) -> int:
        if i % 2:
            return _call(node, "PUT", f"classes/Account/{source}", {"balance": {"__op": "Increment", "amount": 1}})[0]
        moves = [{"method": "PUT", "path": f"/1.1/classes/Account/{object_id}",
                  "body": {"balance": {"__op": "Increment", "amount": amount}}}
                 for object_id, amount in ((source, -1), (sink, 1))]
        status, answer = _call(node, "POST", "batch", {"requests": moves, "transaction": True})
        assert status == 200 and all("success" in item for item in answer), answer
        return status
    assert _race(nodes, 80, work) == [200] * 80
    assert (_fetch(nodes[0], "Account", source)["balance"], _fetch(nodes[1], "Account", sink)["balance"]) == (100, 40)


def test_the_change_feed_gives_a_follower_every_write_of_two_nodes_once_in_commit_order(
        nodes: Tuple[Served, Served]) -> None:
    """Writers on both nodes at once, side by side, while a reader follows the feed as live queries do
    (``changes_after`` from the last ``seq`` it saw): it sees one change per acknowledged write, with
    no number skipped or seen twice (a reader passing a number whose write commits later would skip
    it), and each object's changes in the order they were made (each ``before`` the previous ``after``)."""
    store_module = importlib.import_module("leanorm.embedded.storage.postgresql")  # needs psycopg
    ids = [_create(nodes[i % 2], "Followed", {"n": 0}) for i in range(4)]
    store = store_module.PostgreSQLStore(postgresql.schema_url("two-nodes"))
    seen: List[Any] = []
    done = threading.Event()

    def follow(after: int) -> None:
        while True:
            finished = done.is_set()  # read before the last pass: it sees every write acknowledged by then
            changes, missed = store.changes_after(after)
            assert not missed
            seen.extend(changes)
            after = changes[-1].seq if changes else after
            if finished and not changes:
                return
            if not changes:
                store.wait_for_changes(0.05)
    try:
        reader = ThreadPoolExecutor(1)
        following = reader.submit(follow, store.latest_change())  # where it starts: before the first write
        answers = _race(nodes, 160, lambda node, i: _call(node, "PUT", f"classes/Followed/{ids[i % 4]}",
                                                         {"n": {"__op": "Increment", "amount": 1}})[0])
        done.set()
        following.result(timeout=60)
        reader.shutdown()
    finally:
        store.close()
    assert answers == [200] * 160
    seqs = [change.seq for change in seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a number skipped, repeated or out of order"
    assert len(seen) == 160 and {change.object_id for change in seen} == set(ids)
    by_object: Dict[str, List[Tuple[int, int]]] = defaultdict(list)
    for change in seen:
        assert change.before is not None and change.after is not None
        by_object[change.object_id].append((change.before["n"], change.after["n"]))
    assert all(steps == [(k, k + 1) for k in range(40)] for steps in by_object.values()), by_object


def test_a_database_restart_costs_no_request_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections the pool holds die with the database (a restart, a failover): the next requests get
    new ones, not errors (a connection that rested is tried before it is lent; here every one is)."""
    psycopg = pytest.importorskip("psycopg")
    store_module = importlib.import_module("leanorm.embedded.storage.postgresql")  # needs psycopg
    monkeypatch.setattr(store_module, "RESTED", 0.0)
    url = postgresql.schema_url("restarted") + "&application_name=leanorm-restart-test"
    server = EmbeddedServer(url)
    keys = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
    try:
        assert server.handle("POST", "/1.1/classes/Kept", {}, keys, b'{"n": 1}').status == 201
        with psycopg.connect(postgresql.database_url(), autocommit=True) as admin:
            ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = 'leanorm-restart-test'").fetchall()
        assert ended  # the server's pooled connection (and its listener's) are gone
        statuses = [server.handle("GET", "/1.1/classes/Kept", {}, keys, None).status for _ in range(3)]
        statuses.append(server.handle("POST", "/1.1/classes/Kept", {}, keys, b'{"n": 2}').status)
        assert statuses == [200, 200, 200, 201]
    finally:
        server.close()


def test_a_write_on_one_node_goes_by_a_schema_another_node_just_changed(nodes: Tuple[Served, Served]) -> None:
    """Each node keeps the class catalogue in memory between requests; a write checks it is current
    under the writers' lock, so a type another node declared a moment ago is enforced at once."""
    first, second = nodes
    _create(second, "Typed", {"label": "x"})  # the second node reads (and keeps) Typed's schema
    _fetch(second, "Typed", _create(second, "Typed", {"label": "y"}))
    status, answer = _call(first, "PUT", "schemas/Typed", {"className": "Typed",
                                                           "fields": {"size": {"type": "String"}}}, master=True)
    assert status == 200, answer
    status, answer = _call(second, "POST", "classes/Typed", {"size": 5})
    assert (status, answer["code"]) == (400, 111)
    status, answer = _call(second, "POST", "classes/Typed", {"size": "large"})
    assert status == 201, answer


def test_sessions_and_login_throttles_hold_on_every_node(nodes: Tuple[Served, Served]) -> None:
    """What a request needs is in the database: a session made on one node serves on the other, and
    failed logins counted on both nodes together lock the account on either."""
    first, second = nodes
    status, user = _call(first, "POST", "users", {"username": "roaming", "password": "right-password"})
    assert status == 201, user
    resp = requests.get(f"{second.base_url}/1.1/users/me", timeout=60,
                        headers={"X-LC-Id": second.app_id, "X-LC-Key": second.app_key,
                                 "X-LC-Session": user["sessionToken"]})
    assert (resp.status_code, resp.json()["username"]) == (200, "roaming")
    wrong = [_call(nodes[i % 2], "POST", "login", {"username": "roaming", "password": "wrong"})[1]["code"]
             for i in range(6)]
    assert wrong == [210] * 5 + [219]  # five wrong passwords across both nodes, then locked
    assert _call(second, "POST", "login", {"username": "roaming", "password": "right-password"})[1]["code"] == 219


def test_class_permissions_closed_on_one_node_close_reads_on_the_other(nodes: Tuple[Served, Served]) -> None:
    """A node keeps the class permissions it read; a change on another node reaches it when its
    listener hears the commit (milliseconds): reads there are refused from then on, never left open.
    Each worker process has a listener of its own, and hears the change when it does: the reading node
    is one process here, so that once a read there is refused, its listener has heard (with two, the
    first refusals can come from the one that heard while the other has not yet: one round in forty)."""
    first, _ = nodes
    with serve(postgresql.schema_url("two-nodes"), "--workers", "1") as second:  # type: ignore[arg-type]
        object_id = _create(second, "Closing", {"n": 1})
        assert _call(second, "GET", "classes/Closing")[0] == 200  # the second node keeps Closing's (no) rules
        status, answer = _call(first, "PUT", "schemas/Closing", {"className": "Closing", "classLevelPermissions": {
            "find": {}, "get": {}, "count": {}, "create": {"*": True}, "update": {}, "delete": {}, "addField": {}}},
            master=True)
        assert status == 200, answer

        deadline = time.monotonic() + 10  # a bound on waiting for the notification, not a measure
        while _call(second, "GET", "classes/Closing")[0] != 403 and time.monotonic() < deadline:
            time.sleep(0.01)
        answers = [_call(second, "GET", path) for path in ("classes/Closing", f"classes/Closing/{object_id}") * 4]
    assert [(status, answer["code"]) for status, answer in answers] == [(403, 119)] * 8


def test_a_database_an_older_version_set_up_is_set_up_again() -> None:
    """Opening a database whose functions an older leanorm made remakes them (the text-search
    dictionaries it made already included) and answers as before."""
    import leanorm
    url = postgresql.schema_url("set-up-again")
    where = {"subject": {"$text": {"$search": {"$term": "bake"}}}}
    for _ in range(2):
        client = leanorm.connect("local+" + url, default=False)
        with leanorm.using_master():
            client.request("POST", "classes/Note", body={"subject": "Baking a cake"})
            found = client.request("GET", "classes/Note", params={"where": where})["results"]
        assert {note["subject"] for note in found} == {"Baking a cake"}
        postgresql.run(url, ["UPDATE _leanorm SET value = '0' WHERE name = 'functions'"])
        client.close()


def test_a_change_made_through_a_node_holds_at_once_on_each_of_its_workers() -> None:
    """A node's workers are processes, each keeping the catalogue it read: the one that made a change
    forgets it at once, the others when their listeners hear it, milliseconds later. A client's next
    request may reach another worker within those milliseconds: a class it just made must be found
    there, and class permissions it just closed must refuse (before, about one round in five answered
    200 where the permissions had just been closed, one in twenty an empty list for a class just made)."""
    with serve(postgresql.schema_url("one-node"), "--workers", "2") as node:  # type: ignore[arg-type]
        wrong = []
        for round_ in range(30):
            name = f"Made{round_}"
            for _ in range(4):  # each worker finds the class absent, and keeps that
                assert _call(node, "GET", f"classes/{name}") == (200, {"results": []})
            object_id = _create(node, name, {"n": 1})
            found = [len(_call(node, "GET", f"classes/{name}")[1]["results"]) for _ in range(2)]
            status, answer = _call(node, "PUT", f"schemas/{name}", {"className": name, "classLevelPermissions": {
                "find": {}, "get": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}},
                master=True)
            assert status == 200, answer
            refused = [_call(node, "GET", path)[0] for path in (f"classes/{name}", f"classes/{name}/{object_id}")]
            if found != [1, 1] or refused != [403, 403]:
                wrong.append((name, found, refused))
    assert wrong == []
