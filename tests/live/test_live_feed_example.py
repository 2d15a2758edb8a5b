"""examples/live_feed.py runs as docs/live.md says to run it: in-process, and against the tier's Parse
Server."""
import os
import pathlib
import subprocess
import sys

import pytest

from tests.live.conftest import parse_urls

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "live_feed.py"


@pytest.mark.parametrize("backend", ["embedded", pytest.param("parse", marks=pytest.mark.parse)])
def test_the_live_feed_example_prints_every_change_in_order(backend):
    url = "local://:memory:" if backend == "embedded" else parse_urls()[0]
    env = {**os.environ, "LEANORM_URL": url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLE.parents[1]), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    assert out.splitlines() == ["create: Hello 12", "update: Hello 20 (was 12)", "leave: Hello 3 (was 20)",
                                "enter: Hello 11 (was 3)", "delete: Hello 11", "remote_deleted: ['Hello']"]
