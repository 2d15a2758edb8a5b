"""Threads and tasks sharing one object: each works on its own instance, so no write is applied twice."""
from __future__ import annotations

import asyncio
import threading

import pytest

import leanorm
from leanorm import IntegerField, Model
from leanorm.errors import TransportError

THREADS, ROUNDS = 16, 25


class RaceCounter(Model):
    n = IntegerField(default=0)


def race(client, object_id):
    """16 threads doing get(id=) -> increment -> save under the master key; the acknowledged saves."""
    acknowledged = [0] * THREADS
    start = threading.Barrier(THREADS)

    def work(slot):
        with leanorm.using(client), leanorm.using_master():
            start.wait()
            for _ in range(ROUNDS):
                counter = RaceCounter.objects.get(id=object_id)
                counter.increment("n")
                try:
                    counter.save()
                except TransportError:
                    continue
                acknowledged[slot] += 1

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(acknowledged)


@pytest.fixture(params=["in-process", "served"])
def shared_client(request, tmp_path):
    if request.param == "served":
        served = request.getfixturevalue("served")
        client = leanorm.connect(served.leanorm_url, default=False)
    else:
        client = leanorm.connect(f"local://{tmp_path / 'race.sqlite3'}", default=False)
    yield client
    client.close()


def test_sixteen_threads_incrementing_end_at_the_acknowledged_count(shared_client):
    with leanorm.using(shared_client), leanorm.using_master():
        object_id = RaceCounter.objects.create().id
    acknowledged = race(shared_client, object_id)
    with leanorm.using(shared_client), leanorm.using_master(), leanorm.session():
        assert RaceCounter.objects.get(id=object_id).n == acknowledged == THREADS * ROUNDS


def test_asyncio_tasks_get_instances_of_their_own(shared_client):
    with leanorm.using(shared_client):
        object_id = RaceCounter.objects.create().id
        mine = RaceCounter.objects.get(id=object_id)

    async def load():
        with leanorm.using(shared_client):
            first = RaceCounter.objects.get(id=object_id)
            await asyncio.sleep(0)
            return first, RaceCounter.objects.get(id=object_id)

    async def main():
        return await asyncio.gather(load(), load())

    (a, a_again), (b, b_again) = asyncio.run(main())
    assert a is a_again and b is b_again  # one instance per object within a task
    assert len({id(mine), id(a), id(b)}) == 3  # none shared between tasks, or with the caller


def test_a_thread_never_gets_another_threads_instance(shared_client):
    with leanorm.using(shared_client):
        object_id = RaceCounter.objects.create().id
        mine = RaceCounter.objects.get(id=object_id)
    seen = []

    def other():
        with leanorm.using(shared_client):
            seen.append(RaceCounter.objects.get(id=object_id))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen[0] is not mine and seen[0] == mine


def test_tasks_started_inside_a_session_block_get_their_own(shared_client):
    with leanorm.using(shared_client):
        object_id = RaceCounter.objects.create().id

    async def load():
        return RaceCounter.objects.get(id=object_id)

    async def main():
        with leanorm.using(shared_client), leanorm.session():
            mine = RaceCounter.objects.get(id=object_id)
            theirs = await asyncio.gather(asyncio.ensure_future(load()), asyncio.ensure_future(load()))
            return mine, theirs, RaceCounter.objects.get(id=object_id)

    mine, (a, b), again = asyncio.run(main())
    assert again is mine and len({id(mine), id(a), id(b)}) == 3
