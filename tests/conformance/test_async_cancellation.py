"""A task cancelled with its request really in flight, on every backend: the unit of work is left whole
(the write applied whole or not at all, no instance keeping a change a later save would send again) and
the next call on the same client works (docs/async.md, "Cancellation").

test_async.py and test_async_atomic.py hold the request above the transport. Here it is held where it
travels, so the task is cancelled inside the transport's own await: over HTTP by a proxy in front of
the backend (tests/faults/proxy.py) holding the request before the backend sees it (``stall_before``)
or the backend's answer after it acted (``stall``), while httpx awaits it; in-process in the worker
thread that runs the embedded server's handler, before or after the handler ran.
"""
from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Awaitable, Callable, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest

import leanorm
from leanorm.client import Client
from leanorm.transport import ASYNC_CONNECTIONS, Request, Response, Transport
from tests.conftest import _wipe
from tests.faults.proxy import FaultProxy
from tests.models import Post

#: a guard against a test hanging when the held request never comes (not an assertion on time)
PATIENCE = 60.0


class Hold:
    """Where a test holds the next request of one method with the task awaiting it."""

    #: whether a request held before the backend saw it is never applied (over HTTP); in-process the
    #: handler's thread has started, and runs to its end
    before_is_never_applied = True

    def arm(self, method: str, before: bool) -> None:
        raise NotImplementedError

    async def held(self) -> None:
        """Return once the armed request is held."""
        raise NotImplementedError

    def release(self) -> None:
        """Let the held request go on (where it still can)."""

    def settled(self) -> bool:
        """Whether nothing of the held request is still running in this process."""
        return True


class HeldOnTheWire(Hold):
    """A proxy between the client and the backend."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def arm(self, method: str, before: bool) -> None:
        self.start = self.proxy.faults
        self.proxy.fault("stall_before" if before else "stall", times=1, only=method.encode() + b" ")

    async def held(self) -> None:
        async def poll() -> None:
            while self.proxy.faults == self.start:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), PATIENCE)


class HeldInWorker(Hold, Transport):
    """The embedded transport with its handler's worker thread stopped once, at the armed request: the
    async API's send (``Transport.asend``) runs this ``send`` in a worker thread."""

    before_is_never_applied = False

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.armed: Optional[Tuple[str, bool]] = None
        self.lock = threading.Lock()
        self.stopped, self.go_on, self.finished = threading.Event(), threading.Event(), threading.Event()
        #: how many sends the async API has handed to the worker threads
        self.handed = 0

    async def asend(self, request: Request) -> Response:
        self.handed += 1
        return await super().asend(request)

    def arm(self, method: str, before: bool) -> None:
        self.armed = (method, before)
        for event in (self.stopped, self.go_on, self.finished):
            event.clear()

    async def held(self) -> None:
        await asyncio.wait_for(asyncio.to_thread(self.stopped.wait, PATIENCE), PATIENCE)

    def release(self) -> None:
        self.go_on.set()

    def settled(self) -> bool:
        return self.armed is None and self.finished.is_set()

    def send(self, request: Request) -> Response:
        with self.lock:
            hold, armed = self.armed is not None and self.armed[0] == request.method, self.armed
            if hold:
                self.armed = None
        if not hold or armed is None:
            return self.inner.send(request)
        before = armed[1]
        try:
            if before:
                self.stopped.set()
                self.go_on.wait(PATIENCE)
            response = self.inner.send(request)
            if not before:
                self.stopped.set()
                self.go_on.wait(PATIENCE)
            return response
        finally:
            self.finished.set()

    def close(self) -> None:
        self.go_on.set()
        super().close()
        self.inner.close()


