"""How the async API runs the one implementation of each operation: on the event loop, in a greenlet.

Each ``a*`` method (``await Post.objects.aget(...)``, ``await post.asave()``...) is :func:`run_async`
of its sync twin: the same function builds the request, folds the answer into the instance, keeps the
identity map and sends the signals. ``run_async`` runs it in a greenlet, a child of the calling task's.
Where that code sends a request (``Client._send``, the only place), :func:`await_only` passes the
transport's coroutine (``Transport.asend``) up to the task, which awaits it on the event loop (other
tasks run meanwhile) and hands the answer back down. So there is no second, async copy of any
operation: only the send differs. (SQLAlchemy's asyncio extension works the same way.)

The greenlet runs in the task's own ``contextvars`` context: the task's unit of work
(``leanorm.identity``), its ``using()`` client, its auth context and ``timeout()`` block are those the
operation sees, and what it sets there (the task's session, made on first use) stays with the task.

A task cancelled while it awaits a send gets :class:`asyncio.CancelledError` thrown into the operation
at that send, as any failed send: the operation's own clean-up runs (a write expires its instance,
``Model._expire``) and the cancellation goes on up.

>>> import asyncio
>>> def double(x):
...     return 2 * x
>>> asyncio.run(run_async(double, 21))
42
"""
from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Callable, TypeVar

from greenlet import getcurrent, greenlet

__all__ = ["run_async", "await_only", "bridged", "running_task"]

T = TypeVar("T")


class _Bridged(greenlet):
    """A greenlet running one operation for a task: its sends are awaited by the task."""

    def __init__(self, fn: Callable[..., Any], task_greenlet: greenlet, task: Any) -> None:
        super().__init__(fn, task_greenlet)
        self.gr_context = task_greenlet.gr_context
        #: the task it runs for, looked up once (:func:`running_task`)
        self.task = task


def bridged() -> bool:
    """Whether the calling code runs inside :func:`run_async` (its sends are then awaited by a task)."""
    return isinstance(getcurrent(), _Bridged)


def running_task() -> Any:
    """The asyncio task the calling code runs in, None outside one (no event loop running in this
    thread). For an operation run by :func:`run_async`, the task it runs for, looked up once per
    operation: the identity map asks at every instance it hands out (``identity.current_session``)."""
    if asyncio.events._get_running_loop() is None:  # sync code: as cheap as it was before the async API
        return None
    current = getcurrent()
    return current.task if type(current) is _Bridged else asyncio.current_task()


def await_only(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` from sync code run by :func:`run_async`: the task awaits it on the event
    loop, and this returns its result (or raises what it raised)."""
    current = getcurrent()
    if not isinstance(current, _Bridged):
        raise RuntimeError("await_only() is for code run by leanorm.aio.run_async()")
    return current.parent.switch(awaitable)


async def run_async(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run the sync ``fn(*args, **kwargs)`` for the calling task, awaiting each send it makes."""
    child = _Bridged(fn, getcurrent(), asyncio.current_task())
    result: Any = child.switch(*args, **kwargs)
    while not child.dead:
        try:
            value = await result
        except BaseException:  # the send failed, or the task was cancelled: the operation sees it there
            result = child.throw(*sys.exc_info())
        else:
            result = child.switch(value)
    return result
