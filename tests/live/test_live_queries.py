"""``QuerySet.live()`` against each backend of tests/live/conftest.py: the embedded server in-process,
``leanorm serve``, and Parse Server's LiveQuery server (the tier's: scripts/parse-server)."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, List, Tuple

import pytest

import leanorm
import leanorm.live
import leanorm.live_session
import leanorm.schema
from leanorm import User, as_user, signals
from leanorm.errors import LeanCloudError, NotSupported, PermissionDenied
from leanorm.live import Backoff, LiveEvent, MissedChanges
from tests.live.conftest import LivePost, LiveSecret, next_event, private_acl, public_acl
from tests.served import Served


def test_a_live_query_hears_create_update_leave_enter_delete_in_order(client):
    async def scenario() -> List[Tuple[str, Any, Any]]:
        live = await LivePost.objects.filter(score__gte=5).live()
        post = await LivePost.objects.acreate(title="hello", score=7)
        for score in (9, 1, 6):
            post.score = score
            await post.asave()
        await LivePost.objects.acreate(title="never in the query", score=0)
        await post.adelete()
        seen = []
        for _ in range(5):
            event = await next_event(live)
            assert isinstance(event, LiveEvent) and event.instance.id == post.id
            seen.append((event.kind, event.instance.score, event.original and event.original.score))
        await live.close()
        return seen
    assert asyncio.run(scenario()) == [("create", 7, None), ("update", 9, 7), ("leave", 1, 9), ("enter", 6, 1),
                                       ("delete", 6, None)]


def test_an_event_refreshes_the_instance_the_task_holds_and_a_delete_forgets_it(live_backend):
    elsewhere = live_backend.another()   # another process, as far as this one knows

    async def scenario() -> None:
        post = await LivePost.objects.acreate(title="held", score=1)
        held = await LivePost.objects.aget(id=post.id)
        async with LivePost.objects.live() as live:
            await LivePost.objects.using(elsewhere).filter(id=post.id).aupdate(score=2)
            event = await next_event(live)
            assert event.instance is held and held.score == 2 and event.original is not held
            await held.adelete()
            assert (await next_event(live)).kind == "delete"
        assert await LivePost.objects.filter(id=post.id).acount() == 0
    asyncio.run(scenario())


def test_only_limits_the_fields_events_carry(client, live_backend):
    elsewhere = live_backend.another()

    async def scenario() -> None:
        live = await LivePost.objects.only("title").live()
        await LivePost.objects.using(elsewhere).acreate(title="slim", score=42, tags=["x"])
        event = await next_event(live)
        sent = client.request_count
        assert event.instance.title == "slim" and client.request_count == sent    # carried
        assert event.instance.score == 42 and client.request_count == sent + 1   # not carried: loaded on read
        await live.close()
    asyncio.run(scenario())


def test_watch_reports_updates_of_the_watched_fields_only(client):
    async def scenario() -> None:
        post = await LivePost.objects.acreate(title="w", score=1)
        live = await LivePost.objects.live(watch=["score"])
        post.title = "renamed"           # not watched: no event
        await post.asave()
        post.score = 2
        await post.asave()
        event = await next_event(live)
        assert (event.kind, event.instance.title, event.original.score, event.instance.score) == \
            ("update", "renamed", 1, 2)
        await live.close()
    asyncio.run(scenario())


def test_a_user_hears_only_the_objects_it_may_read_and_leaves_without_the_new_data(client):
    alice = User.signup(username="alice" + uuid.uuid4().hex[:8], password="pw")
    bob = User.signup(username="bob" + uuid.uuid4().hex[:8], password="pw")

    async def scenario() -> None:
        with as_user(bob):
            bobs = await LiveSecret.objects.live()
        with as_user(alice):
            alices = await LiveSecret.objects.live()
            await LiveSecret.objects.acreate(title="alice only", acl=private_acl(alice))
            shared = await LiveSecret.objects.acreate(title="open", acl=public_acl(alice))
            shared.title = "hidden now"
            shared.acl = private_acl(alice)
            await shared.asave()
        with as_user(alice):   # (read as they come: the instance is one, refreshed by each later event)
            kinds = [(e.kind, e.instance.title) for _ in range(3) for e in [await next_event(alices)]]
        assert kinds == [("create", "alice only"), ("create", "open"), ("update", "hidden now")]
        with as_user(bob):
            first = await next_event(bobs)
            assert (first.kind, first.instance.title) == ("create", "open")
            second = await next_event(bobs)
        # the private create never reached bob; losing read access is a leave carrying the last state
        # bob could read, never the new one
        assert (second.kind, second.instance.id, second.instance.title) == ("leave", shared.id, "open")
        await bobs.close()
        await alices.close()
    asyncio.run(scenario())


def test_a_class_the_caller_may_not_find_refuses_the_subscription(client):
    finder = User.signup(username="finder" + uuid.uuid4().hex[:8], password="pw")
    other = User.signup(username="other" + uuid.uuid4().hex[:8], password="pw")
    everyone = {"*": True}
    open_rules = {op: everyone for op in ("find", "count", "get", "create", "update", "delete", "addField")}
    leanorm.schema.set_class_permissions(LiveSecret, {**open_rules, "find": {finder.id: True}})

    async def scenario() -> None:
        for stranger in (None, other):
            with as_user(stranger), pytest.raises(PermissionDenied, match="refused subscribe"):
                await LiveSecret.objects.live()
        with as_user(finder):
            live = await LiveSecret.objects.live()
            await LiveSecret.objects.acreate(title="found")
            assert (await next_event(live)).instance.title == "found"   # each event checked against the CLP
            await live.close()
    try:
        asyncio.run(scenario())
    finally:
        leanorm.schema.set_class_permissions(LiveSecret, open_rules)


@pytest.mark.parametrize("backend", ["served", pytest.param("parse", marks=pytest.mark.parse)])
def test_a_refused_connect_raises_the_servers_error(live_backend):
    # (in-process, the client is the server's own, with its keys: nothing to refuse)
    wrong = leanorm.connect(live_backend.url.replace(live_backend.client.app_key, "not-the-key"),
                            live_url=live_backend.live_url, default=False)

    async def scenario() -> None:
        with pytest.raises(LeanCloudError) as refused:
            await LivePost.objects.using(wrong).live()
        assert refused.value.code == 4 and "Key in request is not valid" in str(refused.value)
    asyncio.run(scenario())
    wrong.close()


def test_a_dropped_connection_reconnects_resubscribes_and_says_changes_were_missed(live_backend):
    link = live_backend.link(refused=2)
    link.client.live_backoff = Backoff(first=0.05, cap=0.2)

    async def scenario() -> None:
        with leanorm.using(link.client):
            live = await LivePost.objects.filter(score__gte=1).live()
            everything = await LivePost.objects.live()          # a second live query on the same connection
            await LivePost.objects.acreate(title="before", score=1)
            assert (await next_event(live)).instance.title == "before"
            assert (await next_event(everything)).instance.title == "before"
            link.cut()
            gap = await next_event(live)
            assert isinstance(gap, MissedChanges) and gap.kind == "reconnected" and gap.since <= gap.until
            assert isinstance(await next_event(everything), MissedChanges)
            assert link.faults == link.refused       # it kept trying, and came back after the refusals
            await LivePost.objects.acreate(title="after", score=1)
            assert (await next_event(live)).instance.title == "after"
            assert (await next_event(everything)).instance.title == "after"
            await live.close()
            await everything.close()
    asyncio.run(scenario())


@pytest.mark.parametrize("backend", ["embedded"])
def test_a_connection_the_embedded_server_closes_is_opened_again(live_backend):
    server = live_backend.client.embedded_server

    async def scenario() -> None:
        live = await LivePost.objects.live()
        for connection in list(server.live._clients):   # closed without a word, as at a bound
            server.live.close(connection)
        assert isinstance(await next_event(live), MissedChanges)
        await LivePost.objects.acreate(title="after")
        assert (await next_event(live)).instance.title == "after"
        await live.close()
    asyncio.run(scenario())


def test_a_consumer_that_falls_behind_is_told_what_was_dropped(client, monkeypatch):
    monkeypatch.setattr(leanorm.live_session, "MAX_PENDING", 3)

    async def scenario() -> List[Any]:
        live = await LivePost.objects.live()
        barrier = await LivePost.objects.filter(title="last").live()   # the same connection, in order
        for i in range(5):                                       # 5 changes, nobody reading
            await LivePost.objects.acreate(title=f"p{i}")
        await LivePost.objects.acreate(title="last")
        assert (await next_event(barrier)).instance.title == "last"     # so the others came before it
        await barrier.close()
        seen = []
        while True:
            event = await next_event(live)
            seen.append(event.reason if isinstance(event, MissedChanges) else event.instance.title)
            if seen[-1] == "last":
                break
        await live.close()
        return seen
    seen = asyncio.run(scenario())
    # the fourth pending change found three waiting: the four were dropped, and a gap said so
    assert seen == ["the live query fell 4 changes behind; they were dropped", "p4", "last"]


def test_listen_relays_remote_changes_as_signals(client):
    heard: "asyncio.Queue[Tuple[str, Any]]"

    async def saved(sender: Any, instance: Any, original: Any, kind: str) -> None:
        await heard.put((kind, instance.title))

    def deleted(sender: Any, instance: Any) -> None:
        heard.put_nowait(("deleted", instance.title))

    signals.remote_saved.connect(saved, sender=LivePost)
    signals.remote_deleted.connect(deleted, sender=LivePost)

    async def scenario() -> List[Tuple[str, Any]]:
        nonlocal heard
        heard = asyncio.Queue()
        task = await leanorm.live.listen(LivePost)
        post = await LivePost.objects.acreate(title="remote", score=1)
        post.title = "changed"
        await post.asave()
        await post.adelete()
        got = [await asyncio.wait_for(heard.get(), 15) for _ in range(3)]
        task.cancel()
        return got
    try:
        assert asyncio.run(scenario()) == [("create", "remote"), ("update", "changed"), ("deleted", "changed")]
    finally:
        signals.remote_saved.disconnect(saved, sender=LivePost)
        signals.remote_deleted.disconnect(deleted, sender=LivePost)


def test_a_filter_parses_matcher_cannot_evaluate_is_heard_in_process_and_refused_elsewhere(live_backend):
    # a lookup through a pointer ($inQuery) and equality with null: Parse's matcher would match nothing;
    # the embedded server matches with its query compiler, as a find would (the live_any_where capability)
    def queries() -> List[Any]:
        return [LivePost.objects.filter(secret__title="pinned"), LivePost.objects.filter(title=None)]

    async def scenario() -> None:
        pinned = await LiveSecret.objects.acreate(title="pinned")
        if live_backend.name != "embedded":   # over HTTP the client cannot tell which server it reaches
            for queryset in queries():
                with pytest.raises(NotSupported, match="live"):
                    queryset.live()
            return
        for queryset in queries():        # nor can it when told another LiveQuery server
            with pytest.raises(NotSupported, match="live"):
                queryset.live(url="ws://127.0.0.1:9/parse")
        by_secret, untitled = [await queryset.live() for queryset in queries()]
        await LivePost.objects.acreate(title="unpinned", score=1)            # matches neither
        await LivePost.objects.acreate(title="under pinned", secret=pinned)  # by_secret
        await LivePost.objects.acreate(score=2)                              # untitled
        # (events come in the order of the changes: an event of "unpinned" would have come first)
        assert (await next_event(by_secret)).instance.title == "under pinned"
        first = await next_event(untitled)
        assert (first.kind, first.instance.title, first.instance.score) == ("create", None, 2)
        await by_secret.close()
        await untitled.close()
    asyncio.run(scenario())


def test_a_leancloud_dialect_client_of_leanorm_serve_goes_live_with_the_live_url_it_is_given(live_served: Served):
    # LeanCloud itself has no Parse LiveQuery server: its dialect never guesses one; leanorm serve's is on
    # its own port and any path
    url = live_served.leanorm_url
    without = leanorm.connect(url, default=False)
    given = leanorm.connect(url, live_url=f"ws://127.0.0.1:{live_served.port}/", default=False)

    async def scenario() -> None:
        with pytest.raises(NotSupported, match="live_url"):
            await LivePost.objects.using(without).live()
        with leanorm.using(given):
            live = await LivePost.objects.filter(title="over leancloud").live()
            await LivePost.objects.acreate(title="over leancloud")
            assert (await next_event(live)).instance.title == "over leancloud"
            await live.close()
    asyncio.run(scenario())
    without.close()
    given.close()
