"""Fixtures for driving ``leanorm serve`` with external clients.

``sdk_python``: the interpreter of a virtualenv holding the official ``leancloud`` SDK 3.0.2 (its pins on
Werkzeug 1.0 / urllib3 1.26 would clash with ours, so it never shares our environment). It is created
under ``.cache/sdk-venv`` on first use and reused afterwards, so ``scripts/test`` works on a fresh machine
and re-runs cost nothing.

``served``: ``leanorm serve`` in a subprocess on a free loopback port, over a temporary database.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SDK_VENV = ROOT / ".cache" / "sdk-venv"
SDK_REQUIREMENT = "leancloud==3.0.2"
START_TIMEOUT = 30.0
#: runs under the SDK's interpreter only (``--doctest-modules`` would import it here)
collect_ignore = ["scenario.py"]
APP_ID, APP_KEY, MASTER_KEY = "sdk-app", "sdk-key", "sdk-master"


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    """The SDK virtualenv's interpreter, creating the virtualenv and installing the SDK when missing."""
    python = SDK_VENV / "bin" / "python"
    version = SDK_REQUIREMENT.split("==")[1]
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('leancloud'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == version:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(SDK_VENV)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              SDK_REQUIREMENT], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"could not install {SDK_REQUIREMENT} into {SDK_VENV}:\n{install.stderr[-2000:]}")
    return python


@dataclasses.dataclass
class Served:
    """A running ``leanorm serve``: where it listens and the keys it accepts."""

    process: subprocess.Popen
    port: int
    database: Path
    app_id: str = APP_ID
    app_key: str = APP_KEY
    master_key: str = MASTER_KEY

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def leanorm_url(self) -> str:
        """The URL ``leanorm.connect`` takes to reach this server in the LeanCloud dialect."""
        return f"leancloud+http://{self.app_id}:{self.app_key}@127.0.0.1:{self.port}?master_key={self.master_key}"


def _wait_until_answering(served: Served) -> None:
    """Poll ``GET /1.1/date`` until the server answers it (or fail with what it printed)."""
    deadline = time.monotonic() + START_TIMEOUT
    headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"leanorm serve exited with {served.process.returncode}: {served.process.stdout.read()}")
        try:
            if requests.get(f"{served.base_url}/1.1/date", headers=headers, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail("leanorm serve did not answer in time")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` over a fresh database on a port the OS picks (``--port 0``; the banner names it)."""
    database = tmp_path_factory.mktemp("served") / "app.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-m", "leanorm.cli", "serve", "--db", str(database), "--host", "127.0.0.1", "--port", "0",
         "--app-id", APP_ID, "--app-key", APP_KEY, "--master-key", MASTER_KEY],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = process.stdout.readline()  # "leanorm: serving DB on http://127.0.0.1:PORT (...)"
        try:
            port = int(banner.split("http://127.0.0.1:")[1].split()[0])
        except (IndexError, ValueError):
            pytest.fail(f"unexpected banner from leanorm serve: {banner!r} {process.stdout.read()}")
        served = Served(process, port, database)
        _wait_until_answering(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
