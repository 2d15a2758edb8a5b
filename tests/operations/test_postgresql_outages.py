"""``leanorm serve`` on a PostgreSQL server that crashes, stops or stalls under it (a chaos pass of the N
nodes of docs/deploying.md, section 8): an acknowledged write outlives the crash, the clients hear a
clear 503 while the database is away, readiness says so while liveness stays up, the node serves
again by itself once the database is back, and a live query whose feed lost changes is told so.

The tests that crash, stop or freeze PostgreSQL run their own server (``private_postgresql``: the shared
test cluster must not be crashed under the other tests), and are skipped where this machine has no
PostgreSQL server binaries.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests

from tests.live_socket import Socket
from tests.operations.private_postgresql import PrivateCluster, private_cluster
from tests.operations.silent_link import SilentLink
from tests.postgresql import STORES
from tests.served import Served, serve

#: a request's deadline on the node under test (--query-timeout), in seconds
DEADLINE = 2
#: seconds PostgreSQL stays down in the outage test: long enough for a reconnection that backs off
#: exponentially (1, 2, 4, 8 s... between attempts) to try next only ~10 s after the database is back
OUTAGE = 18


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    # the WAL writer flushes what commits asynchronously only every 10 s: a write acknowledged before its
    # commit reached the disk is lost by a crash within that time
    with private_cluster("-c wal_writer_delay=10s") as running:
        yield running


@pytest.fixture(scope="module")
def node(cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``leanorm serve`` on the private cluster; each test leaves it serving again."""
    with serve(tmp_path_factory.mktemp("outages") / "app", "--workers", "1", "--threads", "2",
               "--query-timeout", str(DEADLINE), postgresql_url=cluster.url) as running:
        yield running


def _headers(node: Served) -> Dict[str, str]:
    return {"X-LC-Id": node.app_id, "X-LC-Key": f"{node.master_key},master", "Content-Type": "application/json"}


