"""Round trips to PostgreSQL per request, and the check of the class catalogue a node keeps that rides in
a request's first one.

A request costs what it waits for: each round trip is the client's and PostgreSQL's work and a wake-up
of each. A create is one (its transaction's opening, the insert, the change, the commit and the wait for
the disk in one message), an update two (the row read locked, then the rest), a read one. What a node
keeps of the catalogue (class permissions, fields) is checked by that first round trip, not by one of
its own: when another node changed the catalogue, the request, which has done nothing yet, runs again.
These tests close each node's listener, which otherwise forgets the catalogue milliseconds after another
node's change, so that only the per-request check stands between a request and an outdated catalogue.

Runs when ``LEANORM_TEST_POSTGRESQL`` names a test database (``tests/postgresql.py``)."""
from __future__ import annotations

import json
import threading
from typing import Any, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

import pytest

from leanorm import IntegerField, Model
from leanorm.embedded.server import EmbeddedServer
from leanorm.engine import Engine
from tests import postgresql

psycopg = pytest.importorskip("psycopg")
KEYS = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
MASTER = {**KEYS, "X-LC-Key": "leanorm-local-master,master"}


class Hooked(Model):
    n = IntegerField()


class RoundTrips:
    """Counts the messages this thread sends to PostgreSQL (each one round trip), by wrapping psycopg's
    own entry points: the server is real, only counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: List[str] = []
        thread = threading.get_ident()
        for name in ("execute", "executemany"):  # a connection's execute is its cursor's
            original = getattr(psycopg.Cursor, name)

            def send(self_: Any, query: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if threading.get_ident() == thread:
                    self.sent.append(str(query))
                return _original(self_, query, *args, **kwargs)
            monkeypatch.setattr(psycopg.Cursor, name, send)

    def during(self, call: Any) -> Tuple[Any, List[str]]:
        """``call()``'s answer and the messages it sent."""
        before = len(self.sent)
        answer = call()
        return answer, self.sent[before:]


def _node(url: str, engine: Optional[Engine] = None) -> EmbeddedServer:
    server = EmbeddedServer(url, engine=engine, query_timeout=10.0)
    server.store._listener.close()  # type: ignore[attr-defined]  # only the per-request check is left
    return server


def _call(server: EmbeddedServer, method: str, path: str, body: Any = None, master: bool = False) -> Tuple[int, Any]:
    path, _, query = path.partition("?")
    resp = server.handle(method, f"/1.1/{path}", dict(parse_qsl(query)), MASTER if master else KEYS,
                         None if body is None else json.dumps(body).encode())
    return resp.status, json.loads(resp.body)


