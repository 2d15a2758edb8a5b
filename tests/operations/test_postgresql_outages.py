"""``leanorm serve`` on a PostgreSQL server that crashes, stops or stalls under it (a chaos pass of the N
nodes of docs/deploying.md, section 8): an acknowledged write outlives the crash, the clients hear a
clear 503 while the database is away, readiness says so while liveness stays up, and the node serves
again by itself once the database is back.

Each test runs its own PostgreSQL server (``private_postgresql``: the shared test cluster must not be
crashed under the other tests), and is skipped where this machine has no PostgreSQL server binaries.
"""
from __future__ import annotations

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
