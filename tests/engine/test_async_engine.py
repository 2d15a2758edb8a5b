"""Cloud code through the async API on the embedded backend: functions (``cloud.arun``/``arpc``) and hooks
around async writes, with the server's handler run in a worker thread, so the event loop never waits."""
from __future__ import annotations

import asyncio
import threading
from typing import Iterator

import pytest

import leanorm
from leanorm import cloud
from leanorm.client import Client
from leanorm.engine import Engine, reject
from leanorm.errors import LeanCloudError
from tests.engine.models import EngineNote

engine = Engine()
loop_ran = threading.Event()


@engine.define
def wait_for_the_loop() -> bool:
    """Answers whether a coroutine of the caller's event loop ran while this function was running."""
    return loop_ran.wait(10)


@engine.define
def echo_note(note: EngineNote) -> EngineNote:
    return note


@engine.before_save(EngineNote)
def no_secrets(note: EngineNote) -> None:
    if note.title == "secret":
        reject("no secrets", code=3002)
    note.title = (note.title or "").upper()


@pytest.fixture
def client() -> Iterator[Client]:
    client = leanorm.connect("local://:memory:", engine=engine, default=False)
    with leanorm.using(client):
        yield client
    client.close()


def test_the_embedded_handler_runs_off_the_event_loop(client):
    loop_ran.clear()

    async def scenario() -> bool:
        call = asyncio.ensure_future(cloud.arun("wait_for_the_loop"))
        await asyncio.sleep(0.05)  # the function runs meanwhile, in the transport's worker thread
        loop_ran.set()  # had the handler blocked the loop, this would run only after its 10 s wait
        return await call

    assert asyncio.run(scenario()) is True


def test_functions_and_hooks_through_the_async_api(client):
    async def scenario() -> None:
        note = await EngineNote.objects.acreate(title="hello")
        assert note.title == "HELLO"  # the before-save hook's change came back
        echoed = await cloud.arpc("echo_note", note=note)
        assert isinstance(echoed, EngineNote) and echoed.id == note.id
        with pytest.raises(LeanCloudError) as refused:
            await EngineNote.objects.acreate(title="secret")
        assert refused.value.code == 3002
        assert await EngineNote.objects.acount() == 1

    asyncio.run(scenario())
