"""The bound on one object's size is a setting (``leanorm serve --max-object-size``,
``EmbeddedServer(max_object_size=...)``, 1 MiB by default): an app whose objects are small holds its
clients to less, and one that must keep larger ones (an import from LeanCloud, whose documents may reach
16 MB) to more. A client's object over it is refused whole (413 naming the bound); the master key is not
bound (docs/security.md, "Input bounds, files and signing")."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from leanorm.embedded import EmbeddedServer
from tests.security.raw_http import DIALECTS, Raw, unique
from tests.served import Served, serve

#: the bound the server is started with (bytes of an object as stored)
BOUND = 4096


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve --max-object-size 4K``."""
    with serve(tmp_path_factory.mktemp("object-size") / "app.sqlite3", "--max-object-size", "4K") as running:
        yield running


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_client_object_over_the_configured_bound_is_refused_and_one_under_it_stored(
        bounded: Served, dialect: str) -> None:
    raw, name = Raw(bounded, dialect), unique("Sized")
    over, under = "x" * (BOUND + 100), "x" * (BOUND - 200)
    status, answer = raw.call("POST", f"classes/{name}", {"s": over})
    assert status == 413 and str(BOUND) in answer["error"], answer
    assert raw.rows(name) == []
    created = raw.ok("POST", f"classes/{name}", {"s": under})
    status, answer = raw.call("PUT", f"classes/{name}/{created['objectId']}", {"s": over})
    assert status == 413 and str(BOUND) in answer["error"], answer
    assert [row["s"] for row in raw.rows(name)] == [under]
    # the master key (an import keeps what the app had) is not bound
    raw.ok("POST", f"classes/{name}", {"s": over}, master=True)
    assert sorted(len(row["s"]) for row in raw.rows(name)) == [len(under), len(over)]


def test_the_object_bound_is_a_positive_number_of_bytes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_object_size"):
        EmbeddedServer(str(tmp_path / "app.sqlite3"), max_object_size=0)
    server = EmbeddedServer(max_object_size=2 * 1024 * 1024)
    try:
        keys = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
        big = b'{"s": "' + b"x" * (3 * 1024 * 1024 // 2) + b'"}'  # 1.5 MiB: past the default, within the bound
        assert server.handle("POST", "/1.1/classes/Big", {}, keys, big).status == 201
    finally:
        server.close()
