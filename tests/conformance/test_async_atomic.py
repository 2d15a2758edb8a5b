"""``async with leanorm.atomic():`` on every backend: the block's writes queued, then sent as one
transactional batch through the async transport when it ends, all or nothing; a task cancelled inside
the block or at its end leaves no half-applied unit of work, and the next call works (docs/async.md)."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, List

import pytest

import leanorm
from leanorm import F, signals
from leanorm.errors import LeanORMError, NotSupported, TransactionFailed
from leanorm.transport import Request, Response, Transport
from tests.conftest import BACKENDS
from tests.models import Author, Post

#: a guard against a test hanging when the awaited request never comes (not an assertion on time)
PATIENCE = 60.0


@pytest.fixture(params=[*BACKENDS, "served-parse"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every backend, and ``leanorm serve`` in the Parse dialect too (which has a transactional batch)."""
    return request.param


def transactional(client: Any) -> bool:
    return client.supports("transactions")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def is_transaction(request: Request) -> bool:
    return request.path.endswith("/batch") and b'"transaction":true' in (request.body or b"")


def test_the_block_is_one_batch_sent_through_the_async_transport_at_its_end(client, sent):
    async def scenario() -> None:
        if not transactional(client):
            with pytest.raises(NotSupported):
                async with leanorm.atomic():
                    await Post.objects.acreate(title="a")
            assert await Post.objects.acount() == 0
            return
        kept = await Post.objects.acreate(title="kept", score=1)
        start = len(sent)
        async with leanorm.atomic() as transaction:
            created = await Post.objects.acreate(title="a", score=1)
            kept.score = 5
            await kept.asave()
            await Post.objects.abulk_create([Post(title="b"), Post(title="c")])
            assert created.id is None and len(sent) == start  # queued, nothing sent yet
            assert await Post.objects.acount() == 1  # reads see the database, not the queued writes
            assert len(transaction.writes) == 4
        assert len(sent) - start == 2 and is_transaction(sent[-1])  # the count, then ONE batch
        assert created.id and kept.score == 5
        client.identity_map.clear()
        assert sorted(await Post.objects.avalues_list("title", "score")) == [
            ("a", 1), ("b", 0), ("c", 0), ("kept", 5)]

    run(scenario())


def test_a_failing_item_stores_nothing(client):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        typed = Post(title="typed")
        typed["legacy"] = 1  # the stored schema says Number from now on
        await typed.asave()
        keep = await Post.objects.acreate(title="keep", score=1)
        with pytest.raises(TransactionFailed) as info:
            async with leanorm.atomic():
                created = await Post.objects.acreate(title="c")
                bad = Post(title="bad")
                bad["legacy"] = "not a number"
                await bad.asave()
                keep.score = 5
                await keep.asave()
        assert [obj for obj, _ in info.value.failed] == [created, bad, keep]
        assert created.id is None and bad.id is None and keep.changed_keys() == set()
        client.identity_map.clear()
        assert sorted(await Post.objects.avalues_list("title", "score")) == [("keep", 1), ("typed", 0)]

    run(scenario())


def test_an_exception_in_the_block_sends_nothing_and_its_changes_never_reach_the_server(client, sent):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        post = await Post.objects.acreate(title="p", score=1)
        start = len(sent)
        with pytest.raises(RuntimeError):
            async with leanorm.atomic():
                await Post.objects.filter(id=post.id).aupdate(score=F("score") + 5)  # queued on the mapped post
                await Post.objects.acreate(title="x")
                raise RuntimeError("abandon the block")
        # the update read which objects match; no write was sent
        assert [r.method for r in sent[start:]] == ["GET"] and post.changed_keys() == set()
        post.title = "renamed"
        await post.asave()  # sends only what this save changes, not the abandoned increment
        assert await Post.objects.avalues_list("title", "score") == [("renamed", 1)]

    run(scenario())


def test_nested_blocks_join_the_outer_one_sync_and_async_alike(client, sent):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        ann = await Author.objects.acreate(name="ann")
        start = len(sent)
        async with leanorm.atomic():
            await Post.objects.acreate(title="p1")
            with leanorm.atomic():  # a sync block inside joins: nothing is sent when it ends
                Post(title="p2").save()
            async with leanorm.atomic():
                await ann.adelete()
            assert len(sent) == start
        assert len(sent) == start + 1 and is_transaction(sent[-1])
        assert sorted(await Post.objects.avalues_list("title", flat=True)) == ["p1", "p2"]
        assert await Author.objects.acount() == 0

    run(scenario())


def test_an_inner_async_block_ended_by_an_exception_undoes_the_whole_transaction(client, sent):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        start = len(sent)
        with pytest.raises(TransactionFailed, match="inner atomic"):
            async with leanorm.atomic():
                outer = await Post.objects.acreate(title="outer")
                try:
                    async with leanorm.atomic():
                        await Post.objects.acreate(title="inner")
                        raise ValueError("out of stock")
                except ValueError:
                    pass
        assert len(sent) == start and outer.id is None  # nothing sent
        assert await Post.objects.acount() == 0

    run(scenario())


