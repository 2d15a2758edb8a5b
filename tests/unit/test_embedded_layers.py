"""The embedded server's routes: every request has one handler in one module, and the architecture page
lists every module (that no module imports another inside a function is tests/unit/test_layers.py's)."""
import re
from pathlib import Path

import pytest

import leanorm.embedded
from leanorm.embedded import routing

SERVER = Path(leanorm.embedded.__file__).parent


# -- routes: one handler per request ---------------------------------------------------------------------
def _sample(pattern: str) -> str:
    """A path ``pattern`` matches: each group replaced by a word it accepts."""
    path = re.sub(r"\(\[\^/\]\+\)", "abc", pattern)
    return re.sub(r"\(([A-Za-z]+)\|[^)]*\)", r"\1", path).replace("\\", "")


#: paths several modules used to answer, one before the other by priority
FORMERLY_SHARED = [("POST", "classes/_User"), ("PUT", "classes/_User/abc"), ("DELETE", "classes/_User/abc"),
                   ("POST", "classes/_Installation"), ("DELETE", "classes/_File/abc"), ("POST", "login")]


def test_every_request_has_exactly_one_handler() -> None:
    samples = {(method, _sample(pattern.pattern[:-len(r"/?\Z")])) for method, pattern, _ in routing._ROUTES}
    for method, path in sorted(samples | set(FORMERLY_SHARED)):
        assert len(routing.handlers(method, path)) == 1, (method, path)


def test_a_second_handler_for_a_route_is_refused() -> None:
    with pytest.raises(ValueError):
        routing.route("POST", r"classes/([^/]+)")(lambda ctx: {})


def test_the_architecture_page_lists_every_module_of_the_embedded_server() -> None:
    page = (SERVER.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page[page.index("### Inside `leanorm/embedded/`"):]
    table = table[:table.index("\n\n", table.index("| module |"))]
    listed = set(re.findall(r"^\| `([a-z0-9_/]+\.py)` \|", table, re.M))
    assert listed == {str(p.relative_to(SERVER)) for p in SERVER.rglob("*.py") if p.name != "__init__.py"}
