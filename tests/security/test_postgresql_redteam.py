"""A red-team pass over ``leanorm serve --db postgresql://...`` (docs/security.md, "The PostgreSQL store:
red-team pass"): what changed last on that path — a write transaction's statements sent as one message of
literal SQL, the per-request check of the catalogue a node keeps — and the writers' lock every node's
writes wait for. Each test was seen failing on the code before its fix; each runs on the PostgreSQL store
alone (skipped without a test database): the attacks are on what only that store does.
"""
from __future__ import annotations

import gc
import json
import tracemalloc
import uuid
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest

from leanorm.embedded import EmbeddedServer
from tests.security.raw_http import Raw, unique
from tests.security.test_postgresql_store import _fill
from tests.served import serve


def test_a_batch_holds_the_writers_lock_no_longer_than_its_deadline(tmp_path: Path) -> None:
    """A batch of object writes is one transaction under the writers' lock, which every write of every node
    waits for. PostgreSQL bounded each of its statements by what was left of the deadline as it began, not
    the transaction: each item's `where` ran to that bound in turn, so a batch of 100 conditional updates
    whose `where` scans a large class held every node's writes for 100 times the deadline (a batch of 8
    held them 5 s under a 1 s deadline, every other write answering 124 meanwhile). Now no statement of a
    write transaction starts past its end (the deadline, or ``WRITE_FLOOR`` from its start): the items after
    one that used the time answer 124 and store nothing. (SQLite checks its own end every few thousand
    steps of any statement: a statement past it stops at once.)"""
    with serve(tmp_path / "app.sqlite3", "--query-timeout", "0.5", store="postgresql") as served:
        raw = Raw(served, "leancloud")
        raw.ok("POST", "classes/Haystack", {"s": "seed"}, master=True)
        slow, fast = (raw.ok("POST", "classes/Needle", {"owner": "nobody", "n": 0}) for _ in range(2))
        _fill(served, "Haystack", 150_000)
        scans = [{"owner": {"$select": {"query": {"className": "Haystack", "where": {"s": {"$ne": f"z{i}"}}},
                                        "key": "s"}}} for i in range(40)]
        prefix = "/1.1/classes/Needle/"
        status, answers = raw.call("POST", "batch", {"requests": [
            {"method": "PUT", "path": prefix + slow["objectId"], "body": {"n": 1},
             "params": {"where": {"$or": scans}}},
            *({"method": "PUT", "path": prefix + fast["objectId"], "body": {"n": n}} for n in (1, 2))]},
            timeout=120)
        assert status == 200, answers
        assert [a.get("error", {}).get("code") for a in answers] == [124, 124, 124], answers
        assert [raw.ok("GET", prefix[5:] + o["objectId"])["n"] for o in (slow, fast)] == [0, 0]
        assert raw.call("PUT", prefix[5:] + fast["objectId"], {"n": 3})[0] == 200  # the lock is free


#: text a client may send, as JSON: quotes and backslashes (which the literal SQL of a write escapes), and
#: characters a non-UTF-8 client encoding of the connection cannot hold or maps to others
VALUES = ["it's", "back\\slash", "\\'; SELECT 1; --", "E'\\x00'", "‾ overline", "¥ yen", "é", "— dash", "😀",
          "表", "\u2028", "\ufeff"]


def test_values_round_trip_whatever_the_database_sets_its_sessions_to(tmp_path: Path) -> None:
    """A write's values are written into its SQL as literals, quoted for what the connection's settings
    say; its text is encoded in the connection's client encoding. Both come from the database: a database
    or role set ``client_encoding`` (``ALTER DATABASE app SET client_encoding = 'SJIS'``, or ``PGCLIENTENCODING``
    where the node runs) and ``standard_conforming_strings = off`` (here through the URL's ``options``, as
    such a setting arrives). Then 😀 or é answered 500, ‾ was stored as ~ and 表 read back as nothing, and
    on a new database the node did not start (its functions' ``'\\x00'::bytea`` read as a NUL byte). Every
    pooled connection now sets both itself (``pg_connection.configure``)."""
    from urllib.parse import quote

    from tests import postgresql
    url = postgresql.schema_url(str(tmp_path / "settings.sqlite3"))
    url += quote(" -cclient_encoding=SJIS -cstandard_conforming_strings=off")
    with serve(tmp_path / "settings.sqlite3", postgresql_url=url) as served:
        raw = Raw(served, "leancloud")
        for value in VALUES:
            status, made = raw.call("POST", "classes/Spelt", {"v": value, "nested": {"k": [value]}})
            assert status == 201, (value, made)
            stored = raw.ok("GET", f"classes/Spelt/{made['objectId']}")
            assert (stored.get("v"), stored.get("nested")) == (value, {"k": [value]}), value
            found = raw.ok("GET", "classes/Spelt", params={"where": {"v": value}})["results"]
            assert [row["objectId"] for row in found] == [made["objectId"]], value


