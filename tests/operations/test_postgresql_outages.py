"""``leanorm serve`` on a PostgreSQL server that crashes, stops or stalls under it (a chaos pass of the N
nodes of docs/deploying.md, section 8): an acknowledged write outlives the crash, the clients hear a
clear 503 while the database is away, readiness says so while liveness stays up, the node serves
again by itself once the database is back, and a live query whose feed lost changes is told so.

The tests that crash, stop or freeze PostgreSQL run their own server (``private_postgresql``: the shared
test cluster must not be crashed under the other tests), and are skipped where this machine has no
PostgreSQL server binaries.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
import requests

from tests.live_socket import Socket
from tests.operations.private_postgresql import private_cluster
from tests.postgresql import STORES
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


#: the newest change of the feed and its object, gone: what a crash leaves of a write that committed but
#: never reached the disk, or a failover to a standby that had not received it (the feed's numbers are
#: given again to the next writes)
_REWIND = {
    "sqlite": ["DELETE FROM _changes WHERE seq = (SELECT MAX(seq) FROM _changes)",
               "UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = '_changes'", "DELETE FROM \"c_Feed\""],
    "postgresql": ["DELETE FROM _changes WHERE seq = (SELECT MAX(seq) FROM _changes)", "DELETE FROM \"c_Feed\""],
}


@pytest.mark.parametrize("store", STORES)
def test_a_live_query_is_told_when_the_feed_lost_changes_it_was_sent(tmp_path: Path, store: str) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", store=store) as node:
        listener = Socket(node)
        assert listener.subscribe(1, "Feed", {})["op"] == "subscribed"
        assert _send(node, "POST", "classes/Feed", {"n": 1})[0] == 201
        assert listener.next()["object"]["n"] == 1

        node.sql_all(_REWIND[store])
        assert _send(node, "POST", "classes/Feed", {"n": 2})[0] == 201  # the number n=1 had, again
        # not silence: what the subscriber holds may be wrong, and it is told to read it again
        told = listener.next()
        assert (told["op"], told["reconnect"]) == ("error", True), told

        again = Socket(node)
        assert again.subscribe(1, "Feed", {})["op"] == "subscribed"
        assert _send(node, "POST", "classes/Feed", {"n": 3})[0] == 201
        assert again.next()["object"]["n"] == 3
