"""The official ``leancloud`` Python SDK 3.0.2's OWN test suite, from its sdist, against ``leanorm serve``.

The sdist (``pip download --no-deps --no-binary :all: leancloud==3.0.2``) is unpacked under ``.cache/``
once; what it lacks is added beside its tests, never edited into them (``tests/__init__.py``,
``tests/request_generator.py``, ``tests/sample_text.txt``: ``suite/``). nose 1.3.7 runs it in the SDK's
virtualenv through ``suite/run_nose.py``, against a fresh ``leanorm serve`` hosting ``suite/app.py``'s
Engine. The suite is run once per session; each test here asserts one SDK test module passed, so a
failure names the module and shows nose's report of it.

Left out (``EXCLUDED``, listed with reasons in docs/embedded.md): tests that need something outside
this machine or a setting of LeanCloud's own test app. Everything else must pass.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from tests.served import Served, serve

from .conftest import ROOT, SDK_REQUIREMENT

HERE = Path(__file__).resolve().parent / "suite"
SDIST_DIR = ROOT / ".cache" / "sdk-sdist"
HOOK_KEY = "served-hook"

#: ``module:test`` left out, and why (docs/embedded.md lists the same)
EXCLUDED: Dict[str, str] = {
    "test_file:test_thumbnail": "downloads an image from the internet",
    "test_file:test_thumbnail_size_erorr": "downloads an image from the internet",
    "test_file:test_destroy": "downloads an image from the internet",
    "test_file:test_fetch": "downloads an image from the internet",
    "test_message:test_message_find_by_conversation": "LeanCloud's IM service (rtm)",
    "test_message:test_message_find_by_client": "LeanCloud's IM service (rtm)",
    "test_message:test_message_find_all": "LeanCloud's IM service (rtm)",
    "test_conversation:test_send": "LeanCloud's IM service (rtm)",
    "test_engine:test_request_sms_code": "real SMS delivery, with minute-long sleeps",
    "test_push:test_basic_push": "the app setting that lets clients push (off by default, as on LeanCloud)",
}
#: the SDK's test modules (each one a test here)
MODULES = ["test_acl", "test_client", "test_conversation", "test_engine", "test_file", "test_geo_point",
           "test_message", "test_middlewares", "test_object", "test_op", "test_push", "test_query",
           "test_relation", "test_role", "test_status", "test_sys_message", "test_user", "test_util"]


def _unpacked_sdist(sdk_python: Path) -> Path:
    """The sdist's directory with the missing files added (downloaded and unpacked once)."""
    version = SDK_REQUIREMENT.split("==")[1]
    suite = SDIST_DIR / f"leancloud-{version}"
    if not (suite / "tests" / "test_query.py").exists():
        SDIST_DIR.mkdir(parents=True, exist_ok=True)
        download = subprocess.run([str(sdk_python), "-m", "pip", "download", "-q", "--disable-pip-version-check",
                                   "--no-deps", "--no-binary", ":all:", "-d", str(SDIST_DIR), SDK_REQUIREMENT],
                                  capture_output=True, text=True)
        if download.returncode != 0:
            pytest.fail(f"could not download the {SDK_REQUIREMENT} sdist:\n{download.stderr[-2000:]}")
        with tarfile.open(SDIST_DIR / f"leancloud-{version}.tar.gz") as archive:
            # the "data" filter (no links or paths outside the directory) where Python has it
            archive.extractall(SDIST_DIR, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    for name in ("request_generator.py", "sample_text.txt"):
        shutil.copyfile(HERE / name, suite / "tests" / name)
    (suite / "tests" / "__init__.py").write_text("")
    return suite


def _seed(served: Served) -> None:
    """Data LeanCloud's test app kept from earlier runs: ``test_matches_key_in_query`` reads 50 ``A`` and
    50 ``B`` objects that only its own teardown (``match_key_setup``) creates."""
    headers = {"X-LC-Id": served.app_id, "X-LC-Key": f"{served.master_key},master"}
    batch = [{"method": "POST", "path": f"/1.1/classes/{name}", "body": {key: k}}
             for _ in range(5) for k in range(10) for name, key in (("A", "age"), ("B", "work_year"))]
    answer = requests.post(f"{served.base_url}/1.1/batch", json={"requests": batch}, headers=headers, timeout=30)
    assert answer.ok and all("success" in item for item in answer.json()), answer.text


@pytest.fixture(scope="module")
def suite_results(sdk_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, List[str]]]:
    """Run the SDK's suite once: ``{module: [problems]}`` (an empty list: every test of it passed)."""
    suite = _unpacked_sdist(sdk_python)
    work = tmp_path_factory.mktemp("sdk-suite")
    with serve(work / "app.sqlite3", "--engine", "tests.sdk.suite.app:engine") as served:
        _seed(served)
        env = {**os.environ, "APP_ID": served.app_id, "APP_KEY": served.app_key, "MASTER_KEY": served.master_key,
               "HOOK_KEY": HOOK_KEY, "LEANCLOUD_API_SERVER": served.base_url}
        env.pop("PYTHONPATH", None)  # the SDK's interpreter must not import our environment's packages
        report = work / "nose.xml"
        run = subprocess.run([str(sdk_python), str(HERE / "run_nose.py"), str(suite), str(report), *EXCLUDED],
                             env=env, capture_output=True, text=True, timeout=300)
    if not report.exists():
        pytest.fail(f"nose did not run (exit {run.returncode}):\n{run.stderr[-4000:]}")
    results: Dict[str, List[str]] = {module: [] for module in MODULES}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[1] if "." in case.get("classname", "") else ""
        for problem in list(case):
            if problem.tag in ("failure", "error"):
                text = (problem.text or problem.get("message") or "")[-1500:]
                results.setdefault(module, []).append(f"{case.get('classname')}.{case.get('name')}: {text}")
    yield results


@pytest.mark.parametrize("module", MODULES)
def test_sdk_suite_module_passes(suite_results: Dict[str, List[str]], module: str) -> None:
    problems = suite_results.get(module, [])
    assert not problems, "\n\n".join(problems)
