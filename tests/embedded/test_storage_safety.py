"""Storage safety of a file database: concurrent writers lose nothing, a failed or killed write leaves
nothing half-written."""
from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from leanorm.embedded import EmbeddedServer, budget

from .conftest import Api, snapshot

THREADS, PROCESSES, INCREMENTS = 8, 4, 40
COUNTER = "/1.1/classes/Counter"


def increment(api: Api, object_id: str, times: int) -> List[int]:
    """``times`` Increment requests (each also adds to an array); the statuses answered."""
    return [api("PUT", f"{COUNTER}/{object_id}", body={"n": {"__op": "Increment", "amount": 1},
                                                     "seen": {"__op": "Add", "objects": [1]}})[0]
            for _ in range(times)]


def _write_in_process(database: str, object_id: Optional[str], times: int, start: Any) -> None:
    """One process of the multi-process tests: opens its own server over the file once every process is
    ready, then increments ``object_id`` (or creates objects when it is None) ``times`` times."""
    start.wait()
    server = EmbeddedServer(database)
    try:
        api = Api(server)
        if object_id is None:
            statuses = [api("POST", COUNTER, body={"n": 1})[0] for _ in range(times)]
        else:
            statuses = increment(api, object_id, times)
    finally:
        server.close()
    if set(statuses) != {201 if object_id is None else 200}:
        raise SystemExit(f"unexpected statuses {sorted(set(statuses))}")


def run_processes(database: Path, object_id: Optional[str]) -> List[Optional[int]]:
    """``PROCESSES`` processes of :func:`_write_in_process`, released together; their exit codes."""
    context = multiprocessing.get_context("spawn")  # no SQLite connection crosses a fork
    start = context.Barrier(PROCESSES)
    workers = [context.Process(target=_write_in_process, args=(str(database), object_id, INCREMENTS, start))
               for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return [w.exitcode for w in workers]


@pytest.fixture
def counter(api: Api) -> str:
    status, created = api("POST", COUNTER, body={"n": 0, "seen": []})
    assert status == 201
    return created["objectId"]


def test_threads_incrementing_one_object_lose_nothing(api: Api, counter: str) -> None:
    """One server, one file, many threads (each with its own connection, as under ``leanorm serve``)."""
    start = threading.Barrier(THREADS)
    results: Dict[int, List[int]] = {}

    def work(index: int) -> None:
        start.wait()
        results[index] = increment(api, counter, INCREMENTS)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(statuses == [200] * INCREMENTS for statuses in results.values()) and len(results) == THREADS
    obj = api("GET", f"{COUNTER}/{counter}")[1]
    assert obj["n"] == THREADS * INCREMENTS
    assert len(obj["seen"]) == THREADS * INCREMENTS


def test_processes_incrementing_one_file_lose_nothing(database: Path, api: Api, counter: str) -> None:
    """Several processes, each with its own server over the same SQLite file (WAL, BEGIN IMMEDIATE)."""
    assert run_processes(database, counter) == [0] * PROCESSES
    obj = api("GET", f"{COUNTER}/{counter}")[1]
    assert obj["n"] == PROCESSES * INCREMENTS
    assert len(obj["seen"]) == PROCESSES * INCREMENTS


def test_processes_opening_a_new_file_together(tmp_path: Path) -> None:
    """Processes that create the file, its WAL mode, system tables and the class table at the same time."""
    database = tmp_path / "new.sqlite3"
    assert run_processes(database, None) == [0] * PROCESSES
    server = EmbeddedServer(str(database))
    try:
        answer = Api(server)("GET", COUNTER, params={"count": "1", "limit": "0"})[1]
    finally:
        server.close()
    assert answer["count"] == PROCESSES * INCREMENTS


def test_exception_inside_a_write_rolls_all_of_it_back(server: EmbeddedServer, database: Path, api: Api,
                                                       counter: str) -> None:
    before = snapshot(database)
    with pytest.raises(RuntimeError):
        with server.store.write() as conn:
            conn.execute('UPDATE "c_Counter" SET data = \'{"n":99}\'')
            conn.execute("INSERT INTO _schema VALUES ('Counter', 'half', 'String', NULL)")
            raise RuntimeError("interrupted")
    assert snapshot(database) == before
    # the connection is usable again: not left inside the failed transaction
    assert increment(api, counter, 1) == [200]
    assert api("GET", f"{COUNTER}/{counter}")[1]["n"] == 1


#: a write statement of several seconds of SQLite steps: an INSERT reading 30 million generated rows and
#: keeping none of them
LONG_WRITE = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000000) "
              "INSERT INTO _schema SELECT 'Counter', 'never' || i, 'String', NULL FROM n WHERE i < 0")


def test_a_write_statement_past_the_deadline_is_undone_whole_and_the_store_goes_on(
        server: EmbeddedServer, database: Path, api: Api, counter: str) -> None:
    """SQLite interrupted no statement of a write transaction: one ran to its end however long past the
    request's deadline, holding the write lock every other writer waits for. Interrupted, SQLite undoes
    the whole transaction itself: the write's earlier statements and its change are gone, and the store
    takes the next write."""
    before, latest = snapshot(database), server.store.latest_change()
    with pytest.raises(sqlite3.OperationalError) as raised, budget.deadline(0.05):
        with server.store.write() as conn:
            conn.execute('UPDATE "c_Counter" SET data = \'{"n":99}\'')
            server.store.record_change(conn, "Counter", counter, {"n": 0}, {"n": 99})
            conn.execute(LONG_WRITE)
    assert budget.interrupted(raised.value), raised.value
    assert snapshot(database) == before
    assert server.store.latest_change() == latest
    assert increment(api, counter, 1) == [200]
    assert api("GET", f"{COUNTER}/{counter}")[1]["n"] == 1