def _send(node: Served, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    answer = requests.request(method, f"{node.base_url}/1.1/{path}", json=body, headers=_headers(node), timeout=30)
    return answer.status_code, answer.json()


def _probe(node: Served, path: str) -> int:
    return requests.get(f"{node.base_url}/{path}", timeout=10).status_code


def _served_within(node: Served, attempts: int, method: str, path: str) -> Tuple[int, Any]:
    """``method path`` until the node answers it 200, at most ``attempts`` times (each ends within the
    deadline: 503 while the node has no connection); the last answer."""
    for _ in range(attempts):
        answer = _send(node, method, path)
        if answer[0] == 200:
            break
        time.sleep(0.2)
    return answer


def test_a_write_acknowledged_before_postgresql_crashes_is_kept(cluster: PrivateCluster, node: Served) -> None:
    acknowledged = [answer["objectId"] for status, answer in
                    (_send(node, "POST", "classes/Order", {"n": n}) for n in range(20)) if status == 201]
    assert _send(node, "PUT", f"classes/Order/{acknowledged[0]}",
                 {"paid": {"__op": "Increment", "amount": 5}})[0] == 200
    assert len(acknowledged) == 20

    cluster.stop("immediate")  # PostgreSQL crashes: it recovers from its write-ahead log at the start
    cluster.start()

    status, answer = _served_within(node, 10, "GET", "classes/Order?count=1&limit=0")
    assert (status, answer["count"]) == (200, 20)
    assert _send(node, "GET", f"classes/Order/{acknowledged[0]}")[1]["paid"] == 5


def test_while_postgresql_is_down_requests_answer_503_and_the_node_serves_again_when_it_is_back(
        cluster: PrivateCluster, node: Served) -> None:
    status, created = _send(node, "POST", "classes/Stock", {"n": 1})
    assert status == 201

    cluster.stop("fast")
    stopped = time.monotonic()
    for method, path, body in (("GET", f"classes/Stock/{created['objectId']}", None),
                               ("POST", "classes/Stock", {"n": 2}),
                               ("GET", "classes/Stock?where=%7B%22n%22%3A1%7D", None)):
        status, answer = _send(node, method, path, body)  # within the deadline, not the pool's 30 s
        assert (status, answer["code"]) == (503, 1), answer
        assert "database is unavailable" in answer["error"] and "not served" in answer["error"]
    assert (_probe(node, "health"), _probe(node, "ready")) == (200, 503)
    while time.monotonic() < stopped + OUTAGE:  # clients go on asking, and are refused
        assert _send(node, "GET", f"classes/Stock/{created['objectId']}")[0] == 503

    cluster.start()
    # the node reconnects by itself, and soon: not after a wait that doubled with each failed attempt
    status, answer = _served_within(node, 3, "GET", f"classes/Stock/{created['objectId']}")
    assert (status, answer["n"]) == (200, 1)
    assert _send(node, "POST", "classes/Stock", {"n": 3})[0] == 201
    assert _probe(node, "ready") == 200
    assert _send(node, "GET", "classes/Stock?count=1&limit=0")[1]["count"] == 2  # the refused write: not stored


def test_a_stalled_database_makes_the_node_not_ready_while_it_stays_alive(cluster: PrivateCluster,
                                                                          node: Served) -> None:
    assert _send(node, "POST", "classes/Tick", {"n": 1})[0] == 201
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
    status, answer = _served_within(node, 10, "GET", "classes/Tick?count=1&limit=0")
    assert (status, answer["count"]) == (200, 1)
    assert _probe(node, "ready") == 200


def _send_ignoring_timeout(node: Served) -> None:
    try:
        requests.get(f"{node.base_url}/1.1/classes/Tick", headers=_headers(node), timeout=20)
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
    with serve(tmp_path / "app.sqlite3", "--workers", "1", store=store) as node:  # the shared test database
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


def test_a_node_started_before_its_database_waits_for_it(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        cluster.stop("fast")
        starting = threading.Timer(10.0, cluster.start)  # the node waits meanwhile (past the pool's RECONNECT)
        starting.start()
        try:
            with serve(tmp_path / "app", "--workers", "1", postgresql_url=cluster.url) as node:
                assert _send(node, "POST", "classes/Order", {"n": 1})[0] == 201
                assert _probe(node, "ready") == 200
        finally:
            starting.join()


def _class_permissions(node: Served, class_name: str, who: Dict[str, bool]) -> int:
    permissions = {action: who for action in ("find", "get", "count")}
    answer = requests.put(f"{node.base_url}/1.1/schemas/{class_name}", headers=_headers(node), timeout=30,
                          json={"className": class_name, "classLevelPermissions": permissions})
    return answer.status_code


def _find_with_the_app_key(node: Served, class_name: str) -> int:
    headers = {"X-LC-Id": node.app_id, "X-LC-Key": node.app_key}
    return requests.get(f"{node.base_url}/1.1/classes/{class_name}", headers=headers, timeout=30).status_code


def test_a_node_whose_listening_connection_was_cut_silently_still_hears_a_class_change(
        cluster: PrivateCluster, node: Served, tmp_path: Path) -> None:
    # what a partition, or a firewall forgetting an idle connection, leaves: the LISTEN connection's
    # server side gone, its client side never told
    link = SilentLink(("127.0.0.1", cluster.port))
    try:
        with serve(tmp_path / "app", "--workers", "1", postgresql_url=cluster.url.replace(
                f":{cluster.port}/", f":{link.port}/")) as near:
            assert _send(node, "POST", "classes/Note", {"n": 1})[0] == 201
            assert _class_permissions(node, "Note", {"*": True}) == 200
            assert _find_with_the_app_key(near, "Note") == 200  # the class permissions, kept by near

            link.cut()
            assert _served_within(near, 5, "GET", "classes/Note")[0] == 200  # its pool reconnected
            assert _class_permissions(node, "Note", {}) == 200  # the other node closes the class

            for _ in range(30):  # a bound on waiting, not a measure (the listener's heartbeat: seconds)
                if _find_with_the_app_key(near, "Note") != 200:
                    break
                time.sleep(0.5)
            assert _find_with_the_app_key(near, "Note") == 403
    finally:
        link.close()


def _signal_node(node: Served, signal_number: int) -> None:
    """``signal_number`` to the node's main process and every process below it (its workers)."""
    def tree(pid: int) -> List[int]:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [pid, *(p for child in children.read().split() for p in tree(int(child)))]
    for pid in tree(node.process.pid):
        os.kill(pid, signal_number)


def test_a_node_stalled_in_the_middle_of_a_write_holds_up_the_other_nodes_writes_only_briefly(
        cluster: PrivateCluster, node: Served, tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    status, jam = _send(node, "POST", "classes/Jam", {"n": 1})
    assert status == 201, jam
    with serve(tmp_path / "app", "--workers", "1", postgresql_url=cluster.url) as stalled, \
            psycopg.connect(cluster.url) as blocker:
        # the stalled node's write takes the writers' lock, then waits for a table lock the test holds. An
        # update: its second round trip needs the node (a create is one message the database finishes alone)
        blocker.execute('LOCK TABLE "c_Jam" IN ACCESS EXCLUSIVE MODE')
        answers: List[Tuple[int, Any]] = []
        writing = threading.Thread(target=lambda: answers.append(_send(
            stalled, "PUT", f"classes/Jam/{jam['objectId']}", {"n": {"__op": "Increment", "amount": 1}})))
        writing.start()
        for _ in range(100):
            if blocker.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                               "'\"c_Jam\"'::regclass").fetchone()[0]:
                break
            time.sleep(0.1)
        _signal_node(stalled, signal.SIGSTOP)  # its process stops (a pause, a swap storm, a hung host)
        try:
            blocker.rollback()  # its statement completes; its transaction, the lock with it, stays open
            # the other node writes (a new class: it needs the writers' lock alone): each try waits for the
            # lock within its deadline (then 124, nothing stored), until PostgreSQL ends the silent one
            tries = [_send(node, "POST", "classes/Other", {"n": 1})]
            while tries[-1][0] != 201 and len(tries) < 12:
                tries.append(_send(node, "POST", "classes/Other", {"n": 1}))
            assert tries[-1][0] == 201 and all(answer["code"] == 124 for status, answer in tries[:-1]
                                              if status != 201), tries
        finally:
            _signal_node(stalled, signal.SIGCONT)
        writing.join(timeout=30)
        assert answers and answers[0][0] == 503, answers  # its transaction was ended: not stored
        assert _send(node, "GET", f"classes/Jam/{jam['objectId']}")[1]["n"] == 1


def test_a_database_that_refuses_writes_answers_503_and_reads_go_on(cluster: PrivateCluster, node: Served) -> None:
    # what a node whose address still leads to the old primary meets once it was demoted to a standby
    psycopg = pytest.importorskip("psycopg")
    assert _send(node, "POST", "classes/Ledger", {"n": 1})[0] == 201
    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        admin.execute("SELECT pg_reload_conf()")
        try:
            time.sleep(0.5)  # the server's processes read the new setting
            status, answer = _send(node, "POST", "classes/Ledger", {"n": 2})
            assert (status, answer["code"]) == (503, 1), answer
            assert "refuses writes" in answer["error"] and "not served" in answer["error"]
            assert _send(node, "GET", "classes/Ledger?count=1&limit=0")[1]["count"] == 1
        finally:
            admin.execute("ALTER SYSTEM RESET default_transaction_read_only")
            admin.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    assert _send(node, "POST", "classes/Ledger", {"n": 3})[0] == 201
