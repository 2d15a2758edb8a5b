"""Backends for the conformance suite.

Every test that takes the ``client`` fixture runs once per backend: the embedded backend in-process
always; the same engine behind ``leanorm serve``, reached over HTTP in the LeanCloud dialect with
signed requests ("served": the HTTP transport and the LeanCloud dialect end to end); the embedded backend
on PostgreSQL ("postgresql") when ``LEANORM_TEST_POSTGRESQL`` names a database the tests may wipe
(``postgresql://user:pass@host/db``, see ``tests/postgresql.py``); Parse Server when
``LEANORM_PARSE_URL`` is set (``scripts/parse-server start`` prints it; ``scripts/test`` sets it);
LeanCloud when ``LEANORM_LEANCLOUD_URL`` is set. With ``LEANORM_REQUIRE_PARSE=1`` (CI) a missing Parse
Server fails instead of skipping. A module may add ``"served-parse"`` (the same ``leanorm serve`` reached
in the Parse dialect, which has a transactional batch) by overriding the ``backend`` fixture's params.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator, List

import pytest

import leanorm
from leanorm.client import Client
from leanorm.transport import Request, Response, Transport
from tests import postgresql
from tests.models import ALL_MODELS

if TYPE_CHECKING:  # pragma: no cover
    from tests.served import Served

BACKENDS = ["embedded", "served", "postgresql", "parse", "leancloud"]


class RecordingTransport(Transport):
    """Passes every request through to the real transport and keeps a copy (not a mock: the backend
    still answers)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.requests: List[Request] = []

    def send(self, request: Request) -> Response:
        self.requests.append(request)
        return self.inner.send(request)

    async def asend(self, request: Request) -> Response:
        # the async API's sends reach the real transport's async path (httpx, or the embedded server's pool)
        self.requests.append(request)
        return await self.inner.asend(request)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _wipe(client: Client) -> None:
    with leanorm.using_master():
        for model in ALL_MODELS:
            try:
                client.request("DELETE", f"purge/{model._meta.class_name}")
            except leanorm.errors.LeanCloudError:
                with leanorm.using(client):
                    model.objects.all().delete()


def make_client(backend: str) -> Client:
    if backend == "embedded":
        return leanorm.connect("local://:memory:", default=False)
    if backend == "postgresql":
        return leanorm.connect(postgresql.wiped_database_url(), default=False)
    url = os.environ.get("LEANORM_PARSE_URL" if backend == "parse" else "LEANORM_LEANCLOUD_URL")
    if not url:
        if backend == "parse" and os.environ.get("LEANORM_REQUIRE_PARSE") == "1":
            pytest.fail("LEANORM_REQUIRE_PARSE=1 but LEANORM_PARSE_URL is not set: start scripts/parse-server")
        pytest.skip(f"no {backend} backend configured")
    client = leanorm.connect(url, default=False)
    _wipe(client)
    return client


@pytest.fixture(scope="session")
def served_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator["Served"]:
    """``leanorm serve`` for the whole session."""
    from tests.served import serve
    # as the Parse tier's server (allowCustomObjectId): the suite creates objects with chosen ids
    with serve(tmp_path_factory.mktemp("served-backend") / "app.sqlite3", "--allow-custom-object-id") as running:
        yield running


@pytest.fixture(scope="session")
def served_url(served_backend: "Served") -> str:
    """The session's ``leanorm serve`` as a LeanCloud-dialect URL with request signing."""
    return served_backend.leanorm_url + "&sign=1"


@pytest.fixture(scope="session")
def served_parse_url(served_backend: "Served") -> str:
    """The session's ``leanorm serve`` as a Parse-dialect URL (its REST key is the app key)."""
    s = served_backend
    return f"parse://{s.app_id}:{s.app_key}@127.0.0.1:{s.port}/parse?master_key={s.master_key}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(backend: str, request: pytest.FixtureRequest) -> Iterator[Client]:
    """A client of each backend, made the current one for the test, recording its requests."""
    if backend in ("served", "served-parse"):
        url = request.getfixturevalue("served_url" if backend == "served" else "served_parse_url")
        client = leanorm.connect(url, default=False)
        _wipe(client)
    else:
        client = make_client(backend)
    recorder = RecordingTransport(client.transport)
    client.transport = recorder
    with leanorm.using(client):
        yield client
    client.close()


@pytest.fixture
def sent(client: Client) -> List[Request]:
    """The requests the test's client sent, in order."""
    assert isinstance(client.transport, RecordingTransport)
    return client.transport.requests
