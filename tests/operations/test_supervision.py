"""A worker that keeps crashing does not stop ``leanorm serve``: the server keeps answering."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import List

import pytest
import requests

from tests.served import Served, serve

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from /proc")


def _workers(served: Served) -> List[int]:
    pid = served.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(p) for p in children.read().split()]


def _answers(served: Served) -> bool:
    try:
        return requests.get(f"{served.base_url}/1.1/date", timeout=2,
                            headers={"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}).status_code == 200
    except requests.ConnectionError:
        return False


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout:g} s: {what}")
        time.sleep(0.05)


def test_worker_killed_again_and_again_the_server_keeps_answering(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "2") as served:
        victim = _workers(served)[0]
        for _ in range(4):  # the worker that replaced the last one, killed at once: granian's "crash loop"
            before = set(_workers(served))
            os.kill(victim, signal.SIGKILL)
            _wait_for(lambda: served.process.poll() is not None or set(_workers(served)) - before,
                      "the killed worker replaced")
            if served.process.poll() is not None:
                break
            victim = (set(_workers(served)) - before).pop()
        assert served.process.poll() is None, served.process.stdout.read()
        _wait_for(lambda: _answers(served), "the server answering again")
        assert served.process.poll() is None
