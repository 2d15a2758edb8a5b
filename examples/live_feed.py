"""A live feed of posts: one task watches the popular posts change while another client writes.

    LEANORM_URL=local://:memory: python examples/live_feed.py   # in-process: the embedded server's own
    eval "$(bash scripts/parse-server env)"                  # a Parse Server with LiveQuery (the test tier)
    LEANORM_URL="$LEANORM_PARSE_URL" python examples/live_feed.py

It needs a backend with a LiveQuery server that publishes the class ``LivePost`` (the embedded server
and ``leanorm serve`` publish every class; Parse Server lists its live classes:
``liveQuery: {classNames: [...]}``; docs/live.md). The feed prints each change as the
server reports it; the same changes reach ``signals.remote_saved`` / ``remote_deleted`` receivers through
``leanorm.live.listen``, as changes made by another process would.
"""
import asyncio
from typing import Any, List

import leanorm
import leanorm.live
from leanorm import IntegerField, Model, StringField, signals
from leanorm.live import MissedChanges


class LivePost(Model):
    title: StringField[str] = StringField(required=True)
    score: IntegerField[int] = IntegerField(default=0)


async def feed(popular: "leanorm.live.LiveQuery[LivePost]", changes: int) -> None:
    """Print ``changes`` events of the popular posts, as they come."""
    async for event in popular:
        if isinstance(event, MissedChanges):   # the connection dropped: re-read the query to catch up
            print("reconnected; missed changes since", event.since)
            continue
        before = "" if event.original is None else f" (was {event.original.score})"
        print(f"{event.kind}: {event.instance.title} {event.instance.score}{before}")
        changes -= 1
        if changes == 0:
            return


async def main() -> None:
    leanorm.connect()                           # LEANORM_URL
    deleted: List[str] = []
    heard = asyncio.Event()

    @signals.remote_deleted.connect_via(LivePost)
    def gone(sender: Any, instance: LivePost) -> None:   # runs in the listener's task
        deleted.append(instance.title)
        heard.set()

    listener = await leanorm.live.listen(LivePost)   # remote signals, from now on
    popular = await LivePost.objects.filter(score__gte=10).live()   # subscribed: every later change is heard

    watching = asyncio.ensure_future(feed(popular, changes=5))
    post = await LivePost.objects.acreate(title="Hello", score=12)   # create
    post.score = 20
    await post.asave()                                                # update
    post.score = 3
    await post.asave()                                                # leave: no longer popular
    post.score = 11
    await post.asave()                                                # enter: popular again
    await post.adelete()                                              # delete
    await watching

    await heard.wait()                          # the listener's task hears the delete too
    print("remote_deleted:", deleted)
    listener.cancel()


if __name__ == "__main__":
    asyncio.run(main())
