"""Issue 18's rules on the PostgreSQL store: attacks over HTTP on a ``leanorm serve`` on each store (a
schema of the test database for PostgreSQL, skipped without one), in both dialects, each answered as on
the SQLite store or with a clear 4xx naming the store's bound (docs/security.md, "The PostgreSQL store").
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from leanorm.embedded import EmbeddedServer
from tests import postgresql
from tests.postgresql import STORES
from tests.security.raw_http import DIALECTS, OPEN_RULES, Raw, unique
from tests.served import Served, serve

CLOSED = {op: {} for op in OPEN_RULES}


@pytest.fixture(scope="module", params=STORES)
def store_served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` on each store."""
    database: Path = tmp_path_factory.mktemp(f"pg-{request.param}") / "app.sqlite3"
    with serve(database, store=request.param) as running:
        yield running


@pytest.fixture(params=DIALECTS)
def raw(request: pytest.FixtureRequest, store_served: Served) -> Raw:
    return Raw(store_served, request.param)


def test_a_class_named_like_a_closed_class_past_its_61st_character_reaches_none_of_its_objects(raw: Raw) -> None:
    """PostgreSQL keeps the first 63 bytes of a table's name and drops the rest without an error: two
    classes whose names share their first 61 characters were one table (``c_`` + 61), while their
    permissions were checked apart. The closed class's objects were then read, changed and deleted through
    its open twin, and its own reads found no table at all."""
    stem = unique("Vault") + "x" * 60
    vault, twin = stem + "Closed", stem + "Open"
    status, created = raw.call("POST", f"classes/{vault}", {"gold": 1, "ACL": {"*": {"read": True}}}, master=True)
    if status != 201:  # the store can not keep the name apart: refused whole, nothing stored anywhere
        assert (status, created["code"]) == (400, 103) and "61" in created["error"], created
        assert raw.call("POST", f"classes/{twin}", {"n": 1})[1]["code"] == 103
        return
    raw.ok("PUT", f"schemas/{vault}", {"classLevelPermissions": CLOSED}, master=True)
    prefix = raw.url("")[len(raw.served.base_url):]
    # one transaction: the twin's table is known to the node when the delete runs
    raw.call("POST", "batch", {"requests": [
        {"method": "POST", "path": f"{prefix}classes/{twin}", "body": {"n": 1}},
        {"method": "DELETE", "path": f"{prefix}classes/{twin}/{created['objectId']}"}]})
    for _ in range(3):
        status, found = raw.call("GET", f"classes/{twin}")
        assert status == 200 and all("gold" not in row for row in found["results"]), found
    assert raw.ok("GET", f"classes/{vault}/{created['objectId']}", master=True)["gold"] == 1


@pytest.mark.parametrize("store", STORES)
def test_permissions_closed_through_one_node_bind_the_next_request_on_another(tmp_path: Path, store: str) -> None:
    """Two ``leanorm serve`` on one database (two processes on one SQLite file, or two nodes on one
    PostgreSQL database). A node keeps the class catalogue it read between requests, and forgot it only
    when its listener heard another node's change: for some milliseconds after the master key's
    ``PUT schemas`` was answered, the other node still read and created objects of the class it closed
    (14 reads and 7 creates of 60 on the build machine)."""
    database = tmp_path / "shared.sqlite3"
    with serve(database, store=store) as first, serve(database, store=store) as second:
        one, other = Raw(first, "leancloud"), Raw(second, "parse")
        name = unique("Closing")
        one.ok("POST", f"classes/{name}", {"n": 0}, master=True)
        for round_ in range(30):
            one.ok("PUT", f"schemas/{name}", {"classLevelPermissions": OPEN_RULES}, master=True)
            for _ in range(2):  # each of its workers reads (and keeps) the open permissions
                assert other.call("GET", f"classes/{name}")[0] == 200
            one.ok("PUT", f"schemas/{name}", {"classLevelPermissions": CLOSED}, master=True)
            assert other.call("GET", f"classes/{name}")[1].get("code") == 119, round_
            assert other.call("POST", f"classes/{name}", {"n": round_})[1].get("code") == 119, round_
        assert [row["n"] for row in other.rows(name)] == [0]


