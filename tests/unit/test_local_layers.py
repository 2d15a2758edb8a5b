"""The embedded server's modules import each other at the top, never inside a function (a function-local
import is how a cycle between them would hide), and every request has one handler in one module."""
import ast
import re
from pathlib import Path
from typing import List

import pytest

import leanorm.local
from leanorm.local import protocol

LOCAL = Path(leanorm.local.__file__).parent


def _leanorm_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "leanorm"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "leanorm" for alias in node.names)
    return False


def _local_imports(path: Path) -> List[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            found += [f"{path.name}:{node.lineno}" for node in ast.walk(function) if _leanorm_import(node)]
    return found


def test_the_embedded_server_has_no_function_local_leanorm_imports() -> None:
    modules = sorted(LOCAL.glob("*.py"))
    assert len(modules) > 10  # the package was found
    assert [hit for module in modules for hit in _local_imports(module)] == []


def test_the_check_sees_a_function_local_import() -> None:
    tree = ast.parse("def f():\n    from .objects import query\n")
    assert any(_leanorm_import(node) for node in ast.walk(tree.body[0]))


# -- routes: one handler per request ---------------------------------------------------------------------
def _sample(pattern: str) -> str:
    """A path ``pattern`` matches: each group replaced by a word it accepts."""
    path = re.sub(r"\(\[\^/\]\+\)", "abc", pattern)
    return re.sub(r"\(([A-Za-z]+)\|[^)]*\)", r"\1", path).replace("\\", "")


#: paths several modules used to answer, one before the other by priority
FORMERLY_SHARED = [("POST", "classes/_User"), ("PUT", "classes/_User/abc"), ("DELETE", "classes/_User/abc"),
                   ("POST", "classes/_Installation"), ("DELETE", "classes/_File/abc"), ("POST", "login")]


def test_every_request_has_exactly_one_handler() -> None:
    samples = {(method, _sample(pattern.pattern[:-len(r"/?\Z")])) for method, pattern, _ in protocol._ROUTES}
    for method, path in sorted(samples | set(FORMERLY_SHARED)):
        assert len(protocol.handlers(method, path)) == 1, (method, path)


def test_a_second_handler_for_a_route_is_refused() -> None:
    with pytest.raises(ValueError):
        protocol.route("POST", r"classes/([^/]+)")(lambda ctx: {})


def test_the_architecture_page_lists_every_module_of_the_embedded_server() -> None:
    page = (LOCAL.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page[page.index("### Inside `leanorm/local/`"):]
    table = table[:table.index("\n\n", table.index("| module |"))]
    listed = set(re.findall(r"^\| `([a-z_]+\.py)` \|", table, re.M))
    assert listed == {p.name for p in LOCAL.glob("*.py")} - {"__init__.py"}
