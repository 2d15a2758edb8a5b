"""Live queries and remote signals (docs/live.md).

``Post.objects.filter(...).live()`` is the live query itself (``leanorm.query.live``); this module
turns one into signals: :func:`listen` subscribes and then, in a task of its own, sends
``signals.remote_saved`` / ``remote_deleted`` for every change any client makes, and
``signals.remote_missed`` after a reconnection, so an app connects receivers to changes made elsewhere
as it does to its own writes.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional, Sequence, Type, Union

from . import signals
from .live_session import Backoff
from .models import Model
from .query.live import EventKind, LiveEvent, LiveQuery, MissedChanges
from .query.queryset import QuerySet

__all__ = ["listen", "LiveEvent", "LiveQuery", "MissedChanges", "EventKind", "Backoff"]


async def listen(source: Union[Type[Model], "QuerySet[Any]"], *, watch: Sequence[str] = (),
                 url: Optional[str] = None) -> "asyncio.Task[None]":
    """Subscribe to ``source`` (a model: all its objects the caller may read; or a queryset) and relay
    its changes as remote signals, sender the model, in a task; returns once subscribed (changes made
    from then on are heard), with the task (cancel it to stop). Receivers run in that task, in the
    order of the changes: a coroutine receiver is awaited, a sync one called on the loop. The task ends
    with the live query's error if the server refuses it."""
    queryset = source if isinstance(source, QuerySet) else source.objects.all()
    live = await queryset.live(watch=watch, url=url)
    return asyncio.ensure_future(_relay(live))


async def _relay(live: "LiveQuery[Any]") -> None:
    sender = live.model
    async for event in live:
        if isinstance(event, MissedChanges):
            await signals.remote_missed.send_async(sender, since=event.since, until=event.until, reason=event.reason)
        elif event.kind == "delete":
            await signals.remote_deleted.send_async(sender, instance=event.instance)
        else:
            await signals.remote_saved.send_async(sender, instance=event.instance, original=event.original,
                                                  kind=event.kind)