def _fill(served: Served, class_name: str, count: int) -> None:
    """``count`` objects of ``class_name`` (which exists) written straight into the store, for a scan
    that costs time: ``{"s": "ab ab ... <i>"}``."""
    if served.store_url is None:
        served.sql(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
                   f"INSERT INTO c_{class_name} SELECT 'f' || i, '2026-01-01T00:00:00.000Z', "
                   "'2026-01-01T00:00:00.000Z', NULL, json_object('s', 'ab ab ab ab ab ab ab ab ' || i) FROM n")
        return
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(served.store_url, autocommit=True) as conn:
        conn.execute(f"INSERT INTO \"c_{class_name}\" SELECT 'f' || i, '2026-01-01T00:00:00.000Z', "
                     "'2026-01-01T00:00:00.000Z', NULL, jsonb_build_object('s', 'ab ab ab ab ab ab ab ab ' || i) "
                     f"FROM generate_series(1, {count}) AS i")


@pytest.mark.parametrize("store", STORES)
def test_a_conditional_write_whose_where_scans_past_the_deadline_is_undone(tmp_path: Path, store: str) -> None:
    """A write's `where` runs inside its transaction, under the writers' lock every node's writes wait for,
    and its sub-queries scan whole classes: with no time limit in a write transaction, one client's
    conditional update held every writer of the database for as long as its scans took (seconds per
    300,000 objects, and the budget allows 64 sub-queries). Forty scans of 150,000 objects outlast a write
    statement's least time limit (1 s) several times over."""
    with serve(tmp_path / "app.sqlite3", "--query-timeout", "0.5", store=store) as served:
        raw = Raw(served, "leancloud")
        raw.ok("POST", "classes/Haystack", {"s": "seed"}, master=True)
        target = raw.ok("POST", "classes/Needle", {"owner": "nobody", "n": 0})
        _fill(served, "Haystack", 150_000)
        scans = [{"owner": {"$select": {"query": {"className": "Haystack", "where": {"s": {"$ne": f"z{i}"}}},
                                        "key": "s"}}} for i in range(40)]
        status, answer = raw.call("PUT", f"classes/Needle/{target['objectId']}", {"n": 1},
                                  params={"where": {"$or": scans}}, timeout=120)
        assert (status, answer.get("code")) == (400, 124), answer
        assert raw.ok("GET", f"classes/Needle/{target['objectId']}")["n"] == 0
        assert _changes_of(served, target["objectId"]) == 1  # its create: the undone write left none
        assert raw.call("PUT", f"classes/Needle/{target['objectId']}", {"n": 2})[0] == 200  # the lock is free
        assert raw.ok("GET", f"classes/Needle/{target['objectId']}")["n"] == 2
        assert _changes_of(served, target["objectId"]) == 2


def _changes_of(served: Served, object_id: str) -> int:
    """How many changes of ``object_id`` the change feed holds."""
    return served.sql(f"SELECT count(*) FROM _changes WHERE object_id = '{object_id}'")[0][0]


def test_a_request_waiting_past_its_deadline_for_a_database_connection_answers_124() -> None:
    """Each process lends at most ``POOL_SIZE`` connections; a request beyond them waits for one. It waited
    the pool's own 30 s whatever its deadline, and then answered 500 (``PoolTimeout``): with ``--threads``
    above the pool, slow requests starved every other request of the process."""
    psycopg_store = pytest.importorskip("leanorm.embedded.storage.postgresql")
    server = EmbeddedServer(postgresql.schema_url("pool-bound"), query_timeout=0.5)
    keys = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
    lent, release = threading.Barrier(psycopg_store.POOL_SIZE + 1), threading.Event()

    def hold() -> None:
        with server.store.read() as conn:
            conn.run("SELECT 1")  # a connection is lent at a block's first statement
            lent.wait()
            release.wait(60)

    holders = [threading.Thread(target=hold) for _ in range(psycopg_store.POOL_SIZE)]
    try:
        assert server.handle("POST", "/1.1/classes/Pooled", {}, keys, b'{"n": 1}').status == 201
        for holder in holders:
            holder.start()
        lent.wait(30)  # every connection of the pool is lent
        answer = server.handle("GET", "/1.1/classes/Pooled", {}, keys, None)
        assert (answer.status, json.loads(answer.body)["code"]) == (400, 124), answer.body
        release.set()
        for holder in holders:
            holder.join()
        assert json.loads(server.handle("GET", "/1.1/classes/Pooled", {}, keys, None).body)["results"][0]["n"] == 1
    finally:
        release.set()
        server.close()


