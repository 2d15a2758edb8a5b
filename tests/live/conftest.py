"""The backends the ORM's live queries run against, as the conformance suite's ``client`` fixture runs
each test once per backend (tests/conftest.py):

- ``embedded``: a ``local://`` client, its live queries in-process (``EmbeddedServer.live_connection``);
- ``served``: ``leanorm serve`` in a subprocess, reached with a ``parse://`` URL (its WebSocket URL
  derived from it, as for Parse Server);
- ``parse``: Parse Server's LiveQuery server, as ``scripts/parse-server`` starts it (skipped without
  ``LEANORM_PARSE_URL`` and ``LEANORM_PARSE_LIVE_URL`` unless ``LEANORM_REQUIRE_PARSE=1``, like the
  other Parse tests). The classes used here must be among its live classes
  (``LEANORM_PARSE_LIVE_CLASSES``: LivePost and LiveSecret by default).

:class:`LiveBackend` is what a test may need beyond the current client: another client of the same
backend (another process, as far as the first knows), and a live link it can cut (:class:`Link`).
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Iterator, List, Optional, Tuple

import pytest

import leanorm
from leanorm import ACL, IntegerField, ListField, Model, PointerField, StringField
from leanorm.client import Client
from leanorm.config import bound_client
from tests.faults.proxy import FaultProxy
from tests.served import Served, serve


class LiveSecret(Model):
    title = StringField()


class LivePost(Model):
    title = StringField()
    score = IntegerField(default=0)
    tags = ListField(StringField())
    secret = PointerField(LiveSecret)


LIVE_MODELS = (LivePost, LiveSecret)
#: how long a test waits for an event the server owes it before failing (a bound on waiting, not a
#: measure: events come in milliseconds)
WAIT = 15.0
LIVE_BACKENDS = ["embedded", "served", pytest.param("parse", marks=pytest.mark.parse)]


def parse_urls() -> Tuple[str, str]:
    url, live_url = os.environ.get("LEANORM_PARSE_URL"), os.environ.get("LEANORM_PARSE_LIVE_URL")
    if not (url and live_url):
        if os.environ.get("LEANORM_REQUIRE_PARSE") == "1":
            pytest.fail("LEANORM_REQUIRE_PARSE=1 but LEANORM_PARSE_URL / LEANORM_PARSE_LIVE_URL are not set: "
                        "eval \"$(scripts/parse-server env)\"")
        pytest.skip("no Parse Server LiveQuery configured (LEANORM_PARSE_URL, LEANORM_PARSE_LIVE_URL)")
    return url, live_url


def served_parse_url(served: Served) -> str:
    """``leanorm serve``'s Parse dialect: its live queries on ``ws://host:port/parse``, derived."""
    return (f"parse://{served.app_id}:{served.app_key}@127.0.0.1:{served.port}/parse"
            f"?master_key={served.master_key}")


@pytest.fixture(scope="session")
def live_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` for the live tests of the session."""
    with serve(tmp_path_factory.mktemp("live-served") / "app.sqlite3") as running:
        yield running


class Link:
    """A client of the backend whose live connection the test can cut (``cut``), as a network or a
    server ends it; ``refused`` reconnection attempts fail before one succeeds where the backend has a
    socket to refuse (over HTTP: a fault proxy before the WebSocket), none in-process."""

    def __init__(self, backend: "LiveBackend", refused: int) -> None:
        self.backend = backend
        self.proxy: Optional[FaultProxy] = None
        if backend.name == "embedded":
            self.refused = 0
            self.client = bound_client(backend.client.embedded_server)
        else:
            self.refused = refused
            assert backend.live_url is not None and backend.url is not None
            port = int(backend.live_url.split(":")[2].split("/")[0])
            self.proxy = FaultProxy("127.0.0.1", port)
            self.client = leanorm.connect(backend.url, live_url=f"ws://127.0.0.1:{self.proxy.port}/parse",
                                          default=False)

    def cut(self) -> None:
        """End every live connection of the link now. Over HTTP the link goes down (TCP resets) and the
        next ``refused`` attempts fail at the upgrade; in-process the server drops each connection, saying
        it missed changes and asking for a reconnection (what it does when it falls behind its feed)."""
        if self.proxy is not None:
            self.proxy.fault("reset_before", times=self.refused, only=b"GET")
            self.proxy.drop()
            return
        server = self.backend.client.embedded_server
        assert server is not None
        server.live._missed()   # what the hub does when it fell behind its change feed

    @property
    def faults(self) -> int:
        """Reconnection attempts refused so far."""
        return 0 if self.proxy is None else self.proxy.faults

    def close(self) -> None:
        self.client.close()
        if self.proxy is not None:
            self.proxy.close()


class LiveBackend:
    """One backend of the live tests: its current ``client`` and what else a test may need of it."""

    def __init__(self, name: str, client: Client, url: Optional[str], live_url: Optional[str]) -> None:
        self.name, self.client, self.url, self.live_url = name, client, url, live_url
        self._made: List[Any] = []

    def another(self) -> Client:
        """Another client of the same backend (its writes come from elsewhere, as far as ``client`` knows)."""
        if self.url is None:
            made = bound_client(self.client.embedded_server)
        else:
            made = leanorm.connect(self.url, live_url=self.live_url, default=False)
        self._made.append(made)
        return made

    def link(self, refused: int = 0) -> Link:
        """A client whose live connection the test can cut (:class:`Link`)."""
        made = Link(self, refused)
        self._made.append(made)
        return made

    def close(self) -> None:
        for made in self._made:
            made.close()
        self.client.close()


def _wipe(client: Client) -> None:
    with leanorm.using_master():
        for model in LIVE_MODELS:
            try:
                client.request("DELETE", f"purge/{model._meta.class_name}")
            except leanorm.errors.ObjectNotFound:
                pass


@pytest.fixture(params=LIVE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def live_backend(backend: str, request: pytest.FixtureRequest) -> Iterator[LiveBackend]:
    """The backend, its client the current one (in a unit of work), over empty live classes."""
    url: Optional[str]
    live_url: Optional[str]
    if backend == "embedded":
        url = live_url = None
        client = leanorm.connect("local://:memory:", default=False)
    else:
        if backend == "served":
            served = request.getfixturevalue("live_served")
            url = served_parse_url(served)
            client = leanorm.connect(url, default=False)    # its live URL derived from the Parse URL
            live_url = f"ws://127.0.0.1:{served.port}/parse"
        else:
            url, live_url = parse_urls()
            client = leanorm.connect(url, live_url=live_url, default=False)
        _wipe(client)
    live = LiveBackend(backend, client, url, live_url)
    with leanorm.using(client), leanorm.session():
        yield live
    live.close()


@pytest.fixture
def client(live_backend: LiveBackend) -> Client:
    """The current client of the backend (as the conformance suite's fixture of that name)."""
    return live_backend.client


async def next_event(live: Any) -> Any:
    """The live query's next event, failing the test (the task cancelled) if the server never sends it.
    Awaited in the calling task itself (not through ``wait_for``, which runs it in a task of its own): an
    event's instance belongs to the unit of work of the task that reads it."""
    task = asyncio.current_task()
    assert task is not None
    timer = asyncio.get_running_loop().call_later(WAIT, task.cancel)
    try:
        return await live.next()
    finally:
        timer.cancel()


def private_acl(user: Any) -> ACL:
    acl = ACL()
    acl.set_read_access(user, True)
    acl.set_write_access(user, True)
    return acl


def public_acl(user: Any) -> ACL:
    acl = private_acl(user)
    acl.set_public_read_access(True)
    return acl
