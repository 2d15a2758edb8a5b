"""The PostgreSQL store's write transactions that run beside each other (``Store.transact(...,
concurrent=True)``): a deadlock between two of them is run again inside the store, never the caller's
error; one that needs every other writer kept out runs again alone.

Runs when ``LEANORM_TEST_POSTGRESQL`` names a test database (``tests/postgresql.py``)."""
from __future__ import annotations

import importlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List

import pytest

from leanorm.embedded.storage.rows import ROW
from leanorm.embedded.storage.store import table
from tests import postgresql

PAIR = table("Pair")


@pytest.fixture()
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    module = importlib.import_module("leanorm.embedded.storage.postgresql")  # needs psycopg
    opened = module.PostgreSQLStore(postgresql.schema_url(request.node.name))
    try:
        with opened.write() as conn:
            opened.ensure_class(conn, "Pair")
            for object_id in ("a", "b"):
                conn.execute(f"INSERT INTO {PAIR} ({ROW}) VALUES (?, ?, ?, ?, ?)",
                             (object_id, "2026-01-01", "2026-01-01", None, '{"n":0}'))
        yield opened
    finally:
        opened.close()


def _n(store: Any, object_id: str) -> int:
    with store.read() as conn:
        return int(conn.execute(f"SELECT json_extract(data, '$.n') FROM {PAIR} WHERE objectId=?",
                                (object_id,)).fetchone()[0])


def test_two_writes_locking_rows_in_opposite_orders_both_commit(store: Any) -> None:
    """Each locks one row, then asks for the other's: PostgreSQL ends one of them (a deadlock); the
    store runs it again once the other committed, and both callers get their answer."""
    meet = threading.Barrier(2)
    runs: List[str] = []

    def move(first: str, second: str) -> str:
        def work(conn: Any) -> str:
            runs.append(first)
            for object_id in (first, second):  # as an object write does: read locked, then write
                row = conn.execute(f"SELECT data FROM {PAIR} WHERE objectId=?{store.locking_read}",
                                   (object_id,)).fetchone()
                if object_id == first and runs.count(first) == 1:
                    meet.wait(timeout=30)  # both hold their first row before either asks for its second
                conn.execute(f"UPDATE {PAIR} SET data=? WHERE objectId=?",
                             (json.dumps({"n": json.loads(row[0])["n"] + 1}), object_id))
            return first
        return store.transact(work, concurrent=True)

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda pair: move(*pair), [("a", "b"), ("b", "a")]))
    assert done == ["a", "b"]
    # one of them ran again (more than once when the rerun met the other in its turn: PostgreSQL does not
    # promise the waiter the row first)
    assert len(runs) > 2 and set(runs) == {"a", "b"}
    assert (_n(store, "a"), _n(store, "b")) == (2, 2)  # and counted once


def test_a_write_that_needs_the_others_kept_out_runs_again_alone(store: Any) -> None:
    """A ``write()`` block inside a side-by-side transaction (it relies on no other writer between its
    reads and its writes): the transaction is rolled back and run again with the lock exclusive."""
    seen: List[bool] = []

    def work(conn: Any) -> None:
        seen.append(conn.shared)
        conn.execute(f"UPDATE {PAIR} SET data=? WHERE objectId='a'", ('{"n":5}',))
        with store.write() as inner:
            inner.execute(f"UPDATE {PAIR} SET data=? WHERE objectId='b'", ('{"n":7}',))

    store.transact(work, concurrent=True)
    assert seen == [True, False]
    assert (_n(store, "a"), _n(store, "b")) == (5, 7)


def test_a_part_that_must_run_alone_inside_a_write_beside_others_runs_it_again_alone(store: Any) -> None:
    """``transact`` without ``concurrent`` nested in one with it (an object write whose ``where`` reads
    other rows, inside a batch running beside others): the whole transaction runs again alone."""
    seen: List[bool] = []

    def part(conn: Any) -> str:
        conn.execute(f"UPDATE {PAIR} SET data=? WHERE objectId='b'", ('{"n":9}',))
        return "done"

    def work(conn: Any) -> str:
        seen.append(conn.shared)
        return str(store.transact(part))
    assert store.transact(work, concurrent=True) == "done"
    assert seen == [True, False]
    assert _n(store, "b") == 9