def _through(url: str, port: int) -> str:
    """``url`` with its port replaced by ``port``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}"))


@pytest.fixture(params=["embedded", "served", "served-parse", "parse"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def held(backend: str, request: pytest.FixtureRequest) -> Iterator[Tuple[Client, Hold]]:
    """A client of ``backend``, made the current one, and where its requests can be held."""
    proxy: Optional[FaultProxy] = None
    hold: Hold
    if backend == "embedded":
        client = leanorm.connect("local://:memory:", default=False)
        hold = HeldInWorker(client.transport)
        client.transport = hold
    else:
        if backend == "parse":
            url = os.environ.get("LEANORM_PARSE_URL", "")
            if not url:
                pytest.skip("no Parse Server configured")
        else:
            url = request.getfixturevalue("served_url" if backend == "served" else "served_parse_url")
        direct = leanorm.connect(url, default=False)
        _wipe(direct)
        direct.close()
        parts = urlsplit(url)
        proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 80)
        client = leanorm.connect(_through(url, proxy.port), default=False, timeout=PATIENCE)
        hold = HeldOnTheWire(proxy)
    with leanorm.using(client):
        yield client, hold
    client.close()
    if proxy is not None:
        proxy.close()


async def cancel_while_held(hold: Hold, method: str, before: bool, operation: Callable[[], Awaitable[Any]]) -> None:
    """Run ``operation()`` as a task, cancel it while its ``method`` request is held, and expect it to
    end with the cancellation; by then nothing of that request still runs in this process."""
    hold.arm(method, before)
    task = asyncio.ensure_future(operation())
    await hold.held()
    task.cancel()
    hold.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hold.settled()  # what the request did is done: nothing of it lands after the cancellation


def applied(hold: Hold, before: bool) -> bool:
    return not before or not hold.before_is_never_applied


@pytest.mark.parametrize("before", [True, False], ids=["held-before-the-backend", "held-after-it-acted"])
def test_a_save_cancelled_in_flight(held, before):
    client, hold = held

    async def scenario() -> None:
        post = await Post.objects.acreate(title="cancel me", score=1)

        async def change() -> None:
            post.score = 2
            post.title = "changed"
            await post.asave()

        await cancel_while_held(hold, "PUT", before, change)
        assert post.changed_keys() == set()  # expired: nothing queued to send again
        # the write was applied whole or not at all, and is what the very next read sees
        stored = (2, "changed") if applied(hold, before) else (1, "cancel me")
        assert Post.objects.filter(id=post.id).values_list("score", "title") == [stored]  # a blocking read
        await post.arefresh()
        assert (post.score, post.title) == stored
        post.score = 3
        await post.asave()
        client.identity_map.clear()
        assert (await Post.objects.aget(id=post.id)).score == 3

    asyncio.run(scenario())


@pytest.mark.parametrize("before", [True, False], ids=["held-before-the-backend", "held-after-it-acted"])
def test_an_atomic_block_cancelled_with_its_batch_in_flight(held, before):
    client, hold = held
    if not client.supports("transactions"):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        kept = await Post.objects.acreate(title="kept", score=1)

        async def block() -> None:
            async with leanorm.atomic():
                await Post.objects.acreate(title="new", score=9)
                kept.score = 2
                await kept.asave()
                await Post.objects.abulk_create([Post(title="bulk") for _ in range(3)])

        await cancel_while_held(hold, "POST", before, block)
        assert kept.changed_keys() == set()
        client.identity_map.clear()
        titles = sorted(await Post.objects.avalues_list("title", flat=True))
        assert titles == (["bulk"] * 3 + ["kept", "new"] if applied(hold, before) else ["kept"])
        async with leanorm.atomic():
            kept.score = 3
            await kept.asave()
        assert (await Post.objects.aget(id=kept.id)).score == 3

    asyncio.run(scenario())


def test_a_page_read_cancelled_in_flight(held):
    client, hold = held

    async def scenario() -> None:
        await Post.objects.abulk_create([Post(title=f"p{i}", score=i) for i in range(3)])
        seen: List[Post] = []

        async def read() -> None:
            seen.extend([p async for p in Post.objects.order_by("score")])

        await cancel_while_held(hold, "GET", False, read)
        assert seen == []
        assert [p.score async for p in Post.objects.order_by("score")] == [0, 1, 2]

    asyncio.run(scenario())


def test_more_cancelled_requests_than_the_pool_holds_leave_it_usable(held):
    """Each cancelled request's connection (or worker thread) is given back: after more cancellations
    than the client's pool has connections, requests still find one."""
    client, hold = held

    async def scenario() -> None:
        post = await Post.objects.acreate(title="p", score=0)
        for n in range(ASYNC_CONNECTIONS + 4):  # the HTTP pool opens 100 connections, the worker pool 8 threads
            await cancel_while_held(hold, "GET", n % 2 == 0, lambda: Post.objects.aget(id=post.id))
        results = await asyncio.gather(*(Post.objects.filter(title="p").acount() for _ in range(12)))
        assert results == [1] * 12

    asyncio.run(scenario())


def test_a_request_waiting_for_a_worker_is_dropped_when_its_task_is_cancelled():
    """In-process, a send that no worker thread has started yet never starts once its task is cancelled:
    the write is not applied."""
    client = leanorm.connect("local://:memory:", default=False)
    hold = HeldInWorker(client.transport)
    hold.workers = 1  # one worker thread: the second send waits for it
    client.transport = hold

    async def scenario() -> None:
        post = await Post.objects.acreate(title="waiting", score=1)
        hold.arm("GET", True)
        reader = asyncio.ensure_future(Post.objects.acount())
        await hold.held()  # the only worker is busy

        async def change() -> None:
            post.score = 2
            await post.asave()

        writer = asyncio.ensure_future(change())
        while hold.handed < 3:  # the create, the count, then the save, waiting for the worker
            await asyncio.sleep(0)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        hold.release()
        assert await reader == 1
        client.identity_map.clear()
        assert (await Post.objects.aget(id=post.id)).score == 1

    try:
        with leanorm.using(client):
            asyncio.run(scenario())
    finally:
        client.close()