def test_writes_keep_their_guarantees_whatever_the_database_sets_its_transactions_to(tmp_path: Path) -> None:
    """The writers' lock and the change feed's numbering rely on each statement of a write seeing what was
    committed before it (READ COMMITTED); waits for the lock are bounded by the request's deadline, and
    numbers are read back as PostgreSQL spells them. A database or role may set other defaults
    (``ALTER DATABASE app SET default_transaction_isolation = 'repeatable read'``, ``lock_timeout``,
    ``extra_float_digits``; here through the URL's ``options``). With repeatable read a write read what was
    committed before it waited for the lock: two writes numbered their changes alike (500, duplicate key of
    ``_changes``) and others failed to serialize (500); with ``lock_timeout`` a write waiting its turn
    answered 500; with ``extra_float_digits = -10`` an ``$avg`` of 0.1, 0.2 and 1/3 answered 0.21111. Every
    pooled connection now sets these itself (``pg_connection.SESSION``)."""
    from urllib.parse import quote

    from tests import postgresql
    url = postgresql.schema_url(str(tmp_path / "isolation.sqlite3"))
    url += quote(" -cdefault_transaction_isolation=repeatable\\ read -clock_timeout=1 -cextra_float_digits=-10")
    with serve(tmp_path / "isolation.sqlite3", postgresql_url=url) as served:
        raw = Raw(served, "leancloud")
        name = unique("taken")
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda n: raw.call("POST", "classes/Counted", {"n": n})[0], range(40)))
            signed = list(pool.map(lambda _: raw.call("POST", "users", {"username": name, "password": "pw"})[0],
                                   range(8)))
        assert made == [201] * 40
        assert sorted(signed) == [201] + [400] * 7, signed
        assert len(raw.rows("Counted")) == 40
        seqs = served.sql("SELECT seq FROM _changes ORDER BY seq")
        assert [seq for seq, in seqs] == list(range(1, len(seqs) + 1))  # gapless, each once
        for value in (0.1, 0.2, 1 / 3):
            raw.ok("POST", "classes/Averaged", {"v": value})
        pipeline = [{"$group": {"_id": None, "mean": {"$avg": "$v"}}}]
        answer = raw.ok("GET", "aggregate/Averaged", params={"pipeline": pipeline}, master=True)
        assert answer["results"][0]["mean"] == (0.1 + 0.2 + 1 / 3) / 3


def _retained(work: Callable[[], None]) -> int:
    """Bytes of Python objects allocated by ``work`` and still held after it (what it left in caches)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        work()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def test_a_node_keeps_no_more_of_what_clients_send_than_its_bounds(request: pytest.FixtureRequest) -> None:
    """A node keeps statements it translated (4,096), psycopg the text of each connection's last 100 (to
    count their uses before it prepares them) and the store what it read of the catalogue, by the class
    names clients named. A `where` is part of a statement's text (its keys are JSON paths), so each request
    naming new keys left its statement behind, twice: a batch item's `$or` of 120 keys of 10,000 characters
    left 7 MB in the worker, and 30 such requests grew it by 220 MB (all 4,096 would be tens of GB), from an
    anonymous client. Every class name a client asked for stayed in the catalogue (330 bytes each, until
    a schema changed). Now a statement longer than ``CACHED_SQL_CHARS`` is neither kept nor prepared, and the
    catalogue keeps at most ``KEPT_ENTRIES`` answers."""
    from tests import postgresql
    store_module = pytest.importorskip("leanorm.embedded.storage.pg_connection")
    server = EmbeddedServer(postgresql.schema_url(request.node.name), query_timeout=10.0)
    keys = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}

    def ask(path: str, where: Any) -> None:
        body = {"requests": [{"method": "GET", "path": f"/1.1/{path}", "params": {"where": where}}]}
        answer = server.handle("POST", "/1.1/batch", {}, keys, json.dumps(body).encode())
        assert answer.status == 200 and b'"success"' in answer.body, answer.body[:200]

    def long_keys() -> None:
        for _ in range(30):
            ask("classes/Kept", {"$or": [{f"k{uuid.uuid4().hex}{'x' * 1000}": 1} for _ in range(120)]})

    try:
        assert server.handle("POST", "/1.1/classes/Kept", {}, keys, b'{"n": 1}').status == 201
        assert _retained(long_keys) < 4 * 2**20  # each request's statement is some 260 KB
        bound = store_module.KEPT_ENTRIES
        for _ in range(3 * bound):
            ask(f"classes/Nowhere{uuid.uuid4().hex}", {"n": 1})
        catalogue = server.store._catalogue  # type: ignore[attr-defined]
        assert len(catalogue.rows) + len(catalogue.absent) <= bound
    finally:
        server.close()
