"""A ``leanorm serve`` worker process as granian starts it (``serving.worker_app``)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from leanorm.embedded.serving import OPTIONS_ENV, ServeOptions

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_freezes_what_it_built_to_start(tmp_path: Path) -> None:
    """The objects of the worker's startup are frozen: the garbage collector's passes skip them."""
    options = dataclasses.asdict(ServeOptions(database=str(tmp_path / "app.sqlite3")))
    script = textwrap.dedent("""
        import gc
        from leanorm.embedded.serving import worker_app
        before = gc.get_freeze_count()
        app = worker_app()
        print(before, gc.get_freeze_count())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, OPTIONS_ENV: json.dumps(options),
                               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before == 0 and after > 1000