@pytest.fixture()
def nodes(request: pytest.FixtureRequest) -> Iterator[Tuple[EmbeddedServer, EmbeddedServer]]:
    url = postgresql.schema_url(request.node.name)
    first = _node(url)
    second = _node(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _warm(server: EmbeddedServer, class_name: str) -> str:
    """An object of ``class_name`` made, fetched, found and updated once: what the node keeps is kept."""
    status, made = _call(server, "POST", f"classes/{class_name}", {"n": 1, "name": "first"})
    assert status == 201, made
    for _ in range(2):
        assert _call(server, "GET", f"classes/{class_name}/{made['objectId']}")[0] == 200
        assert _call(server, "GET", f"classes/{class_name}?where=" + json.dumps({"name": "first"}))[0] == 200
        assert _call(server, "PUT", f"classes/{class_name}/{made['objectId']}",
                     {"n": {"__op": "Increment", "amount": 1}})[0] == 200
        assert _call(server, "POST", f"classes/{class_name}", {"n": 0, "name": "other"})[0] == 201
    return str(made["objectId"])


def test_a_create_is_one_round_trip_an_update_two_a_read_one(nodes: Tuple[EmbeddedServer, EmbeddedServer],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    node, _ = nodes
    object_id = _warm(node, "Counted")
    trips = RoundTrips(monkeypatch)

    (status, made), sent = trips.during(lambda: _call(node, "POST", "classes/Counted", {"n": 5, "name": "new"}))
    assert status == 201 and len(sent) == 1, sent
    assert all(part in sent[0] for part in ("BEGIN", "INSERT", "leanorm_record_change", "COMMIT"))

    (status, _), sent = trips.during(lambda: _call(node, "PUT", f"classes/Counted/{object_id}",
                                                   {"n": {"__op": "Increment", "amount": 2}}))
    assert status == 200 and len(sent) == 2, sent
    assert "FOR UPDATE" in sent[0] and "UPDATE" in sent[1] and "COMMIT" in sent[1]

    for path in (f"classes/Counted/{made['objectId']}", "classes/Counted?where=" + json.dumps({"name": "new"})):
        (status, found), sent = trips.during(lambda: _call(node, "GET", path))
        assert status == 200 and len(sent) == 1, sent
        assert found.get("n", found.get("results", [{}])[0].get("n")) == 5
    assert _call(node, "GET", f"classes/Counted/{object_id}")[1]["n"] == 5  # 1, +1 twice in _warm, +2


def test_a_duplicate_key_sent_with_the_commit_is_a_unique_error_and_stores_nothing(
        nodes: Tuple[EmbeddedServer, EmbeddedServer]) -> None:
    node, _ = nodes
    _warm(node, "Keyed")
    node.create_index("Keyed", "code", unique=True)
    assert _call(node, "POST", "classes/Keyed", {"code": "A-1"})[0] == 201
    status, answer = _call(node, "POST", "classes/Keyed", {"code": "A-1"})
    assert (status, answer["code"]) == (400, 137), answer
    found = _call(node, "GET", "classes/Keyed?where=" + json.dumps({"code": "A-1"}))[1]["results"]
    assert len(found) == 1
    assert _call(node, "POST", "classes/Keyed", {"code": "A-2"})[0] == 201  # the store goes on


CLOSED = {"find": {}, "get": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {"*": True}}


def test_permissions_another_node_closed_bind_a_node_that_kept_them_open(
        nodes: Tuple[EmbeddedServer, EmbeddedServer], monkeypatch: pytest.MonkeyPatch) -> None:
    """The second node kept the class's open permissions; the first closes them. With no listener to tell
    it, the second node's next read and create are refused all the same: their first round trip finds
    the catalogue moved, and each is run again with it read afresh."""
    first, second = nodes
    object_id = _warm(second, "Closing")
    status, answer = _call(first, "PUT", "schemas/Closing", {"className": "Closing", "classLevelPermissions": CLOSED},
                           master=True)
    assert status == 200, answer
    trips = RoundTrips(monkeypatch)
    (status, answer), sent = trips.during(lambda: _call(second, "GET", f"classes/Closing/{object_id}"))
    assert (status, answer["code"]) == (403, 119), answer
    assert any("leanorm_catalogue_is" in message for message in sent), sent  # the check failed, then ran again
    assert [_call(second, "GET", path)[1].get("code") for path in ("classes/Closing", f"classes/Closing/{object_id}")] \
        == [119, 119]

    _call(first, "PUT", "schemas/Closing", {"className": "Closing", "classLevelPermissions": {
        **CLOSED, "get": {"*": True}}}, master=True)
    assert _call(second, "GET", f"classes/Closing/{object_id}")[0] == 200  # reopened: read again
    _call(first, "PUT", "schemas/Closing", {"className": "Closing", "classLevelPermissions": CLOSED}, master=True)
    status, answer = _call(second, "POST", "classes/Closing", {"n": 9})  # a create relying on the kept rules
    assert (status, answer["code"]) == (403, 119), answer
    assert [row["n"] for row in _call(first, "GET", "classes/Closing", master=True)[1]["results"]
            if row["n"] == 9] == []


def test_a_field_type_another_node_declared_binds_a_write_on_a_node_that_kept_the_old_schema(
        nodes: Tuple[EmbeddedServer, EmbeddedServer]) -> None:
    first, second = nodes
    _warm(second, "Typed")
    status, answer = _call(first, "PUT", "schemas/Typed", {"className": "Typed", "fields": {
        "size": {"type": "String"}}}, master=True)
    assert status == 200, answer
    status, answer = _call(second, "POST", "classes/Typed", {"size": 5, "n": 1})
    assert (status, answer["code"]) == (400, 111), answer
    assert _call(second, "POST", "classes/Typed", {"size": "large"})[0] == 201


def test_a_request_that_ran_cloud_code_is_never_run_again(request: pytest.FixtureRequest) -> None:
    """A request is run again only while it has done nothing: one that called cloud code checks the kept
    catalogue before the call (``Store.settle``), so a hook runs once per request however the catalogue
    moves."""
    url = postgresql.schema_url(request.node.name)
    engine = Engine()
    calls: List[Any] = []

    @engine.before_save(Hooked)
    def count(obj: Any) -> None:
        calls.append(obj)

    first, second = _node(url), _node(url, engine)
    try:
        for n in range(2):
            assert _call(second, "POST", "classes/Hooked", {"n": n})[0] == 201
        calls.clear()
        for n in range(3):  # the catalogue moves (another class made) before each hooked create
            assert _call(first, "POST", f"classes/Elsewhere{n}", {"n": n}, master=True)[0] == 201
            assert _call(second, "POST", "classes/Hooked", {"n": 10 + n})[0] == 201
        assert len(calls) == 3
        assert sorted(row["n"] for row in _call(first, "GET", "classes/Hooked", master=True)[1]["results"]) \
            == [0, 1, 10, 11, 12]
    finally:
        first.close()
        second.close()


def test_a_version_another_request_of_the_node_learned_does_not_pass_a_request_that_relied_on_the_older_one(
        nodes: Tuple[EmbeddedServer, EmbeddedServer], monkeypatch: pytest.MonkeyPatch) -> None:
    """A request checks the version it used the kept catalogue at, not the one the node knows when the
    check is sent: another request of the same node may have learned the newer version in between (it
    read the version, the node's catalogue forgotten), and the permissions this request already judged
    by are then the older ones. Here the second node judges a create by the open permissions it kept;
    before its write goes, a signup on the same node (another thread) reads the version the first node
    moved by closing them; the create is refused all the same."""
    first, second = nodes
    assert _call(second, "POST", "users", {"username": "early", "password": "secret"})[0] == 201
    _warm(second, "Raced")
    status, answer = _call(first, "PUT", "schemas/Raced", {"className": "Raced", "classLevelPermissions": CLOSED},
                           master=True)
    assert status == 200, answer
    transact = second.store.transact

    def after_another_request(work: Any, concurrent: bool = False) -> Any:
        monkeypatch.setattr(second.store, "transact", transact)
        signup = threading.Thread(target=lambda: _call(second, "POST", "users", {"username": "racer",
                                                                                  "password": "secret"}))
        signup.start()
        signup.join()
        return transact(work, concurrent)

    monkeypatch.setattr(second.store, "transact", after_another_request)
    status, answer = _call(second, "POST", "classes/Raced", {"n": 9})
    assert (status, answer["code"]) == (403, 119), answer
    assert [row for row in _call(first, "GET", "classes/Raced", master=True)[1]["results"] if row["n"] == 9] == []
    assert _call(second, "POST", "login", {"username": "racer", "password": "secret"})[0] == 200  # it ran



def test_a_first_read_planned_as_no_scan_still_checks_the_kept_catalogue(
        nodes: Tuple[EmbeddedServer, EmbeddedServer]) -> None:
    """The check rides on a request's first read as a condition of the outer query; PostgreSQL plans a
    read whose own condition can hold for no row (``WHERE 0``, without a LIMIT to keep it apart) as no
    scan at all, and dropped that outer condition with it: the request passed for checked, and went on by
    the permissions it had judged by. The store's contract (``Store.settle``, ``StaleCatalogue``): a
    request that relied on the kept catalogue hears at its first round trip that it moved."""
    from leanorm.embedded.budget import deadline
    from leanorm.embedded.storage.interface import StaleCatalogue
    first, second = nodes
    _warm(second, "Planned")
    _call(first, "PUT", "schemas/Planned", {"className": "Planned", "classLevelPermissions": CLOSED}, master=True)
    store = second.store
    with deadline(10.0, may_run_again=True), store.read() as conn:
        open_rules = conn.execute("SELECT permissions FROM _class_permissions WHERE class_name=?",
                                  ("Planned",)).fetchall()  # what the node kept: the rules before the change
        assert open_rules == []
        with pytest.raises(StaleCatalogue):
            conn.execute('SELECT objectId FROM "c_Planned" WHERE 0').fetchall()


@pytest.mark.parametrize("value", [-9223372036854775808, 9223372036854775807, -5, 0, -1.5, -0.0, float("nan"),
                                   float("-inf"), 1e308, "it's", "back\\slash'", "100%", "$1", "E'x'", b"a'\\b",
                                   True])
def test_a_value_written_into_a_held_back_statement_is_the_value_bound(value: Any) -> None:
    """A write transaction's held-back statements go as one message of literal SQL (``PGConnection.literal``):
    each value must read back as the same value, of the same type, as when bound. The smallest 64-bit
    integer was written ``-9223372036854775808::int8``, which PostgreSQL reads as the negation of a
    number past int8's range: an error where the bound value is stored."""
    from leanorm.embedded.storage.pg_connection import PGConnection, configure
    with psycopg.connect(postgresql.database_url(), autocommit=True) as raw:
        configure(raw)
        conn = PGConnection(raw)
        bound = raw.execute("SELECT %s, pg_typeof(%s)::text", (value, value)).fetchone()
        written = raw.execute(conn.literal("SELECT %s, pg_typeof(%s)::text", (value, value))).fetchone()
    assert written is not None and bound is not None
    assert written[1] == bound[1]
    assert repr(written[0]) == repr(bound[0])  # nan and -0.0 compared as spelled


def test_a_refusal_answered_from_the_kept_catalogue_checks_it_in_one_round_trip(
        nodes: Tuple[EmbeddedServer, EmbeddedServer], monkeypatch: pytest.MonkeyPatch) -> None:
    node, _ = nodes
    _warm(node, "Refusing")
    _call(node, "PUT", "schemas/Refusing", {"className": "Refusing", "classLevelPermissions": CLOSED}, master=True)
    for _ in range(3):
        assert _call(node, "GET", "classes/Refusing")[0] == 403  # the closed rules kept
    trips = RoundTrips(monkeypatch)
    (status, answer), sent = trips.during(lambda: _call(node, "GET", "classes/Refusing"))
    assert (status, answer["code"]) == (403, 119), answer
    assert len(sent) == 1, sent  # the version, read at the request's end (Store.settle)
