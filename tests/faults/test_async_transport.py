"""The async API's HTTP transport (httpx) through a faulty link: the sync transport's rules hold.

The same cases as test_writes.py and test_deadlines.py, sent with ``await ...``: ``NotSent`` when the
request was not written whole (and a replayable one is sent again), ``OutcomeUnknown`` when it was and
no whole answer came, a deadline for the whole request, reads retried, and no ghost left behind.
"""
from __future__ import annotations

import asyncio
import gc
import os
import socket
import time
import uuid

import pytest

import leanorm
from leanorm import F, IntegerField, Model, StringField
from leanorm.errors import NotSent, OutcomeUnknown
from leanorm.transport import AsyncHTTPTransport, HTTPTransport, Request
from tests.faults.conftest import url_through

GENEROUS = 15.0


class AsyncFault(Model):
    n = IntegerField(default=0)
    label = StringField()


def stored(direct, **lookups):
    with leanorm.using(direct):
        return [c.n for c in AsyncFault.objects.filter(**lookups)]


def test_the_async_sends_go_through_httpx(faulty):
    async def scenario():
        await AsyncFault.objects.acount()
    asyncio.run(scenario())
    assert isinstance(faulty.transport, HTTPTransport)
    assert isinstance(faulty.transport._async, AsyncHTTPTransport)
    with pytest.raises(TypeError, match="asend"):  # no blocking send hides behind the async transport
        faulty.transport._async.send(Request("GET", "/1.1/date"))


def test_connection_refused_is_not_sent(served, direct):
    with socket.socket() as probe:  # bound and not listening: connections to it are refused while it is held
        probe.bind(("127.0.0.1", 0))
        client = leanorm.connect(url_through(served, probe.getsockname()[1]), timeout=3, default=False)
        with leanorm.using(client), pytest.raises(NotSent):
            asyncio.run(AsyncFault.objects.acreate(label="refused"))
    assert stored(direct, label="refused") == []


def test_reset_while_sending_is_not_sent_and_sent_again(faulty, proxy, direct):
    proxy.fault("reset_before")
    with pytest.raises(NotSent):
        asyncio.run(AsyncFault.objects.acreate(label="x" * (16 << 20), n=77))
    assert proxy.connections > 1  # not sent, so safe to send again: the transport tried again
    assert stored(direct, n=77) == []


def test_an_applied_write_without_an_answer_is_unknown_and_leaves_no_ghost(faulty, proxy, direct):
    async def scenario():
        counter = await AsyncFault.objects.acreate(label="ghost")
        proxy.fault("reset_after", times=1)
        counter.n = F("n") + 1
        with pytest.raises(OutcomeUnknown):
            await counter.asave()
        assert stored(direct, label="ghost") == [1]  # it was applied, once: writes are never resent
        again = await AsyncFault.objects.aget(id=counter.id)
        assert not again.is_dirty and again.n == 1  # read afresh: what the server holds
        sent = faulty.request_count
        await counter.asave()  # the failed instance has nothing queued any more
        assert faulty.request_count == sent
    asyncio.run(scenario())


def test_a_read_is_sent_again_after_a_lost_answer(faulty, proxy):
    async def scenario():
        await AsyncFault.objects.acreate(label="read")
        proxy.fault("reset_after", times=1)
        connections = proxy.connections
        assert await AsyncFault.objects.filter(label="read").acount() == 1
        assert proxy.connections > connections
    asyncio.run(scenario())


def test_concurrent_requests_each_get_a_connection_and_the_next_ones_reuse_them(faulty, proxy):
    """An async app's concurrent requests are not queued behind the sync transport's 10 kept connections;
    once answered the connections are kept and reused (leanorm/http_pool.py)."""
    async def burst():
        return await asyncio.gather(*(AsyncFault.objects.filter(label="none").acount() for _ in range(64)))

    async def scenario():
        assert await burst() == [0] * 64
        opened = proxy.connections
        assert opened == 64  # each request of the burst had one at once
        assert await burst() == [0] * 64
        assert proxy.connections == opened  # the second burst went over the kept ones
    asyncio.run(scenario())


def test_a_kept_connection_the_server_closed_is_not_used(faulty, proxy, direct):
    """A connection the server closed while it was idle is dropped when next taken: a write then goes
    over a new one (never sent into a dead one, which could not tell whether it was applied)."""
    async def scenario():
        await AsyncFault.objects.acreate(label="before")
        opened = proxy.connections
        proxy.hang_up()  # the server side of every open connection closes
        await AsyncFault.objects.acreate(label="after", n=5)
        assert proxy.connections == opened + 1
    asyncio.run(scenario())
    assert stored(direct, label="after") == [5]


@pytest.fixture
def page(direct):
    text = uuid.uuid4().hex * 6
    with leanorm.using(direct):
        AsyncFault.objects.bulk_create([AsyncFault(label=text) for _ in range(20)])
    return text


@pytest.mark.parametrize("mode", ["drip", "stall"])
def test_a_slow_answer_is_cut_at_the_deadline(served, proxy, page, mode):
    client = leanorm.connect(url_through(served, proxy.port), timeout=1, default=False)
    proxy.fault(mode)
    started = time.monotonic()
    with leanorm.using(client), pytest.raises(OutcomeUnknown):
        asyncio.run(AsyncFault.objects.filter(label=page).acount() if mode == "stall"
                    else _all(AsyncFault.objects.filter(label=page)))
    assert time.monotonic() - started < GENEROUS


def test_a_timeout_block_bounds_the_async_send(served, proxy, page):
    client = leanorm.connect(url_through(served, proxy.port), timeout=60, default=False)
    proxy.fault("stall")
    started = time.monotonic()
    with leanorm.using(client), leanorm.timeout(1), pytest.raises(OutcomeUnknown):
        asyncio.run(AsyncFault.objects.acount())
    assert time.monotonic() - started < GENEROUS


async def _all(qs):
    return [obj async for obj in qs]


def test_each_event_loops_connections_close_with_it(served):
    # an app (or a test suite) that runs asyncio.run again and again must not keep every loop's sockets
    client = leanorm.connect(served.leanorm_url, default=False)
    open_fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    with leanorm.using(client):
        asyncio.run(AsyncFault.objects.acount())
        before = open_fds()
        for _ in range(30):
            asyncio.run(AsyncFault.objects.acount())
        gc.collect()
        assert open_fds() - before < 5
    client.close()
