"""Black-box fuzzing of ``leanorm serve`` over HTTP: random requests to every route of both dialects
(``http_fuzz_requests.py``), from every kind of caller, against a world with objects only user A may
read (``http_fuzz_world.py``). Each example sends a few requests and then asks ``/health``; each answer
must keep issue 18's rules (docs/security.md, "The fuzzing tier"): no 5xx, every 4xx a typed error, no
answer past the deadline, nothing written by a request answered an error, nothing of A's answered to
anyone else.

By default it sends a few hundred requests (well under a minute); ``LEANORM_HTTP_FUZZ_EXAMPLES=5000``
runs longer. ``LEANORM_TEST_SERVE_STORE=postgresql`` runs it on the PostgreSQL store.
"""
from __future__ import annotations

import os
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.http_fuzz_requests import FuzzRequest, requests_
from tests.security.http_fuzz_world import World
from tests.served import serve

#: ``--query-timeout`` of the fuzzed server; an answer may take this long plus what a loaded machine adds
QUERY_TIMEOUT = 5.0
DEADLINE = QUERY_TIMEOUT + 15.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with serve(tmp_path_factory.mktemp("fuzz") / "app.sqlite3", "--query-timeout", str(QUERY_TIMEOUT),
               "--workers", "2") as running:
        yield World(running, DEADLINE)


@settings(max_examples=int(os.environ.get("LEANORM_HTTP_FUZZ_EXAMPLES", "120")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(batch=st.lists(requests_(), min_size=1, max_size=3))
def test_no_request_breaks_the_servers_rules(world: World, batch: List[FuzzRequest]) -> None:
    world.restore()
    for request in batch:
        before = world.footprint()
        sent, resp, took = world.send(request)
        broken = world.violations(sent, resp, took, before)
        assert not broken, f"{sent.describe()}\n-> {resp.status_code} {resp.text[:600]}\n{broken}"
    assert world.alive(), "the server stopped answering /health"


def test_the_oracles_see_what_they_look_for(world: World) -> None:
    """The fuzzer's checks can fail: an answer showing A's object to B, and a write, are both seen."""
    world.tainted = False
    opened = FuzzRequest("leancloud", "PUT", "classes/Secret/@secret", {}, "master",
                         b'{"ACL": {"*": {"read": true}}}', {})
    before = world.footprint()
    sent, resp, took = world.send(opened)
    assert resp.status_code == 200 and world.footprint() != before  # the write is in the footprint
    world.tainted = False  # as if the master key had not written: B's read must now be flagged
    read = FuzzRequest("parse", "GET", "classes/Secret", {}, "B", None, {})
    sent, resp, took = world.send(read)
    assert "answered an object only A may read" in world.violations(sent, resp, took, world.footprint())
    world.tainted = True
    world.restore()
    sent, resp, took = world.send(read)
    assert not world.violations(sent, resp, took, world.footprint()) and resp.json() == {"results": []}