def test_a_path_outside_the_api_longer_than_the_regex_budget_is_a_clear_refusal(store_served: Served) -> None:
    """Any path outside the API is looked up as a file's key (a `_File` query matching the url's end), by
    anyone, without keys: a path past the request's 2,048 characters of `$regex` answered 500 with a
    traceback in the log, on both stores (the download path turned only protocol errors into answers)."""
    for path in ("/" + "a" * 2100, "/files/" + "b" * 3000 + "/x.txt"):
        resp = requests.get(store_served.base_url + path, timeout=30)
        assert 400 <= resp.status_code < 500 and "code" in resp.json(), (resp.status_code, resp.text[:200])


def test_a_class_can_not_take_the_name_of_another_class_s_index(raw: Raw) -> None:
    """A class's table is ``c_<Class>``, its indexes ``c_<Class>__<what>``: a class named
    ``<Class>__createdAt`` is the name of ``<Class>``'s index. Whichever of the two was made second
    answered 500 for ever (on SQLite either way; on PostgreSQL the index's twin), so a client allowed to
    make classes could stop every sign-up by making ``_User__createdAt`` first."""
    first, second = unique("Shop"), unique("Till")
    assert raw.call("POST", f"classes/{first}", {"n": 1})[0] == 201
    for squatter in (f"{first}__createdAt", f"{second}__createdAt", f"{second}__named_byN", "_User__createdAt"):
        status, answer = raw.call("POST", f"classes/{squatter}", {"n": 1})
        assert (status, answer.get("code")) == (400, 103), (squatter, status, answer)
    assert raw.call("POST", f"classes/{second}", {"n": 1})[0] == 201
    assert raw.call("POST", f"classes/{first}", {"n": 2})[0] == 201
    assert raw.call("POST", "users", {"username": unique("user"), "password": "pw"})[0] == 201


def test_a_where_of_hundreds_of_conditions_answers_and_binds_nothing_past_the_store_s_limits(raw: Raw) -> None:
    """`$all` of 400 numbers (a 2 KB URL) is 400 conditions: PostgreSQL's JIT compiled them for minutes of a
    core (279 s on the build machine), deaf to `statement_timeout` and to `pg_terminate_backend`, holding a
    pooled connection; and a `$in` of 70,000 numbers (a batch item's parameters) passed PostgreSQL's 65,535
    parameters of a statement and answered 500. Each answers as on SQLite: a result, or 102."""
    name = unique("Many")
    raw.ok("POST", f"classes/{name}", {"n": 1, "tags": [1, 2]})
    status, found = raw.call("GET", f"classes/{name}", params={"where": {"tags": {"$all": list(range(400))}}},
                             timeout=60)
    assert (status, found.get("results")) == (200, []) or (status, found.get("code")) == (400, 102), found
    prefix = raw.url("")[len(raw.served.base_url):]
    status, answers = raw.call("POST", "batch", {"requests": [{"method": "GET", "path": f"{prefix}classes/{name}",
                                                             "params": {"where": {"n": {"$in": list(range(70000))}}}}]},
                               timeout=60)
    if status != 200:  # the batch refused whole (SQLite's "too complex" is the request's error)
        assert (status, answers.get("code")) == (400, 102), answers
        return
    item = answers[0]
    assert item.get("success", {}).get("results") == [{"n": 1, "tags": [1, 2]}] or \
        item.get("error", {}).get("code") == 102, str(item)[:300]