def test_a_batch_item_whose_write_statement_is_interrupted_undoes_the_whole_write(
        server: EmbeddedServer, database: Path, api: Api, counter: str) -> None:
    """SQLite undoes the whole transaction of an interrupted write statement, its savepoints included: a
    batch going on past the failed item would run its next items outside any transaction (each committed
    alone), and one ending its transaction (keeping the item's error for after it) found nothing to commit.
    The interruption ends the whole write, items before it included, with the deadline's error."""
    before, failure = snapshot(database), None
    with pytest.raises(Exception) as raised, budget.deadline(0.05):
        with server.store.write() as conn:
            conn.execute('UPDATE "c_Counter" SET data = \'{"n":99}\'')
            try:
                with server.store.savepoint():  # as a batch's item runs
                    conn.execute(LONG_WRITE)
                    conn.execute('UPDATE "c_Counter" SET data = \'{"n":98}\'')
            except Exception as exc:  # noqa: BLE001 - as a batch keeps an item's failure for after its transaction
                failure = exc
    assert failure is not None and budget.interrupted(failure), failure
    assert budget.interrupted(raised.value), raised.value
    assert snapshot(database) == before
    assert increment(api, counter, 1) == [200]
    assert api("GET", f"{COUNTER}/{counter}")[1]["n"] == 1


def test_request_failing_halfway_leaves_nothing(api: Api, database: Path, counter: str) -> None:
    """A Batch operation whose first part writes relation rows and whose second part fails: the rows,
    the field values set before it, and the schema learnt for them all stay unwritten."""
    _, tag = api("POST", "/1.1/classes/Tag", body={"name": "t"})
    before = snapshot(database)
    pointer = {"__type": "Pointer", "className": "Tag", "objectId": tag["objectId"]}
    status, answer = api("PUT", f"{COUNTER}/{counter}", body={
        "label": "set first", "n": {"__op": "Increment", "amount": 5},
        "tags": {"__op": "Batch", "ops": [{"__op": "AddRelation", "objects": [pointer]},
                                          {"__op": "Unknown"}]}})
    assert (status, answer["code"]) == (400, 111)
    assert snapshot(database) == before


def test_process_killed_inside_a_write_leaves_nothing(database: Path, server: EmbeddedServer, api: Api,
                                                      counter: str) -> None:
    """SIGKILL in the middle of a transaction (rows written, not committed): the file keeps the state
    before it, and the next writer is not blocked by the dead one's lock."""
    before = snapshot(database)
    script = textwrap.dedent(f"""
        import os, signal
        from leanorm.embedded import EmbeddedServer
        server = EmbeddedServer({str(database)!r})
        with server.store.write() as conn:
            conn.execute('UPDATE "c_Counter" SET data = \\'{{"n":99}}\\'')
            conn.execute("INSERT INTO _outbox (kind, recipient, purpose, body, created_at) "
                         "VALUES ('sms', 'x', 'y', '{{}}', 'now')")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    assert snapshot(database) == before
    assert increment(api, counter, 1) == [200]



CLOSING_WHILE_READ = """
import asyncio, json, sys, threading
from leanorm.embedded import EmbeddedServer

HEADERS = {"X-Parse-Application-Id": "a", "X-Parse-REST-API-Key": "k"}


async def round_(database):
    server = EmbeddedServer(database, app_id="a", app_key="k", master_key="m")
    live = server.live_connection()
    await live.send({"op": "connect", "applicationId": "a", "javascriptKey": "k"})
    await live.receive()
    await live.send({"op": "subscribe", "requestId": 1, "query": {"className": "Memo", "where": {}}})
    await live.receive()
    closed = threading.Event()

    def write():
        n = 0
        while not closed.is_set():
            try:
                server.handle("POST", "/parse/classes/Memo", headers=HEADERS, body=json.dumps({"n": n}).encode())
            except Exception:
                return
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    for _ in range(3):
        await live.receive()
    server.close()  # the feed's reader reads the writes meanwhile
    closed.set()
    writer.join()

for number in range(40):
    asyncio.run(round_(":memory:" if sys.argv[1] == ":memory:" else f"{sys.argv[1]}-{number}.sqlite3"))
"""


@pytest.mark.parametrize("store", ["memory", "file"])
def test_a_server_closed_while_its_live_feed_reads_closes_cleanly(tmp_path: Path, store: str) -> None:
    """Closing a server whose live queries' reader (or a request) is using a store connection: the
    connection is closed once that thread let go of it. Closed under it, SQLite's module freed what the
    running statement used, and the process crashed (a segmentation fault within ten rounds)."""
    database = ":memory:" if store == "memory" else str(tmp_path / "app")
    run = subprocess.run([sys.executable, "-c", CLOSING_WHILE_READ, database], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
