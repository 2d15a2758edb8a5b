"""A worker's handler threads: blocking calls handed from the event loop, their results handed back.

``loop.run_in_executor`` costs more than the calls ``leanorm serve`` makes through it (an equality
read's handler takes about 0.1 ms): each call makes a ``concurrent.futures.Future`` with a condition
variable, chains it to an asyncio future through two callbacks, and wakes the loop once per result
(a byte written to its self-pipe, read back, a pass through epoll). :class:`Handoff` keeps one asyncio
future per call and one queue: a thread runs a call, appends the outcome, and wakes the loop only when
no wake is already on its way, so the results that finish while the loop is busy are settled by one
wake (measured in benchmarks/README.md, "Serving layer CPU").

The bound is the same as a ``ThreadPoolExecutor``'s: ``threads`` calls run at once, later ones wait
in the queue in their order of arrival.
"""
from __future__ import annotations

import asyncio
import collections
import queue
import threading
from typing import Any, Callable, Deque, List, Optional, Tuple, TypeVar

__all__ = ["Handoff"]

T = TypeVar("T")
#: a call waiting for a thread: the future its result settles, the function and its arguments
_Call = Tuple["asyncio.Future[Any]", Callable[..., Any], Tuple[Any, ...]]


class Handoff:
    """``threads`` threads running blocking calls for the coroutines of one event loop."""

    def __init__(self, threads: int, name: str) -> None:
        self._calls: "queue.SimpleQueue[Optional[_Call]]" = queue.SimpleQueue()
        #: outcomes not yet given to their futures: (future, result, exception)
        self._outcomes: Deque[Tuple["asyncio.Future[Any]", Any, Optional[BaseException]]] = collections.deque()
        self._lock = threading.Lock()
        self._waking = False  # a wake of the loop is on its way: outcomes appended meanwhile ride on it
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._threads: List[threading.Thread] = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(threads)]

    def run(self, function: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        """``function(*args)`` on one of the threads (after the calls before it); await its result.
        Every call comes from the same event loop: the first one binds it and starts the threads."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                raise RuntimeError("a Handoff serves the event loop that first used it")
            self._loop = loop
            for thread in self._threads:
                thread.start()
        future: "asyncio.Future[T]" = loop.create_future()
        self._calls.put((future, function, args))
        return future

    def close(self, wait: bool = True) -> None:
        """Stop the threads once the calls already handed over have run (``wait``: return after)."""
        started = [thread for thread in self._threads if thread.is_alive()]
        for _ in started:
            self._calls.put(None)
        if wait:
            for thread in started:
                thread.join()

    def _work(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            future, function, args = call
            if future.cancelled():  # its coroutine went away before a thread was free: not run (as an executor)
                continue
            try:
                self._outcomes.append((future, function(*args), None))
            except StopIteration as exc:  # an asyncio future refuses to hold one (it would end the coroutine)
                failed = RuntimeError("a call handed to a handler thread raised StopIteration")
                failed.__cause__ = exc
                self._outcomes.append((future, None, failed))
            except BaseException as exc:  # noqa: BLE001 - the awaiting coroutine raises it, as run_in_executor's would
                self._outcomes.append((future, None, exc))
            del call, future, function, args  # a finished call is not kept alive by an idle thread
            with self._lock:
                if self._waking:
                    continue
                self._waking = True
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._settle)
            except RuntimeError:  # the loop is closed: nobody awaits these any more
                return

    def _settle(self) -> None:
        """On the loop: give every outcome that arrived to its future."""
        with self._lock:
            self._waking = False  # an outcome appended from here on wakes the loop again
        while self._outcomes:
            future, result, exc = self._outcomes.popleft()
            if future.cancelled():
                continue
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
