"""The examples in the docs pages run (on the embedded backend)."""
import doctest
import re
from pathlib import Path

import pytest

from leanorm.models import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"

PAGES = ["quickstart.md", "models.md", "querying.md", "async.md", "relations.md", "geo.md", "cql.md", "files.md", "push.md",
         "users.md", "engine.md", "cloud.md", "signals.md", "identity-map.md", "backends.md", "embedded.md", "marshmallow.md",
         "status.md", "leaderboards.md", "security.md", "migrating-from-leancloud.md", "live.md"]


@pytest.fixture
def own_registry():
    """A page declares models with everyday names (Post, Author): pointers decode through the class
    registry, so the page's classes must not outlive it and shadow the test suite's models."""
    with registry.preserved():
        yield


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, own_registry):
    result = doctest.testfile(str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


BARE_DECLARATION = re.compile(r"^\s*(?:\.\.\.|>>>)?\s+[a-z_][a-z0-9_]* = [A-Z][A-Za-z]*Field\(")


def _declaration_sources():
    yield from sorted(DOCS.glob("*.md"))
    yield DOCS.parent / "README.md"
    yield from sorted((DOCS.parent / "leanorm").rglob("*.py"))
    yield from sorted((DOCS.parent / "examples").glob("*.py"))


def test_examples_declare_fields_with_their_annotations():
    """Users copy the docs: a bare ``title = StringField()`` gives checkers no constructor keyword
    (docs/models.md, "Types for editors and checkers"), so every example declares the annotated way."""
    bare = [f"{path.relative_to(DOCS.parent)}:{number}: {line.strip()}"
            for path in _declaration_sources()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if BARE_DECLARATION.match(line) and (path.suffix == ".md" or line.lstrip().startswith(("...", ">>>")))]
    assert bare == [], "declare fields as `name: XField[T] = XField(...)`:\n" + "\n".join(bare)
