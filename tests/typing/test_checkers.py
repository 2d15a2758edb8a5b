"""mypy and pyright, run as a user runs them, agree with what leanorm's annotations promise.

``check_types.py`` holds ``assert_type`` checks of everyday code: both checkers must report no error.
``mistakes.py`` holds deliberate mistakes, each line marked ``# E``: both checkers must report errors on
exactly those lines. The checkers find ``leanorm`` through the editable install (a ``.pth`` path entry),
as a user's project would.
"""
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Set

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def mypy_error_lines(path: Path) -> Set[int]:
    relative = str(path.relative_to(ROOT))  # how mypy names the file in its report
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", relative], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stdout + out.stderr  # 2 would be a crash or a usage error
    pattern = re.compile(rf"^{re.escape(relative)}:(\d+): error:", re.M)
    return {int(n) for n in pattern.findall(out.stdout)}


def pyright_error_lines(path: Path) -> Set[int]:
    # --outputjson is machine-readable and skips the wrapper's check for a newer pyright on PyPI
    out = subprocess.run([sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable,
                          "--pythonversion", "3.9", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    report = json.loads(out.stdout)
    return {d["range"]["start"]["line"] + 1 for d in report["generalDiagnostics"]
            if d["severity"] == "error" and Path(d["file"]) == path}


CHECKERS = {"mypy": mypy_error_lines, "pyright": pyright_error_lines}


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_everyday_code_has_the_promised_types(checker):
    assert CHECKERS[checker](HERE / "check_types.py") == set()


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_each_deliberate_mistake_is_reported(checker):
    path = HERE / "mistakes.py"
    marked = {n for n, line in enumerate(path.read_text().splitlines(), 1) if line.rstrip().endswith("# E")}
    assert marked, "mistakes.py marks no line"
    assert CHECKERS[checker](path) == marked
