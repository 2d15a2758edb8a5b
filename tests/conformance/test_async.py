"""The conformance scenarios through the async API, on every backend (docs/async.md).

Each test runs one coroutine with ``asyncio.run``; the ``client`` fixture's ``using()`` block is in the
context the coroutine starts from. The requests still reach the backend (the recording transport hands
them to the real transport's async path: httpx over HTTP, the embedded server's worker pool in-process).
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, List

import pytest

import leanorm
from leanorm import F, File, Model, RelationField, StringField, User, as_user, signals
from leanorm.errors import AuthenticationFailed, LeanORMError, NotSupported, ObjectNotFound
from leanorm.query.aggregates import Count, Max, Min, Sum
from leanorm.transport import Request, Response, Transport
from tests.models import Author, Org, Post


class AsyncTag(Model):
    name = StringField()


class AsyncShelf(Model):
    name = StringField()
    tags = RelationField(AsyncTag)


def body(request: Request) -> Any:
    return json.loads(request.body) if request.body else None


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- objects --------------------------------------------------------------------------------------------
def test_create_read_save_refresh_delete(client, sent):
    async def scenario() -> None:
        author = await Author.objects.acreate(name="Ann", age=30)
        post = await Post.objects.acreate(title="Hello", score=1, author=author, tags=["a"])
        assert post.id and post.created_at
        assert await Post.objects.aget(id=post.id) is post  # the task's unit of work maps it
        post.score = 2
        await post.asave()
        assert sent[-1].method == "PUT" and body(sent[-1]) == {"score": 2}
        client.identity_map.clear()
        again = await Post.objects.aget(id=post.id)
        assert again is not post and (again.title, again.score, again.tags) == ("Hello", 2, ["a"])
        post.score = 99  # unsaved: refresh drops it
        await post.arefresh()
        assert post.score == 2
        await post.adelete()
        with pytest.raises(Post.DoesNotExist):
            await Post.objects.aget(id=post.id)
        with pytest.raises(ObjectNotFound):
            await Post.objects.aget(title="nobody")

    run(scenario())


def test_queries_count_first_last_exists_and_async_for(client):
    async def scenario() -> None:
        org = await Org.objects.acreate(name="Acme")
        author = await Author.objects.acreate(name="Bo", org=org)
        await Post.objects.abulk_create([Post(title=f"p{i}", score=i, author=author) for i in range(5)])
        big = Post.objects.filter(score__gte=2)
        assert await big.acount() == 3
        assert await big.aexists() and not await Post.objects.filter(score=42).aexists()
        first, last = await big.order_by("score").afirst(), await big.order_by("score").alast()
        assert first is not None and last is not None and (first.score, last.score) == (2, 4)
        assert await Post.objects.filter(score=42).afirst() is None
        titles = [p.title async for p in Post.objects.filter(score__lt=3).order_by("-score")]
        assert titles == ["p2", "p1", "p0"]
        streamed = [p.score async for p in Post.objects.all().aiterator(chunk_size=2)]
        assert sorted(streamed) == [0, 1, 2, 3, 4]
        assert await Post.objects.filter(score__lt=2).order_by("score").avalues_list("score", flat=True) == [0, 1]
        assert await Post.objects.filter(score=1).avalues("title") == [{"title": "p1"}]
        by_id = await Post.objects.ain_bulk([first.id, last.id])
        assert {p.title for p in by_id.values()} == {"p2", "p4"}
        # select_related: the pointed objects came with the page, reading them sends nothing
        count = client.request_count
        names = [(p.author.name, p.author.org.name) async for p in Post.objects.select_related("author__org")]
        assert names == [("Bo", "Acme")] * 5 and client.request_count == count + 1

    run(scenario())


def test_bulk_writes_get_or_create_update_or_create(client):
    async def scenario() -> None:
        post, created = await Post.objects.aget_or_create(title="solo", defaults={"score": 3})
        assert created and post.score == 3
        same, created = await Post.objects.aget_or_create(title="solo")
        assert not created and same.id == post.id
        updated, created = await Post.objects.aupdate_or_create(title="solo", defaults={"score": 5})
        assert not created and updated.score == 5
        await Post.objects.abulk_create([Post(title="bulk", score=i) for i in range(3)])
        assert await Post.objects.filter(title="bulk").aupdate(score=F("score") + 10) == 3
        client.identity_map.clear()
        assert sorted([p.score async for p in Post.objects.filter(title="bulk")]) == [10, 11, 12]
        assert await Post.objects.filter(title="bulk").adelete() == 3
        assert await Post.objects.acount() == 1

    run(scenario())


def test_relations_add_iterate_remove(client):
    async def scenario() -> None:
        shelf = await AsyncShelf.objects.acreate(name="s")
        a, b = await AsyncTag.objects.acreate(name="a"), await AsyncTag.objects.acreate(name="b")
        await shelf.tags.aadd(a, b)
        assert sorted([t.name async for t in shelf.tags]) == ["a", "b"]
        assert await shelf.tags.acount() == 2
        await shelf.tags.aremove(a)
        assert [t.name async for t in shelf.tags] == ["b"]
        assert [s.name async for s in AsyncShelf.objects.filter(tags=b)] == ["s"]

    run(scenario())


def test_aggregation_and_the_rest_of_the_queryset_api(client):
    async def scenario() -> None:
        ann = await Author.objects.acreate(name="ann")
        posts = await Post.objects.abulk_create([Post(title=f"t{i % 2}", score=i, author=ann if i else None)
                                                 for i in range(4)])
        first, last = await Post.objects.aearliest("score"), await Post.objects.alatest("score")
        assert (first.score, last.score) == (0, 3)
        assert await Post.objects.filter(score__gte=2).acontains(last)
        assert not await Post.objects.filter(score__gte=2).acontains(first)
        for post in posts:
            post.score += 10
        assert await Post.objects.abulk_update(posts, ["score"]) == 4
        client.identity_map.clear()
        assert sorted(await Post.objects.avalues_list("score", flat=True)) == [10, 11, 12, 13]
        with leanorm.using_master():
            if not client.supports("aggregate"):
                with pytest.raises(NotSupported):
                    await Post.objects.aaggregate(n=Count("id"))
                return
            assert await Post.objects.aaggregate(n=Count("id"), total=Sum("score"), best=Max("score")) == {
                "n": 4, "total": 46, "best": 13}
            grouped = Post.objects.values("title").annotate(n=Count("id"), low=Min("score")).order_by("title")
            assert [row async for row in grouped] == [{"title": "t0", "n": 2, "low": 10},
                                                      {"title": "t1", "n": 2, "low": 11}]
            assert sorted(await Post.objects.adistinct("title")) == ["t0", "t1"]
            assert await Post.objects.adistinct("author") == [ann.id]

    run(scenario())


# -- users, files ---------------------------------------------------------------------------------------
def test_users_signup_login_current_logout(client):
    name = f"async-{uuid.uuid4().hex[:12]}"  # users outlive a test on Parse Server (the wipe spares them)

    async def scenario() -> None:
        ann = await User.asignup(name, "pw-1", email=f"{name}@example.com")
        assert ann.session_token
        with pytest.raises(AuthenticationFailed):
            await User.alogin(name, "wrong")
        again = await User.alogin(name, "pw-1")
        assert again.id == ann.id and again.session_token
        assert await User.acurrent() is None
        with as_user(again):
            me = await User.acurrent()
            assert me is not None and me.id == ann.id and me.username == name
        await again.alogout()
        assert again.session_token is None

    run(scenario())


def test_file_upload(client):
    async def scenario() -> None:
        f = File("hello.txt", b"hello async")
        await f.asave()
        assert f.url and f.name
        post = await Post.objects.acreate(title="with file", meta={"file": f.url})
        assert (await Post.objects.aget(id=post.id)).meta == {"file": f.url}

    run(scenario())


# -- units of work, signals -----------------------------------------------------------------------------
def test_each_task_works_in_its_own_unit_of_work(client):
    async def scenario() -> None:
        post = await Post.objects.acreate(title="shared", score=0)

        async def load() -> Post:
            first = await Post.objects.aget(id=post.id)
            assert await Post.objects.aget(id=post.id) is first  # the same task: the same instance
            return first

        one, two = await asyncio.gather(load(), load())
        assert one is not two and one is not post

        async def bump(n: int) -> None:
            obj = await Post.objects.aget(id=post.id)
            obj.score = F("score") + n
            await obj.asave()

        await asyncio.gather(*(bump(1) for _ in range(8)))
        client.identity_map.clear()
        assert (await Post.objects.aget(id=post.id)).score == 8

    run(scenario())


def test_one_instance_written_by_two_tasks_at_once_is_refused_never_applied_twice(client):
    """``asyncio.gather(post.asave(), post.asave())``: the second save would send the first one's queued
    Increment again (applied twice), or create the object a second time; it is refused while the first
    is in flight, and the instance is then as the first save left it."""
    async def scenario() -> None:
        post = await Post.objects.acreate(title="counter", score=0)
        post.increment("score")
        first, second = await asyncio.gather(post.asave(), post.asave(), return_exceptions=True)
        assert first is post and isinstance(second, LeanORMError) and "in flight" in str(second)
        assert await Post.objects.filter(id=post.id).avalues_list("score", flat=True) == [1]
        assert post.score == 1 and not post.is_dirty
        new = Post(title="once")
        first, second = await asyncio.gather(new.asave(), new.asave(), return_exceptions=True)
        assert first is new and isinstance(second, LeanORMError)
        assert await Post.objects.filter(title="once").acount() == 1
        first, second = await asyncio.gather(new.adelete(), new.asave(), return_exceptions=True)
        assert first is None and isinstance(second, LeanORMError)
        assert await Post.objects.filter(title="once").acount() == 0
        post.score = 5
        assert (await post.asave()).score == 5  # nothing stays in flight
    run(scenario())


def test_signals_fire_for_async_operations_and_coroutine_receivers_are_awaited(client):
    seen: List[Any] = []

    def before(sender: Any, instance: Any, **kw: Any) -> None:
        seen.append(("before_save", instance.title))

    async def after(sender: Any, instance: Any, **kw: Any) -> None:
        await asyncio.sleep(0)
        # a coroutine receiver may use the async API itself
        seen.append(("after_save", instance.title, await Post.objects.filter(title=instance.title).acount()))

    signals.before_save.connect(before, sender=Post)
    signals.after_save.connect(after, sender=Post)
    try:
        run(Post.objects.acreate(title="signalled"))
        assert seen == [("before_save", "signalled"), ("after_save", "signalled", 1)]
        # the sync API runs a coroutine receiver on a loop of its own when none is running
        Post.objects.create(title="sync")
        assert seen[-1] == ("after_save", "sync", 1)

        async def sync_call_inside_a_loop() -> None:
            Post.objects.create(title="blocking")  # the loop is blocked: the receiver gets one of its own

        run(sync_call_inside_a_loop())
        assert seen[-1] == ("after_save", "blocking", 1)
    finally:
        signals.before_save.disconnect(before, sender=Post)
        signals.after_save.disconnect(after, sender=Post)


# -- cancellation ---------------------------------------------------------------------------------------
class Gate(Transport):
    """Passes every request to the backend; the request matching ``method`` is held once the backend
    answered it, until the test lets it go (a task can be cancelled while its request is in flight)."""

    def __init__(self, inner: Transport, method: str) -> None:
        self.inner = inner
        self.method = method
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    def send(self, request: Request) -> Response:
        return self.inner.send(request)

    async def asend(self, request: Request) -> Response:
        response = await self.inner.asend(request)
        if request.method == self.method and not self.release.is_set():
            self.answered.set()
            await self.release.wait()
        return response


@pytest.mark.parametrize("applied", [True, False], ids=["answered", "not-sent"])
def test_a_task_cancelled_mid_request_leaves_no_half_applied_unit_of_work(client, applied):
    async def scenario() -> None:
        post = await Post.objects.acreate(title="cancel me", score=1)
        real = client.transport
        gate = Gate(real, "PUT")
        if not applied:  # held before the backend sees it
            gate.asend = _held_before(gate)  # type: ignore[method-assign]
        client.transport = gate
        try:
            post.score = 2
            post.title = "changed"
            task = asyncio.ensure_future(post.asave())
            await gate.answered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            client.transport = real
        # the instance expired as after a failed save: nothing queued to send again, fields reload
        assert post.changed_keys() == set()
        await post.arefresh()
        assert (post.score, post.title) == ((2, "changed") if applied else (1, "cancel me"))
        # the next call works, and the unit of work serves what the backend holds
        assert (await Post.objects.aget(id=post.id)).score == (2 if applied else 1)
        post.score = 3
        await post.asave()
        client.identity_map.clear()
        assert (await Post.objects.aget(id=post.id)).score == 3

    run(scenario())


def _held_before(gate: Gate) -> Any:
    async def asend(request: Request) -> Response:
        if request.method == gate.method and not gate.release.is_set():
            gate.answered.set()
            await gate.release.wait()
        return await gate.inner.asend(request)
    return asend


def test_a_bulk_update_cancelled_mid_request_leaves_nothing_queued(client):
    async def scenario() -> None:
        await Post.objects.abulk_create([Post(title="many", score=1) for _ in range(3)])
        loaded: List[Post] = []

        async def load_and_update() -> None:
            loaded.extend([p async for p in Post.objects.filter(title="many")])  # mapped in the task's unit
            await Post.objects.filter(title="many").aupdate(score=F("score") + 1)  # updates those instances

        real = client.transport
        gate = Gate(real, "POST")  # the batch request carrying the updates: answered, then held
        client.transport = gate
        try:
            task = asyncio.ensure_future(load_and_update())
            await gate.answered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            client.transport = real
        assert [p.changed_keys() for p in loaded] == [set()] * 3  # nothing a later save would send again
        assert await Post.objects.filter(title="many").aupdate(score=F("score") + 1) == 3
        client.identity_map.clear()
        assert [p.score async for p in Post.objects.filter(title="many")] == [3, 3, 3]

    run(scenario())
