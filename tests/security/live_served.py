"""The ``leanorm serve`` the live-query security tests attack, one per test module: one worker, so that
the live bounds a process keeps (connections, subscriptions, per address) are the whole server's; and
its ``Raw`` in the Parse dialect. A test module imports the fixtures: ``from tests.security.live_served
import api, served``."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.security.raw_http import Raw
from tests.served import Served, serve

#: an ACL anyone may read and write
PUBLIC = {"*": {"read": True, "write": True}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Served]:
    folder = request.module.__name__.rsplit(".", 1)[-1]
    with serve(tmp_path_factory.mktemp(folder) / "app.sqlite3", "--workers", "1") as running:
        yield running


@pytest.fixture()
def api(served: Served) -> Raw:
    return Raw(served, "parse")
