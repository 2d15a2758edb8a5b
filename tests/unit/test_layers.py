"""Every leanorm module imports what it needs at module level: an import of a leanorm module inside a
function hides a cycle between layers (import-linter, run by scripts/test, checks the layers themselves).
Imports under ``if TYPE_CHECKING:`` are for type checkers only and are fine."""
import ast
from pathlib import Path
from typing import Iterator, List

import leanorm

PACKAGE = Path(leanorm.__file__).parent

def _imports_leanorm(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "leanorm"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "leanorm" for alias in node.names)
    return False


def _function_local_imports(source: str, name: str) -> Iterator[str]:
    tree = ast.parse(source, filename=name)
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(function):
                if _imports_leanorm(node):
                    where = getattr(function, "name", "lambda")
                    yield f"{name}:{node.lineno} in {where}()"


def _modules() -> List[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_leanorm_import_inside_a_function():
    found = [hit for path in _modules() for hit in
             _function_local_imports(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert found == [], "leanorm modules imported inside functions:\n" + "\n".join(found)


def test_the_scan_finds_a_function_local_import_and_not_a_type_checking_one():
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from leanorm.models import Model\n"
              "def f():\n    import json\n    from .models import registry\n    return registry\n"
              "g = lambda: __import__('x')\n"
              "async def h():\n    import leanorm.cloud\n")
    assert list(_function_local_imports(source, "sample.py")) == ["sample.py:6 in f()", "sample.py:10 in h()"]


def test_the_scan_covers_the_package():
    modules = _modules()
    assert PACKAGE / "models.py" in modules and PACKAGE / "engine" / "objects.py" in modules
    assert PACKAGE / "embedded" / "endpoints" / "hooks.py" in modules
