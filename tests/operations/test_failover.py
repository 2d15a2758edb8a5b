"""Two ``leanorm serve`` nodes over one store; one is killed (SIGKILL, every process of it) in the middle
of a mixed read/write load. Clients that lose their node retry on the other: no acknowledged write is
lost, no write is applied twice, and nothing fails but what the killed node had in flight.

The test runs on each store: two servers sharing one database file (what the SQLite store allows on one
machine: its writers take turns through a file lock), and two nodes on one PostgreSQL database (the
failover of docs/deploying.md's N nodes; skipped without a test database).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
import requests

from tests.postgresql import STORES
from tests.served import Served, serve

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from /proc")

CLIENTS = 6
#: writes each client makes (the kill comes after about a third of them)
WRITES = 60


def _tree(pid: int) -> List[int]:
    """``pid`` and every process below it (the granian supervisor, its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            below = [int(p) for p in children.read().split()]
    except FileNotFoundError:
        return []
    return [pid, *[q for p in below for q in _tree(p)]]


def _kill_node(node: Served) -> None:
    for pid in _tree(node.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.process.wait(timeout=30)


class FailoverClient:
    """A client of several nodes that moves to the next one when its node stops answering (what a load
    balancer in front of the nodes does for the clients). A write that got no answer is sent again on
    the next node with the same objectId: the store's unique objectId turns a repeat of a write that
    did land into error 137, so a retry never applies a create twice."""

    def __init__(self, nodes: List[Served]) -> None:
        self.nodes = nodes
        self.index = 0
        self.session = requests.Session()
        self.failovers = 0
        #: requests sent to a node that died before answering: each may or may not have been applied
        self.unanswered = 0

    def _headers(self, node: Served) -> Dict[str, str]:
        return {"X-LC-Id": node.app_id, "X-LC-Key": f"{node.master_key},master", "Content-Type": "application/json"}

    def send(self, method: str, path: str, body: object = None) -> Tuple[int, object]:
        for _ in range(len(self.nodes) * 3):
            node = self.nodes[self.index]
            try:
                answer = self.session.request(method, f"{node.base_url}/1.1/{path}", json=body,
                                              headers=self._headers(node), timeout=10)
                return answer.status_code, answer.json()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not isinstance(exc, requests.ConnectTimeout) and "Connection refused" not in str(exc):
                    self.unanswered += 1  # sent, maybe applied, never answered
                self.index = (self.index + 1) % len(self.nodes)
                self.failovers += 1
                time.sleep(0.05)
        raise AssertionError("no node answered")


def _load(client: FailoverClient, number: int, acknowledged: Set[str], increments: List[int],
          errors: List[str], killed: threading.Event, started: threading.Barrier, gone: threading.Event) -> None:
    started.wait()
    for n in range(WRITES):
        if n == WRITES // 2:  # past half only once the node is gone: every client has writes left to move
            gone.wait(timeout=120)
        object_id = f"c{number}n{n}"
        status, answer = client.send("POST", "classes/Load", {"objectId": object_id, "client": number, "n": n})
        if status == 201 or (status == 400 and isinstance(answer, dict) and answer.get("code") == 137):
            acknowledged.add(object_id)  # 137: the first attempt landed before its node died
        else:
            errors.append(f"create {object_id}: {status} {answer}")
        status, answer = client.send("PUT", "classes/Tally/total", {"count": {"__op": "Increment", "amount": 1}})
        if status == 200:
            increments.append(1)
        else:
            errors.append(f"increment: {status} {answer}")
        status, answer = client.send("GET", f"classes/Load/{object_id}")
        if object_id in acknowledged and status != 200:
            errors.append(f"read {object_id} after its write was acknowledged: {status} {answer}")
        if n == WRITES // 3 and number == 0:
            killed.set()


@contextlib.contextmanager
def _two_nodes(database: Path, store: str) -> Iterator[Tuple[Served, Served]]:
    with serve(database, "--allow-custom-object-id", "--workers", "2", store=store) as first:
        with serve(database, "--allow-custom-object-id", "--workers", "2", store=store) as second:
            yield first, second


@pytest.mark.parametrize("store", STORES)
def test_a_node_killed_mid_load_loses_no_acknowledged_write(tmp_path: Path, store: str) -> None:
    with _two_nodes(tmp_path / "app.sqlite3", store) as (first, second):
        setup = FailoverClient([second])
        assert setup.send("POST", "classes/Tally", {"objectId": "total", "count": 0})[0] == 201
        acknowledged: Set[str] = set()
        increments: List[int] = []
        errors: List[str] = []
        killed, gone = threading.Event(), threading.Event()
        started = threading.Barrier(CLIENTS)
        # every client starts on the node that will die, so each of them has to move
        clients = [FailoverClient([first, second]) for _ in range(CLIENTS)]
        threads = [threading.Thread(target=_load, args=(client, number, acknowledged, increments, errors, killed,
                                                        started, gone)) for number, client in enumerate(clients)]
        for thread in threads:
            thread.start()
        assert killed.wait(timeout=120), "the load never reached the kill"
        _kill_node(first)
        gone.set()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)

        assert errors == []
        assert sum(client.failovers for client in clients) >= CLIENTS  # each moved to the surviving node
        assert len(acknowledged) == CLIENTS * WRITES
        status, answer = setup.send("GET", "classes/Load?count=1&limit=0")
        assert (status, answer["count"]) == (200, CLIENTS * WRITES)  # every create once, none twice
        status, answer = setup.send("GET", "classes/Tally/total")
        # every acknowledged increment is there; one whose node died before answering may have landed too
        # (an increment is no create: sent again, it applies again, which is why clients retry only what
        # they can make idempotent)
        assert len(increments) == CLIENTS * WRITES
        assert len(increments) <= answer["count"] <= len(increments) + sum(c.unanswered for c in clients)
