"""``EmbeddedServer.create_counter``: counts of a class, or of one value of a counted field, read from
counters kept per (value, ACL) by triggers; every caller gets exactly the count of the objects it may
read, through inserts, updates, ACL changes, deletes and purges."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List

import pytest

from leanorm.embedded import EmbeddedServer
from leanorm.embedded.serving import ServeOptions, prepare

from .conftest import KEYS, MASTER, Api

POSTS = "/1.1/classes/Post"
WHERES: List[Dict[str, Any]] = [{}, {"group": "g1"}, {"group": "g2"}, {"group": "none"}, {"score": 3},
                                {"score": 3.0}, {"score": "3"}, {"group": 1}]


@pytest.fixture
def users(api: Api) -> Dict[str, Dict[str, Any]]:
    """Two signed-up users, ``alice`` and ``admin`` (in role Admin): their objectId and sessionToken."""
    tokens = {}
    for name in ("alice", "admin"):
        status, user = api("POST", "/1.1/users", body={"username": name, "password": "pw"})
        assert status == 201, user
        tokens[name] = user
    assert api("POST", "/1.1/roles", headers=MASTER, body={
        "name": "Admin", "ACL": {"*": {"read": True}},
        "users": {"__op": "AddRelation", "objects": [
            {"__type": "Pointer", "className": "_User", "objectId": tokens["admin"]["objectId"]}]}})[0] == 201
    return tokens


@pytest.fixture
def callers(users: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, str]]:
    """Anonymous, the two users and the master key, as request headers."""
    return {"anonymous": KEYS, "master": MASTER,
            **{name: {**KEYS, "X-LC-Session": user["sessionToken"]} for name, user in users.items()}}


def _acls(alice: str) -> List[Any]:
    return [None, {"*": {"read": True}}, {alice: {"read": True, "write": True}}, {"role:Admin": {"read": True}},
            {"*": {"write": True}}]


def _create(api: Api, alice: str, count: int = 40) -> List[str]:
    ids = []
    for i in range(count):
        body: Dict[str, Any] = {"group": f"g{i % 3}", "score": i % 5 if i % 7 else float(i % 5)}
        acl = _acls(alice)[i % 5]
        if acl is not None:
            body["ACL"] = acl
        status, answer = api("POST", POSTS, body=body, headers=MASTER)
        assert status == 201, answer
        ids.append(answer["objectId"])
    return ids


def _count(api: Api, where: Dict[str, Any], headers: Dict[str, str]) -> int:
    status, answer = api("GET", POSTS, params={"where": json.dumps(where), "count": "1", "limit": "0"},
                         headers=headers)
    assert status == 200, answer
    return answer["count"]


def _found(api: Api, where: Dict[str, Any], headers: Dict[str, str]) -> int:
    """The same count by listing the rows (a find never reads the counters)."""
    status, answer = api("GET", POSTS, params={"where": json.dumps(where), "limit": "1000"}, headers=headers)
    assert status == 200, answer
    return len(answer["results"])


def _check_every_count(api: Api, callers: Dict[str, Dict[str, str]]) -> None:
    for name in ("anonymous", "alice", "admin", "master"):
        for where in WHERES:
            assert _count(api, where, callers[name]) == _found(api, where, callers[name]), (name, where)


def test_counts_are_those_of_the_readable_objects(api: Api, server: EmbeddedServer, users: Dict[str, Dict[str, Any]],
                                                  callers: Dict[str, Dict[str, str]]) -> None:
    alice = users["alice"]["objectId"]
    ids = _create(api, alice)  # created before the counter: counted when it is created
    server.create_counter("Post", "group")
    server.create_counter("Post", "score")
    assert server.create_counter("Post", "group") == "c_Post__group__count_insert"  # again: no change
    # 40 objects, a fifth each: no ACL, public, alice's, role Admin's, nobody's but the master key's
    assert [_count(api, {}, callers[n]) for n in ("anonymous", "alice", "admin", "master")] == [16, 24, 24, 40]
    _check_every_count(api, callers)

    ids += _create(api, alice, 10)  # inserts
    for object_id in ids[:12]:  # a new value, a new ACL, or both
        assert api("PUT", f"{POSTS}/{object_id}", headers=MASTER, body={"group": "g2"})[0] == 200
    for object_id in ids[5:20]:
        assert api("PUT", f"{POSTS}/{object_id}", headers=MASTER, body={"ACL": {alice: {"read": True}}})[0] == 200
    assert api("PUT", f"{POSTS}/{ids[20]}", headers=MASTER, body={"group": {"__op": "Delete"}})[0] == 200
    for object_id in ids[30:35]:
        assert api("DELETE", f"{POSTS}/{object_id}", headers=MASTER)[0] == 200
    _check_every_count(api, callers)

    assert api("DELETE", "/1.1/purge/Post", headers=MASTER)[0] == 200
    assert _count(api, {}, callers["master"]) == 0
    _create(api, alice, 15)
    _check_every_count(api, callers)


def test_the_count_is_read_from_the_counter(api: Api, server: EmbeddedServer, database: Path) -> None:
    """A count the counter answers does not read the objects: an entry changed behind the backend's back
    shows in it (and only in the counts a counter answers)."""
    server.create_counter("Post", "group")  # on a class without objects yet
    for i in range(6):
        assert api("POST", POSTS, body={"group": f"g{i % 2}", "score": i})[0] == 201
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE _counts SET n = n + 100 WHERE value = 'g1'")
    conn.close()
    assert _count(api, {"group": "g1"}, MASTER) == 103
    assert _count(api, {}, KEYS) == 106
    assert _count(api, {"objectId": {"$exists": True}}, KEYS) == 106  # a Parse client's count of a class
    assert _count(api, {"group": "g0"}, KEYS) == 3
    for where in ({"group": {"$in": ["g1"]}}, {"group": "g1", "score": {"$gte": 0}}, {"score": 1}):
        assert _count(api, where, KEYS) == _found(api, where, KEYS)  # not answered by the counter


def test_a_counter_keeps_the_read_checks(api: Api, server: EmbeddedServer) -> None:
    for i in range(4):
        assert api("POST", POSTS, body={"group": "g1", "score": i})[0] == 201
    server.create_counter("Post", "group")
    everyone = {op: {"*": True} for op in ("get", "find", "count", "create", "update", "delete", "addField")}
    assert api("PUT", "/1.1/schemas/Post", headers=MASTER, body={"classLevelPermissions": {
        **everyone, "protectedFields": {"*": ["group"]}}})[0] == 200
    status, answer = api("GET", POSTS, params={"where": '{"group": "g1"}', "count": "1", "limit": "0"})
    assert (status, answer["code"]) == (403, 119)
    assert api("PUT", "/1.1/schemas/Post", headers=MASTER, body={"classLevelPermissions": {**everyone, "count": {}}})[0] == 200
    status, answer = api("GET", POSTS, params={"count": "1", "limit": "0"})
    assert (status, answer["code"]) == (403, 119)
    assert _count(api, {"group": "g1"}, MASTER) == 4


@pytest.mark.parametrize("field", ["createdAt", "a.b", "x'y"])
def test_a_counter_is_on_a_top_level_field(server: EmbeddedServer, field: str) -> None:
    with pytest.raises(ValueError):
        server.create_counter("Post", field)


def test_leanorm_serve_creates_the_counters_it_is_asked_for(api: Api, server: EmbeddedServer) -> None:
    for i in range(5):
        assert api("POST", POSTS, body={"group": f"g{i % 2}"})[0] == 201
    prepare(server, ServeOptions(indexes=("Post.group",), counters=("Post.group",)))
    prepare(server, ServeOptions(counters=("Post.group",)))  # a second start keeps the counts as they are
    with server.store.read() as conn:
        assert sorted(conn.execute("SELECT value, n FROM _counts")) == [("g0", 3), ("g1", 2)]
    for bad in ("Post", "Post.createdAt"):
        with pytest.raises(SystemExit):
            prepare(server, ServeOptions(counters=(bad,)))


# -- a dashboard in one request: aggregate's $group counting by a String field -------------------------------
PARSE_MASTER = {"X-Parse-Application-Id": "leanorm-local", "X-Parse-Master-Key": "leanorm-local-master"}


def _aggregate(api: Api, pipeline: List[Dict[str, Any]], where: Any = None) -> List[Dict[str, Any]]:
    params = {"pipeline": json.dumps(pipeline), **({"where": json.dumps(where)} if where else {})}
    status, answer = api("GET", "/parse/aggregate/Post", params=params, headers=PARSE_MASTER)
    assert status == 200, answer
    return answer["results"]


COUNT_BY_GROUP = [{"$group": {"_id": "$group", "count": {"$sum": 1}, "twice": {"$sum": 2}}},
                  {"$sort": {"objectId": 1}}]


@pytest.mark.parametrize("counted", [False, True])
def test_a_count_per_group_in_one_aggregate(api: Api, server: EmbeddedServer, database: Path, counted: bool) -> None:
    for i in range(12):
        body: Dict[str, Any] = {"score": i} if i % 6 == 5 else {"group": f"g{i % 3}", "score": i}
        assert api("POST", POSTS, headers=MASTER, body={**body, "ACL": {"*": {"read": bool(i % 2)}}})[0] == 201
    if counted:
        server.create_counter("Post", "group")
    # the master key counts every object; objects without a group are a group (null) too
    assert _aggregate(api, COUNT_BY_GROUP) == [
        {"objectId": None, "count": 2, "twice": 4}, {"objectId": "g0", "count": 4, "twice": 8},
        {"objectId": "g1", "count": 4, "twice": 8}, {"objectId": "g2", "count": 2, "twice": 4}]
    matched = [{"objectId": "g0", "count": 2, "twice": 4}, {"objectId": "g1", "count": 2, "twice": 4},
               {"objectId": "g2", "count": 1, "twice": 2}]
    assert _aggregate(api, [{"$match": {"score": {"$lt": 5}}}, *COUNT_BY_GROUP]) == matched
    assert _aggregate(api, COUNT_BY_GROUP, where={"score": {"$lt": 5}}) == matched
    # a $group that does more than count runs on the loaded rows, as before
    assert _aggregate(api, [{"$group": {"_id": "$group", "top": {"$max": "$score"}, "count": {"$sum": 1}}},
                            {"$sort": {"objectId": 1}}]) == [
        {"objectId": None, "top": 11, "count": 2}, {"objectId": "g0", "top": 9, "count": 4},
        {"objectId": "g1", "top": 10, "count": 4}, {"objectId": "g2", "top": 8, "count": 2}]
    if counted:  # the unmatched count was read from the counter
        conn = sqlite3.connect(database)
        with conn:
            conn.execute("UPDATE _counts SET n = n + 100 WHERE rowid = (SELECT MIN(rowid) FROM _counts "
                         "WHERE value = 'g1')")
        conn.close()
        assert _aggregate(api, COUNT_BY_GROUP)[2] == {"objectId": "g1", "count": 104, "twice": 208}


def test_the_counter_query_searches_its_index(api: Api, server: EmbeddedServer) -> None:
    """The count's SQL (seen through SQLite's trace of the request's connection) reads ``_counts`` by its
    key, value included, and never the class's rows."""
    for i in range(4):
        assert api("POST", POSTS, body={"group": f"g{i % 2}"})[0] == 201
    server.create_counter("Post", "group")
    statements: List[str] = []
    with server.store.read() as conn:  # the request's reads borrow this thread's connection
        conn.set_trace_callback(statements.append)
        try:
            assert _count(api, {"group": "g1"}, KEYS) == 2
        finally:
            conn.set_trace_callback(None)
        counts = [s for s in statements if "_counts" in s and s.lstrip().startswith("SELECT")]
        assert len(counts) == 1 and not any("COUNT(*)" in s for s in statements), statements
        steps = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + counts[0])]
    assert any(s.startswith("SEARCH k USING INDEX _counts_key (class_name=? AND field=? AND <expr>=?)")
               for s in steps), steps
