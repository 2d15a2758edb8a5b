"""The examples in the docs pages run (on the embedded backend)."""
import doctest
from pathlib import Path

import pytest

from leanorm.models import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"

PAGES = ["quickstart.md", "models.md", "querying.md", "relations.md", "geo.md", "cql.md", "files.md", "push.md",
         "users.md", "engine.md", "cloud.md", "signals.md", "identity-map.md", "backends.md", "embedded.md", "marshmallow.md",
         "status.md", "security.md", "migrating-from-leancloud.md"]


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
