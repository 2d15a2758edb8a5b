"""Live queries against Parse Server's LiveQuery server, as ``scripts/parse-server`` starts it (skipped
without ``LEANORM_PARSE_URL`` and ``LEANORM_PARSE_LIVE_URL`` unless ``LEANORM_REQUIRE_PARSE=1``, like the
other Parse tests). The classes used here must be among the server's live classes
(``LEANORM_PARSE_LIVE_CLASSES``: LivePost and LiveSecret by default)."""
from __future__ import annotations

import asyncio
import os
from typing import Any, Iterator, Tuple

import pytest

import leanorm
from leanorm import ACL, IntegerField, ListField, Model, StringField
from leanorm.client import Client


class LivePost(Model):
    title = StringField()
    score = IntegerField(default=0)
    tags = ListField(StringField())


class LiveSecret(Model):
    title = StringField()


LIVE_MODELS = (LivePost, LiveSecret)
#: how long a test waits for an event the server owes it before failing (a bound on waiting, not a
#: measure: events come in milliseconds)
WAIT = 15.0


def parse_urls() -> Tuple[str, str]:
    url, live_url = os.environ.get("LEANORM_PARSE_URL"), os.environ.get("LEANORM_PARSE_LIVE_URL")
    if not (url and live_url):
        if os.environ.get("LEANORM_REQUIRE_PARSE") == "1":
            pytest.fail("LEANORM_REQUIRE_PARSE=1 but LEANORM_PARSE_URL / LEANORM_PARSE_LIVE_URL are not set: "
                        "eval \"$(scripts/parse-server env)\"")
        pytest.skip("no Parse Server LiveQuery configured (LEANORM_PARSE_URL, LEANORM_PARSE_LIVE_URL)")
    return url, live_url


@pytest.fixture
def parse() -> Iterator[Client]:
    """A client of the tier's Parse Server (its live URL from the script's env), the current one, over
    empty live classes."""
    url, live_url = parse_urls()
    client = leanorm.connect(url, live_url=live_url, default=False)
    with leanorm.using_master():
        for model in LIVE_MODELS:
            try:
                client.request("DELETE", f"purge/{model._meta.class_name}")
            except leanorm.errors.ObjectNotFound:
                pass
    with leanorm.using(client), leanorm.session():
        yield client
    client.close()


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
