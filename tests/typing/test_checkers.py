"""mypy and pyright, run as a user runs them, agree with what leanorm's annotations promise.

``check_types.py`` holds ``assert_type`` checks of everyday code: both checkers must report no error.
``mistakes.py`` holds deliberate mistakes, each line marked ``# E``: both checkers must report errors on
exactly those lines. The files are checked from a directory outside the repository, with no
configuration, so the checkers find ``leanorm`` the way a user's project does: through the installed
package (for an editable install, its ``.pth`` path entry).
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import pytest

import leanorm
from leanorm.introspect import models_source

HERE = Path(__file__).resolve().parent
FILES = ("models_typed.py", "check_types.py", "mistakes.py")


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> Path:
    """A user's project holding the typing files as the package ``usercode``."""
    root = tmp_path_factory.mktemp("project")
    (root / "usercode").mkdir()
    (root / "usercode" / "__init__.py").write_text("")
    for name in FILES:
        shutil.copy(HERE / name, root / "usercode" / name)
    return root


def checker_command(checker: str, version: str = "3.9") -> List[str]:
    """How a user runs ``checker`` for Python ``version`` (pyright's --outputjson is machine-readable and
    skips the wrapper's check for a newer pyright on PyPI)."""
    if checker == "mypy":
        return [sys.executable, "-m", "mypy", "--no-error-summary", "--python-version", version]
    return [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable, "--pythonversion", version]


def mypy_error_lines(root: Path, name: str) -> Set[int]:
    path = f"usercode/{name}"
    out = subprocess.run(checker_command("mypy") + [path], cwd=root, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stdout + out.stderr  # 2 would be a crash or a usage error
    return {int(n) for n in re.findall(rf"^{re.escape(path)}:(\d+): error:", out.stdout, re.M)}


def pyright_error_lines(root: Path, name: str) -> Set[int]:
    out = subprocess.run(checker_command("pyright") + [f"usercode/{name}"], cwd=root, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    report = json.loads(out.stdout)
    return {d["range"]["start"]["line"] + 1 for d in report["generalDiagnostics"]
            if d["severity"] == "error" and Path(d["file"]).name == name}


CHECKERS = {"mypy": mypy_error_lines, "pyright": pyright_error_lines}


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_everyday_code_has_the_promised_types(checker, user_project):
    assert CHECKERS[checker](user_project, "check_types.py") == set()


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_each_deliberate_mistake_is_reported(checker, user_project):
    source = (HERE / "mistakes.py").read_text().splitlines()
    marked = {n for n, line in enumerate(source, 1) if line.rstrip().endswith("# E")}
    assert marked, "mistakes.py marks no line"
    assert CHECKERS[checker](user_project, "mistakes.py") == marked


INSPECTED_USE = '''
from typing import Optional

from typing_extensions import assert_type

import leanorm
from .inspected import Gadget, Maker, User

gadget = Gadget(name="lamp", price=9.5, tags=["a"], maker=Maker(name="Acme"))
assert_type(gadget.maker, Optional[Maker])
assert_type(gadget.owner, Optional[User])
assert_type(gadget.price, Optional[float])
assert_type(User(nickname="ann").nickname, Optional[str])
Gadget(nmae="lamp")  # E
Gadget(price="cheap")  # E
'''


def inspected_source() -> str:
    """What ``leanorm inspect`` writes for a backend holding a class of every type, a pointer to a class
    generated alongside and one to a system class left out."""
    client = leanorm.connect("local://:memory:", default=False)
    with leanorm.using_master():
        maker = client.request("POST", "classes/Maker", body={"name": "Acme"})
        user = client.request("POST", "users", body={"username": "ann", "password": "pw", "nickname": "a"})
        client.request("POST", "classes/Gadget", body={
            "name": "lamp", "price": 9.5, "onSale": True, "tags": ["a"], "specs": {"w": 40},
            "madeAt": {"__type": "Date", "iso": "2024-05-06T07:08:09.000Z"},
            "spot": {"__type": "GeoPoint", "latitude": 30.0, "longitude": 120.0},
            "blob": {"__type": "Bytes", "base64": "AQ=="},
            "maker": {"__type": "Pointer", "className": "Maker", "objectId": maker["objectId"]},
            "owner": {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}})
    return models_source(client, classes=["Maker", "Gadget", "_User"])


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_inspected_models_type_check_with_their_constructors(checker, tmp_path):
    """The models ``leanorm inspect`` writes are read by both checkers as declared: typed reads,
    checked constructor keywords, nothing else reported."""
    (tmp_path / "usercode").mkdir()
    (tmp_path / "usercode" / "__init__.py").write_text("")
    (tmp_path / "usercode" / "inspected.py").write_text(inspected_source())
    (tmp_path / "usercode" / "use_inspected.py").write_text(INSPECTED_USE)
    marked = {n for n, line in enumerate(INSPECTED_USE.splitlines(), 1) if line.endswith("# E")}
    assert CHECKERS[checker](tmp_path, "inspected.py") == set()
    assert CHECKERS[checker](tmp_path, "use_inspected.py") == marked


EXAMPLES = sorted(str(p.relative_to(HERE.parents[1])) for p in (HERE.parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_examples_type_check(checker):
    """The examples are what users copy: both checkers read them without an error (flask's click needs
    the running interpreter's Python version rather than 3.9)."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = subprocess.run(checker_command(checker, version) + EXAMPLES, cwd=HERE.parents[1], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
