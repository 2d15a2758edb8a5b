"""The JavaScript tier's fixtures: the npm SDKs, and ``leanorm serve`` (with the scenarios' cloud code).

``js_modules``: a directory holding ``node_modules`` with the SDKs pinned in ``tests/js/package.json``,
installed by npm from the registry unchanged into ``.cache/js-sdk`` on first use and reused while that
file is unchanged (so ``scripts/test`` works on a fresh machine and re-runs cost nothing).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.served import Served, serve

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
INSTALL_DIR = ROOT / ".cache" / "js-sdk"


@pytest.fixture(scope="session")
def js_modules() -> Path:
    """The install directory of the SDKs (installing them when missing or when package.json changed)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the JavaScript tier needs Node.js and npm on PATH")
    wanted = (HERE / "package.json").read_text()
    installed = INSTALL_DIR / "package.json"
    if installed.exists() and installed.read_text() == wanted and (INSTALL_DIR / "node_modules").is_dir():
        return INSTALL_DIR
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    installed.write_text(wanted)
    result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], cwd=INSTALL_DIR,
                            capture_output=True, text=True)
    if result.returncode != 0:
        installed.unlink()
        pytest.fail(f"npm install failed:\n{result.stderr[-2000:]}")
    return INSTALL_DIR


@pytest.fixture(scope="module")
def served_with_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` over a fresh database, running the scenarios' cloud functions, with LeanCloud's
    realtime WebSocket (LiveQuery) on a port of its own."""
    with serve(tmp_path_factory.mktemp("js") / "app.sqlite3", "--engine", "tests.js.cloud:engine",
               "--realtime-port", "0") as running:
        yield running
