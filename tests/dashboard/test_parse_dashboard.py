"""Parse Dashboard (npm ``parse-dashboard``, pinned in scripts/parse-dashboard) as an app's console against
``leanorm serve``, driven in a real headless Chromium (Debian's, through ``puppeteer-core``).

``dashboard_scenario.mjs`` declares the flows an admin goes through; every flow is a test here, named
after it. By default the everyday few run (class list, a class with typed columns, rows and cell edits,
dropping a column and a class: well under a minute); ``LEANORM_DASHBOARD_FULL=1`` adds the rest (filters
and sorting, the ACL and class-permission dialogs, a file cell, users and roles, the API console). The
tier skips, saying why, only when the browser cannot be installed on the machine.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from tests.served import Served, serve

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "dashboard_scenario.mjs"
FULL = os.environ.get("LEANORM_DASHBOARD_FULL") == "1"
APP_NAME = "leanorm-app"
RUN_TIMEOUT = 600
START_TIMEOUT = 60.0


def _steps() -> List[str]:
    """The flows the scenario runs in this mode, read from its source."""
    source = SCRIPT.read_text()
    names = re.findall(r"^step\('([^']+)'", source, re.MULTILINE)
    if FULL:
        names += re.findall(r"^fullStep\('([^']+)'", source, re.MULTILINE)
    return names


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def installed() -> Dict[str, str]:
    """The browser and the npm packages (installed by scripts/parse-dashboard when missing)."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "parse-dashboard"), "install"], capture_output=True,
                          text=True)
    if done.returncode == 3:
        pytest.skip(f"no browser for the dashboard tier: {done.stderr.strip()[-500:]}")
    if done.returncode != 0:
        pytest.fail(f"scripts/parse-dashboard install failed:\n{done.stderr[-2000:]}")
    paths = {}
    for what in ("chromium", "modules"):
        paths[what] = subprocess.run(["bash", str(ROOT / "scripts" / "parse-dashboard"), what], check=True,
                                     capture_output=True, text=True).stdout.strip()
    return paths


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("dashboard") / "app.sqlite3") as running:
        yield running


@pytest.fixture(scope="module")
def dashboard(installed: Dict[str, str], served_app: Served, tmp_path_factory: pytest.TempPathFactory) \
        -> Iterator[str]:
    """Parse Dashboard on 127.0.0.1 with ``served_app`` as its one app; its base URL."""
    config = tmp_path_factory.mktemp("dashboard-config") / "config.json"
    config.write_text(json.dumps({"apps": [{
        "serverURL": served_app.base_url + "/parse", "appId": served_app.app_id,
        "masterKey": served_app.master_key, "javascriptKey": served_app.app_key, "restKey": served_app.app_key,
        "appName": APP_NAME}]}))
    port = _free_port()
    binary = Path(installed["modules"]) / "parse-dashboard" / "bin" / "parse-dashboard"
    process = subprocess.Popen(["node", str(binary), "--config", str(config), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=config.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"parse-dashboard exited with {process.returncode}: {process.stdout.read()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("parse-dashboard did not answer in time")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def outcomes(installed: Dict[str, str], served_app: Served, dashboard: str,
             tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """The scenario run once: flow name → "" (passed) or why it failed (a screenshot of each failure
    lands in the module's temporary directory)."""
    shots = tmp_path_factory.mktemp("dashboard-shots")
    env = {**os.environ, "LEANORM_DASHBOARD_MODULES": installed["modules"],
           "LEANORM_CHROMIUM": installed["chromium"],
           "LEANORM_DASHBOARD_URL": dashboard, "LEANORM_DASHBOARD_APP": APP_NAME,
           "LEANORM_SERVER_URL": served_app.base_url + "/parse", "LEANORM_APP_ID": served_app.app_id,
           "LEANORM_APP_KEY": served_app.app_key, "LEANORM_MASTER_KEY": served_app.master_key,
           "LEANORM_DASHBOARD_SHOTS": str(shots)}
    done = subprocess.run(["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    ran: Dict[str, str] = {}
    for line in done.stdout.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict == "pass":
            ran[rest] = ""
        elif verdict == "fail":
            name, _, reason = rest.partition(": ")
            ran[name] = f"{reason or 'failed'} (screenshots: {shots})"
    if done.returncode != 0:
        ran.setdefault("", f"node exited with {done.returncode}: {done.stderr[-1500:]}")
    return ran


@pytest.mark.parametrize("flow", _steps())
def test_dashboard_flow(outcomes: Dict[str, str], flow: str) -> None:
    assert flow in outcomes, f"the scenario never reported this flow: {outcomes.get('', 'no output')}"
    assert outcomes[flow] == "", outcomes[flow]
