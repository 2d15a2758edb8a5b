"""``leanorm serve``'s handler threads (leanorm/embedded/handoff.py): every call's result or error reaches
the coroutine that handed it over, however many finish together, and no more calls run at once than
there are threads."""
import asyncio
import threading

import pytest

from leanorm.embedded.handoff import Handoff


def test_every_result_and_error_reaches_its_own_caller() -> None:
    handoff = Handoff(3, "test-handoff")

    def work(n: int) -> int:
        if n % 7 == 0:
            raise ValueError(n)
        return n * n

    async def one(n: int) -> object:
        try:
            return await handoff.run(work, n)
        except ValueError as exc:
            return ("refused", exc.args[0])

    async def main() -> list:
        return await asyncio.gather(*(one(n) for n in range(1, 400)))

    try:
        answers = asyncio.run(main())
    finally:
        handoff.close()
    assert answers == [("refused", n) if n % 7 == 0 else n * n for n in range(1, 400)]


def test_no_more_calls_run_at_once_than_threads_and_the_rest_wait_their_turn() -> None:
    handoff = Handoff(2, "test-handoff")
    running, most, lock = [0], [0], threading.Lock()
    release = threading.Event()
    order = []

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            order.append(n)
        release.wait(5)
        with lock:
            running[0] -= 1
        return n

    async def main() -> list:
        calls = [handoff.run(work, n) for n in range(6)]
        await asyncio.sleep(0.2)  # the first two hold both threads; the others are queued
        with lock:
            started = running[0]
        release.set()
        return [started, await asyncio.gather(*calls)]

    try:
        started, results = asyncio.run(main())
    finally:
        handoff.close()
    assert started == 2 and most[0] == 2
    assert results == list(range(6))
    assert sorted(order[:2]) == [0, 1] and sorted(order) == list(range(6))  # the first two first, then the rest


def test_close_runs_what_was_handed_over_and_a_second_loop_is_refused() -> None:
    handoff = Handoff(1, "test-handoff")
    ran = []

    async def hand_over() -> None:
        await handoff.run(ran.append, 1)
        handoff.run(ran.append, 2)  # not awaited: close still runs it

    asyncio.run(hand_over())

    async def elsewhere() -> None:
        await handoff.run(ran.append, 3)

    with pytest.raises(RuntimeError):
        asyncio.run(elsewhere())
    handoff.close(wait=True)
    assert ran == [1, 2]


def test_a_call_cancelled_before_a_thread_takes_it_never_runs() -> None:
    handoff = Handoff(1, "test-handoff")
    release, ran = threading.Event(), []

    async def main() -> None:
        first = handoff.run(release.wait, 5)
        second = handoff.run(ran.append, "cancelled")
        second.cancel()  # its coroutine went away while the only thread was busy
        release.set()
        await first
        await handoff.run(ran.append, "after")

    try:
        asyncio.run(main())
    finally:
        handoff.close()
    assert ran == ["after"]


def test_a_call_raising_stop_iteration_fails_its_caller_and_the_others_still_get_theirs() -> None:
    handoff = Handoff(1, "test-handoff")

    async def main() -> list:
        stopped = handoff.run(next, iter(()))  # StopIteration, which an asyncio future cannot hold
        fine = handoff.run(int, "7")
        answers = await asyncio.gather(stopped, fine, return_exceptions=True)
        return [type(answers[0]).__name__, answers[1]]

    try:
        answers = asyncio.run(asyncio.wait_for(main(), 10))
    finally:
        handoff.close()
    assert answers == ["RuntimeError", 7]
