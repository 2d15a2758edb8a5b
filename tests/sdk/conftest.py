"""The official SDK's interpreter, and ``leanorm serve`` for it to drive (``tests/served.py``).

``sdk_python``: the interpreter of a virtualenv holding the official ``leancloud`` SDK 3.0.2 and what its
own test suite runs with (``SUITE_REQUIREMENTS``; its pins on
Werkzeug 1.0 / urllib3 1.26 would clash with ours, so it never shares our environment). It is created
under ``.cache/sdk-venv`` on first use and reused afterwards, so ``scripts/test`` works on a fresh machine
and re-runs cost nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from tests.served import Served, served  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
SDK_VENV = ROOT / ".cache" / "sdk-venv"
SDK_REQUIREMENT = "leancloud==3.0.2"
#: what the SDK's own test suite runs with (its ``test`` extra; nose 1.3.7 is its last release; flask 1.x
#: is what its Werkzeug 1.0 pin allows; arrow 1.4 breaks its ``test_time_zone``)
SUITE_REQUIREMENTS = ["nose==1.3.7", "wsgi_intercept", "flask<2", "arrow<1.4"]
#: run under the SDK's interpreter only (``--doctest-modules`` would import them here)
collect_ignore = ["scenario.py", "steps.py", "app_patterns.py", "suite/run_nose.py", "suite/request_generator.py"]


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    """The SDK virtualenv's interpreter, creating the virtualenv and installing the SDK when missing."""
    python = SDK_VENV / "bin" / "python"
    version = SDK_REQUIREMENT.split("==")[1]
    probe = [str(python), "-c", "import importlib.metadata as m, nose, wsgi_intercept, flask; "
             "print(m.version('leancloud'), tuple(map(int, m.version('arrow').split('.')[:2])) < (1, 4))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == f"{version} True":
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(SDK_VENV)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              SDK_REQUIREMENT, *SUITE_REQUIREMENTS], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"could not install {SDK_REQUIREMENT} into {SDK_VENV}:\n{install.stderr[-2000:]}")
    return python


def run_scenario(sdk_python: Path, script: Path, server: Served) -> Dict[str, Any]:
    """Run a scenario script (``steps.py``) under the SDK's interpreter against ``server``:
    ``{step: {"ok", "value" | "error", "traceback"}, "_ids": ...}``."""
    env = {**os.environ, "LEANCLOUD_API_SERVER": server.base_url}
    env.pop("PYTHONPATH", None)  # the SDK's interpreter must not import our environment's packages
    run = subprocess.run([str(sdk_python), str(script), server.app_id, server.app_key, server.master_key],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def value(results: Dict[str, Any], step: str) -> Any:
    """What a scenario step returned; the step's traceback when it failed."""
    result = results[step]
    if not result["ok"]:
        pytest.fail(f"SDK step {step} failed: {result['error']}\n{result['traceback']}")
    return result["value"]
