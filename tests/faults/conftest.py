"""Fixtures of the fault tests: ``leanorm serve`` over HTTP, and a fault proxy in front of it."""
from __future__ import annotations

from typing import Iterator

import pytest

import leanorm
from leanorm.client import Client
from tests.faults.proxy import FaultProxy
from tests.served import Served, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` over a fresh database, taking client-made objectIds (what makes a resent create
    safe; a served backend refuses them unless told otherwise)."""
    with serve(tmp_path_factory.mktemp("faults") / "app.sqlite3", "--allow-custom-object-id") as running:
        yield running


@pytest.fixture
def proxy(served: Served) -> Iterator[FaultProxy]:
    """A fault proxy in front of the served backend, passing everything until told otherwise."""
    running = FaultProxy("127.0.0.1", served.port)
    yield running
    running.close()


def url_through(served: Served, port: int) -> str:
    """The LeanCloud-dialect URL of the served backend as reached on ``port``."""
    return f"leancloud+http://{served.app_id}:{served.app_key}@127.0.0.1:{port}?master_key={served.master_key}"


@pytest.fixture
def faulty(served: Served, proxy: FaultProxy) -> Iterator[Client]:
    """A client of the served backend through the proxy (5 s per request), made the current one."""
    client = leanorm.connect(url_through(served, proxy.port), timeout=5, default=False)
    with leanorm.using(client), leanorm.session():
        yield client
    client.close()


@pytest.fixture
def direct(served: Served) -> Iterator[Client]:
    """A client of the served backend without the proxy: what the server really holds."""
    client = leanorm.connect(served.leanorm_url, default=False, identity_ttl=0)
    yield client
    client.close()
