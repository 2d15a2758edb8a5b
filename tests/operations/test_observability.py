"""What ``leanorm serve`` tells an operator: liveness, readiness, Prometheus metrics (guarded), JSON logs."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

from tests.served import Served, serve


def _keys(served: Served) -> dict:
    return {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):
    with serve(tmp_path_factory.mktemp("ops") / "app.sqlite3", "--workers", "2") as served:
        yield served


def test_health_answers_without_keys(running: Served) -> None:
    answer = requests.get(f"{running.base_url}/health", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_health_takes_no_body(running: Served) -> None:
    answer = requests.get(f"{running.base_url}/health", data=b"x" * 4096, timeout=10)
    assert answer.status_code == 413


def test_ready_touches_the_store(running: Served) -> None:
    answer = requests.get(f"{running.base_url}/ready", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ready"}


def test_ready_fails_once_the_database_is_moved_away(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    with serve(database, "--workers", "1") as served:
        assert requests.get(f"{served.base_url}/ready", timeout=10).status_code == 200
        os.rename(database, tmp_path / "moved.sqlite3")
        answer = requests.get(f"{served.base_url}/ready", timeout=10)
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        assert str(tmp_path) not in answer.text  # no server path to whoever asks
        assert requests.get(f"{served.base_url}/health", timeout=10).status_code == 200  # alive, not ready
        assert _sample(_metrics(served).text, "leanorm_store_errors_total", kind="moved") >= 1


def _metrics(served: Served, **headers: str) -> requests.Response:
    return requests.get(f"{served.base_url}/metrics", headers=headers, timeout=10)


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_of_every_worker(running: Served) -> None:
    before = _sample(_metrics(running).text, "leanorm_requests_total", route="classes/*", status="201")
    for n in range(20):  # over new connections: both workers take some
        assert requests.post(f"{running.base_url}/1.1/classes/Metric", json={"n": n}, headers=_keys(running),
                             timeout=10).status_code == 201
    # a worker counts a request just after sending its answer: the last may be counted a moment later
    deadline = time.monotonic() + 30  # a bound on waiting, not a measure
    text = _metrics(running).text
    while _sample(text, "leanorm_requests_total", route="classes/*", status="201") < before + 20 \
            and time.monotonic() < deadline:
        time.sleep(0.05)
        text = _metrics(running).text
    assert _sample(text, "leanorm_requests_total", route="classes/*", status="201") == before + 20
    assert _sample(text, "leanorm_request_seconds_count", route="classes/*") >= 20
    assert "leanorm_requests_in_flight" in text and "leanorm_store_errors_total" in text


def test_metrics_need_their_token_when_one_is_set(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--metrics-token", "s3cret") as served:
        assert _metrics(served).status_code == 404
        assert _metrics(served, Authorization="Bearer wrong").status_code == 404
        assert _metrics(served, Authorization="Bearer s3cret").status_code == 200


def test_metrics_behind_a_proxy_need_a_token(tmp_path: Path) -> None:
    # behind a reverse proxy every request comes from loopback: that says nothing of who sent it
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--trust-proxy") as served:
        assert _metrics(served).status_code == 404


def test_json_logs(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    with serve(database, "--workers", "1", "--verbose", "--log-format", "json") as served:
        requests.post(f"{served.base_url}/1.1/classes/Logged?secret=1", json={"n": 1}, headers=_keys(served),
                      timeout=10)
        os.rename(database, tmp_path / "moved.sqlite3")
        assert requests.post(f"{served.base_url}/1.1/classes/Logged", json={"n": 2}, headers=_keys(served),
                             timeout=10).status_code == 503
        served.process.terminate()
        output = served.process.communicate(timeout=60)[0]
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "leanorm.access" and r["method"] == "POST"]
    assert {"method": "POST", "path": "/1.1/classes/Logged", "status": 201}.items() <= access[0].items()
    assert access[1]["status"] == 503
    assert "secret" not in json.dumps(access)  # the query string is not logged
    errors = [r for r in records if r.get("level") == "ERROR"]
    assert any("replaced" in r["message"] or "moved" in r["message"] for r in errors)
    assert all(line.startswith("{") for line in output.splitlines() if line.strip()), output


def test_health_answers_while_every_handler_thread_is_busy(tmp_path: Path) -> None:
    import concurrent.futures
    release = tmp_path / "release"
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--threads", "1",
               "--engine", "tests.operations.busy_engine:engine") as served:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            started = tmp_path / "started"
            held = pool.submit(requests.post, f"{served.base_url}/1.1/functions/hold",
                               json={"started": str(started), "release": str(release)}, headers=_keys(served),
                               timeout=60)
            while not started.exists():  # the one handler thread holds the call
                assert not held.done(), held.result().text
                time.sleep(0.05)
            try:
                health = requests.get(f"{served.base_url}/health", timeout=10)
                assert health.status_code == 200
                # readiness reads the store off the handler threads (probes.Readiness), so it answers too
                assert requests.get(f"{served.base_url}/ready", timeout=10).status_code == 200
                assert not held.done()
            finally:
                release.touch()
            assert held.result().json() == {"result": "released"}
