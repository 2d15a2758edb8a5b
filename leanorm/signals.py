"""blinker signals around every write, mirroring the server's hooks.

The sender is the model class; receivers get the instance as ``instance=``. An exception raised by a
``before_*`` receiver aborts the write before any request is sent. Bulk and queryset writes send them
once per object.

The async API's operations send the same signals (they run the same code: ``leanorm.aio``). A receiver
may be a coroutine function: an async operation awaits it on its event loop; a sync operation runs it
to its end with ``asyncio.run``, in a helper thread when its own thread runs an event loop (sync code
called from a coroutine, which blocks that loop until it returns anyway).

>>> from leanorm import signals
>>> @signals.before_save.connect
... def stamp(sender, instance, **kw):
...     pass
"""
from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Coroutine, List, Optional, Tuple

from blinker import Signal

from .aio import await_only, bridged

__all__ = ["before_save", "after_save", "before_update", "after_update", "before_delete", "after_delete",
           "post_init", "logged_in", "logged_out", "remote_saved", "remote_deleted", "remote_missed"]



def _run_coroutine(receiver: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    """A coroutine receiver as the sync call blinker makes: awaited by the async operation sending it,
    else run to its end on an event loop of its own."""
    def call(*args: Any, **kwargs: Any) -> Any:
        if bridged():
            return await_only(receiver(*args, **kwargs))
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(receiver(*args, **kwargs))
        # sync code called from a coroutine: it blocks this thread's loop until it returns, so the receiver
        # gets a loop of its own in a helper thread (with the caller's context: its client, its auth)
        with ThreadPoolExecutor(1, "leanorm-signal") as helper:
            return helper.submit(contextvars.copy_context().run, asyncio.run, receiver(*args, **kwargs)).result()
    return call


def _awaitable(receiver: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A sync receiver as the coroutine ``send_async`` awaits: called on the loop, as it is written."""
    async def call(*args: Any, **kwargs: Any) -> Any:
        return receiver(*args, **kwargs)
    return call


class _Signal(Signal):
    """A blinker signal whose coroutine receivers are awaited (see the module's docstring)."""

    async def send_async(self, sender: Optional[Any] = None, /, *,
                         _sync_wrapper: Optional[Callable[[Callable[..., Any]],
                                                          Callable[..., Coroutine[Any, Any, Any]]]] = None,
                         **kwargs: Any) -> List[Tuple[Callable[..., Any], Any]]:
        """Send from a coroutine: coroutine receivers awaited on its loop, sync ones called there."""
        return await super().send_async(sender, _sync_wrapper=_sync_wrapper or _awaitable, **kwargs)

    def send(self, sender: Optional[Any] = None, /, *,
             _async_wrapper: Optional[Callable[[Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]]] = None,
             **kwargs: Any) -> List[Tuple[Callable[..., Any], Any]]:
        return super().send(sender, _async_wrapper=_async_wrapper or _run_coroutine, **kwargs)


#: before a new object is created (``instance=``)
before_save = _Signal("before_save")
#: after a new object was created
after_save = _Signal("after_save")
#: before an existing object is updated (``instance=``, ``changed=`` the wire keys being sent)
before_update = _Signal("before_update")
#: after an existing object was updated
after_update = _Signal("after_update")
#: before an object is deleted
before_delete = _Signal("before_delete")
#: after an object was deleted
after_delete = _Signal("after_delete")
#: after an instance was built, by user code or from a backend answer
post_init = _Signal("post_init")
#: a user got a new session (signup, login, become, refresh_session_token): ``instance=`` the user,
#: carrying its session token
logged_in = _Signal("logged_in")
#: a user's session ended (``instance=``, ``session_token=`` the token that ended)
logged_out = _Signal("logged_out")

# Remote changes (docs/live.md): sent by ``leanorm.live.listen`` for changes any client made (another
# process, a mobile app), as a live query of the model reports them; sent from the listener's task.
#: an object was created or changed: ``instance=`` it now, ``original=`` it before (None for a create),
#: ``kind=`` the live event's kind (``create``, ``enter``, ``update``, ``leave``)
remote_saved = _Signal("remote_saved")
#: an object was deleted (``instance=`` its last state)
remote_deleted = _Signal("remote_deleted")
#: the listener was cut off and is live again: changes from ``since=`` to ``until=`` were not heard
remote_missed = _Signal("remote_missed")
