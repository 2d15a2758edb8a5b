"""``leanorm serve`` on a PostgreSQL server that crashes, stops or stalls under it (a chaos pass of the N
nodes of docs/deploying.md, section 8): an acknowledged write outlives the crash, the clients hear a
clear 503 while the database is away, readiness says so while liveness stays up, and the node serves
again by itself once the database is back.

Each test runs its own PostgreSQL server (``private_postgresql``: the shared test cluster must not be
crashed under the other tests), and is skipped where this machine has no PostgreSQL server binaries.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Tuple

import requests

from tests.operations.private_postgresql import private_cluster
from tests.served import Served, serve

#: a request's deadline on the nodes under test (--query-timeout), in seconds
DEADLINE = 2


def _headers(node: Served) -> Dict[str, str]:
    return {"X-LC-Id": node.app_id, "X-LC-Key": f"{node.master_key},master", "Content-Type": "application/json"}


def _send(node: Served, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    answer = requests.request(method, f"{node.base_url}/1.1/{path}", json=body, headers=_headers(node), timeout=30)
    return answer.status_code, answer.json()


def _until_served(node: Served, method: str, path: str) -> Tuple[int, Any]:
    """``method path`` again until the node answers it 200 (the database back, the pool reconnected), at
    most for 20 s; the last answer."""
    for _ in range(100):
        answer = _send(node, method, path)
        if answer[0] == 200:
            break
        time.sleep(0.2)
    return answer


def test_a_write_acknowledged_before_postgresql_crashes_is_kept(tmp_path: Path) -> None:
    # the WAL writer flushes what commits asynchronously only every 10 s: a write acknowledged before its
    # commit reached the disk is lost by a crash within that time
    with private_cluster("-c wal_writer_delay=10s") as cluster, \
            serve(tmp_path / "app", "--workers", "1", postgresql_url=cluster.url) as node:
        acknowledged = [answer["objectId"] for status, answer in
                        (_send(node, "POST", "classes/Order", {"n": n}) for n in range(20)) if status == 201]
        assert _send(node, "PUT", f"classes/Order/{acknowledged[0]}",
                     {"paid": {"__op": "Increment", "amount": 5}})[0] == 200
        assert len(acknowledged) == 20

        cluster.stop("immediate")  # PostgreSQL crashes: it recovers from its write-ahead log at the start
        cluster.start()

        status, answer = _until_served(node, "GET", "classes/Order?count=1&limit=0")
        assert (status, answer["count"]) == (200, 20)
        assert _send(node, "GET", f"classes/Order/{acknowledged[0]}")[1]["paid"] == 5


def _probe(node: Served, path: str) -> int:
    return requests.get(f"{node.base_url}/{path}", timeout=10).status_code


def test_while_postgresql_is_down_requests_answer_503_and_the_node_serves_again_when_it_is_back(
        tmp_path: Path) -> None:
    with private_cluster() as cluster, serve(tmp_path / "app", "--workers", "1", "--query-timeout", str(DEADLINE),
                                             postgresql_url=cluster.url) as node:
        status, created = _send(node, "POST", "classes/Order", {"n": 1})
        assert status == 201

        cluster.stop("fast")
        for method, path, body in (("GET", f"classes/Order/{created['objectId']}", None),
                                   ("POST", "classes/Order", {"n": 2}),
                                   ("GET", "classes/Order?where=%7B%22n%22%3A1%7D", None)):
            status, answer = _send(node, method, path, body)  # within the deadline, not the pool's 30 s
            assert (status, answer["code"]) == (503, 1), answer
            assert "database is unavailable" in answer["error"] and "not served" in answer["error"]
        assert (_probe(node, "health"), _probe(node, "ready")) == (200, 503)

        cluster.start()
        status, answer = _until_served(node, "GET", f"classes/Order/{created['objectId']}")
        assert (status, answer["n"]) == (200, 1)
        assert _send(node, "POST", "classes/Order", {"n": 3})[0] == 201
        assert _probe(node, "ready") == 200
        status, answer = _send(node, "GET", "classes/Order?count=1&limit=0")
        assert answer["count"] == 2  # the refused write was not stored


def test_a_stalled_database_makes_the_node_not_ready_while_it_stays_alive(tmp_path: Path) -> None:
    with private_cluster() as cluster, serve(tmp_path / "app", "--workers", "1", "--threads", "2",
                                             postgresql_url=cluster.url) as node:
        assert _send(node, "POST", "classes/Order", {"n": 1})[0] == 201
        assert _probe(node, "ready") == 200
        cluster.freeze()
        try:
            # requests that reach the stalled database hold both handler threads until it answers
            stuck = [threading.Thread(target=_send_ignoring_timeout, args=(node,)) for _ in range(2)]
            for thread in stuck:
                thread.start()
            # the load balancer's probes still answer: alive, not ready (after probes.READY_TIMEOUT), and
            # again while the first check is still waiting
            assert (_probe(node, "health"), _probe(node, "ready"), _probe(node, "ready")) == (200, 503, 503)
        finally:
            cluster.thaw()
        for thread in stuck:
            thread.join(timeout=30)
        status, answer = _until_served(node, "GET", "classes/Order?count=1&limit=0")
        assert (status, answer["count"]) == (200, 1)
        assert _probe(node, "ready") == 200


def _send_ignoring_timeout(node: Served) -> None:
    try:
        requests.get(f"{node.base_url}/1.1/classes/Order", headers=_headers(node), timeout=20)
    except requests.Timeout:
        pass