def test_signals_fire_for_the_blocks_async_writes_and_coroutine_receivers_are_awaited(client):
    if not transactional(client):
        pytest.skip("no transactional batch")
    seen: List[Any] = []

    def before(sender: Any, instance: Any, **kw: Any) -> None:
        seen.append(("before_save", instance.title, instance.id))

    async def after(sender: Any, instance: Any, **kw: Any) -> None:
        await asyncio.sleep(0)
        # at the commit: the block has ended, so the receiver's own reads see what it stored
        seen.append(("after_save", instance.title, await Post.objects.filter(title=instance.title).acount()))

    async def scenario() -> None:
        async with leanorm.atomic():
            await Post.objects.acreate(title="one")
            await Post(title="two").asave()
            assert seen == [("before_save", "one", None), ("before_save", "two", None)]
        assert seen[2:] == [("after_save", "one", 1), ("after_save", "two", 1)]

    signals.before_save.connect(before, sender=Post)
    signals.after_save.connect(after, sender=Post)
    try:
        run(scenario())
    finally:
        signals.before_save.disconnect(before, sender=Post)
        signals.after_save.disconnect(after, sender=Post)


def test_a_task_the_block_started_cannot_write_into_it_once_it_ended(client, sent):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        go_on = asyncio.Event()

        async def late_writer() -> None:
            await go_on.wait()
            await Post.objects.acreate(title="late")  # the task copied the block's context

        async with leanorm.atomic():
            await Post.objects.acreate(title="in time")
            late = asyncio.ensure_future(late_writer())
        go_on.set()
        with pytest.raises(LeanORMError, match="ended"):
            await late  # refused rather than queued into a batch already sent (lost)
        assert await Post.objects.avalues_list("title", flat=True) == ["in time"]

    run(scenario())


# -- cancellation ---------------------------------------------------------------------------------------
class Gate(Transport):
    """Passes every request to the backend; the first transactional batch is held (before the backend
    sees it, or once it answered) until the test lets it go: a task can be cancelled with it in flight.
    Only the async path holds: an exit that sent through the sync transport would never be seen here."""

    def __init__(self, inner: Transport, before_backend: bool) -> None:
        self.inner = inner
        self.before_backend = before_backend
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    def send(self, request: Request) -> Response:
        return self.inner.send(request)

    async def asend(self, request: Request) -> Response:
        hold = is_transaction(request) and not self.held.is_set()
        if hold and self.before_backend:
            self.held.set()
            await self.release.wait()
        response = await self.inner.asend(request)
        if hold and not self.before_backend:
            self.held.set()
            await self.release.wait()
        return response


async def with_gate(client: Any, before_backend: bool, block: Callable[[], Any]) -> None:
    """Run ``block()`` as a task, cancel it while its transactional batch is held, and expect it to end
    with the cancellation."""
    real = client.transport
    gate = Gate(real, before_backend)
    client.transport = gate
    try:
        task = asyncio.ensure_future(block())
        await asyncio.wait_for(gate.held.wait(), PATIENCE)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        client.transport = real


@pytest.mark.parametrize("applied", [True, False], ids=["answered", "not-sent"])
def test_a_task_cancelled_at_the_end_of_the_block_leaves_all_or_nothing(client, applied):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        kept = await Post.objects.acreate(title="kept", score=1)
        made: List[Post] = []

        async def block() -> None:
            async with leanorm.atomic():
                made.append(await Post.objects.acreate(title="new"))
                kept.score = 2
                await kept.asave()
                await Post.objects.abulk_create([Post(title="bulk") for _ in range(3)])

        await with_gate(client, not applied, block)
        # no stored instance keeps a change that a later save would send again; the new one is unsaved, as
        # after a failed create
        assert kept.changed_keys() == set() and made[0].id is None
        # all or nothing: the batch was committed whole, or not at all
        client.identity_map.clear()
        titles = sorted(await Post.objects.avalues_list("title", flat=True))
        assert titles == (["bulk"] * 3 + ["kept", "new"] if applied else ["kept"])
        assert (await Post.objects.aget(id=kept.id)).score == (2 if applied else 1)
        # the next call works, and so does the next block
        async with leanorm.atomic():
            kept.score = 3
            await kept.asave()
            await Post.objects.acreate(title="after")
        assert leanorm.transactions.current() is None
        client.identity_map.clear()
        assert (await Post.objects.aget(id=kept.id)).score == 3
        assert await Post.objects.filter(title="after").acount() == 1

    run(scenario())


def test_a_task_cancelled_inside_the_block_sends_nothing(client, sent):
    if not transactional(client):
        pytest.skip("no transactional batch")

    async def scenario() -> None:
        kept = await Post.objects.acreate(title="kept", score=1)
        inside = asyncio.Event()

        async def block() -> None:
            async with leanorm.atomic():
                await Post.objects.acreate(title="new")
                kept.score = 2
                await kept.asave()
                inside.set()
                await asyncio.Event().wait()  # cancelled here, with two writes queued

        start = len(sent)
        task = asyncio.ensure_future(block())
        await asyncio.wait_for(inside.wait(), PATIENCE)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(sent) == start and kept.changed_keys() == set()
        await kept.asave()  # nothing of the abandoned block is sent later
        client.identity_map.clear()
        assert await Post.objects.avalues_list("title", "score") == [("kept", 1)]
        async with leanorm.atomic():  # the next block works
            await Post.objects.acreate(title="after")
        assert sorted(await Post.objects.avalues_list("title", flat=True)) == ["after", "kept"]

    run(scenario())
