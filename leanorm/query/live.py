"""Live queries: a queryset's changes as they happen, as typed events (docs/live.md).

``QuerySet.live()`` makes a :class:`LiveQuery`. It subscribes (``await``, ``async with``, or the first
step of ``async for``) with the queryset's compiled ``where`` (the compiler ``filter()`` uses), its
``only()`` fields as the event's keys, and the caller's auth (``live_session.session_for``); each event
becomes a :class:`LiveEvent` whose instance is built by ``Model._from_wire`` (the identity-mapped
instance of the consuming task's unit of work, refreshed in place; the ``original`` a snapshot), and each
reconnection a :class:`MissedChanges`.
"""
from __future__ import annotations

import datetime
from typing import (TYPE_CHECKING, Any, AsyncIterator, Generator, Generic, List, Optional, Sequence, Type, TypeVar,
                    Union)

from typing_extensions import Literal

from ..errors import NotSupported
from ..live_session import Gap, Subscription, session_for
from ..protocol.livequery import unmatchable
from .compiler import resolve_field

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import Model
    from .queryset import QuerySet

__all__ = ["LiveEvent", "MissedChanges", "LiveQuery", "EventKind", "LIVE_ANY_WHERE"]

M = TypeVar("M", bound="Model")

#: the capability of a backend whose LiveQuery server evaluates every ``where`` a find takes (the embedded
#: server: docs/live.md, Limitations)
LIVE_ANY_WHERE = "live_any_where"

#: what happened to an object, as the query sees it
EventKind = Literal["create", "enter", "update", "leave", "delete"]


class LiveEvent(Generic[M]):
    """One change: ``kind`` (``create``: a new object that matches; ``enter``: an object that came to
    match; ``update``: a matching object changed; ``leave``: it no longer matches, or the caller may no
    longer read it; ``delete``), ``instance`` the object after it, ``original`` the object before it when
    the server sends it (a snapshot, not identity-mapped)."""

    __slots__ = ("kind", "instance", "original")

    def __init__(self, kind: EventKind, instance: M, original: Optional[M]) -> None:
        self.kind: EventKind = kind
        self.instance = instance
        self.original = original

    def __repr__(self) -> str:
        return f"<LiveEvent {self.kind} {self.instance!r}>"


class MissedChanges:
    """The live query was cut off from ``since`` to ``until`` (``reason`` says why) and is live again:
    changes made in between were not delivered, and are not replayed. Read the query again to catch up."""

    __slots__ = ("since", "until", "reason")
    kind: Literal["reconnected"] = "reconnected"

    def __init__(self, since: datetime.datetime, until: datetime.datetime, reason: str) -> None:
        self.since = since
        self.until = until
        self.reason = reason

    def __repr__(self) -> str:
        return f"<MissedChanges {self.since.isoformat()} .. {self.until.isoformat()}: {self.reason}>"


class LiveQuery(Generic[M]):
    """A queryset's live changes (see the module's docstring). ``await live_query`` subscribes and
    returns it (so changes made after that are seen); ``async for`` subscribes first if needed;
    ``close()`` (or leaving ``async with``, or a loop that ended) unsubscribes."""

    def __init__(self, queryset: "QuerySet[M]", watch: Sequence[str] = (), url: Optional[str] = None) -> None:
        model = queryset.model
        client = queryset.client
        for what, present in (("a sliced queryset", queryset._sliced()), ("select_related()", queryset._related),
                              ("prefetch_related()", queryset._prefetch), ("none()", queryset._none)):
            if present:
                raise NotSupported(f"live() of {what}", None, "a live query sends the changes of objects that "
                                   "match a filter, one object at a time")
        where = queryset.where(client)
        # a LiveQuery server evaluates the where itself; unless the client's own server says it takes
        # any (``live_any_where``), only what Parse's matcher evaluates is sent: the rest would match
        # nothing there, silently
        problem = None if url is None and client.supports(LIVE_ANY_WHERE) else unmatchable(where)
        if problem:
            raise NotSupported(f"live() with {problem}", None, "a LiveQuery server matches changes against the "
                               "filter itself and cannot evaluate it (docs/live.md, Limitations)")
        self.model = model
        self.client: "Client" = client
        self.where = where
        #: the wire keys events carry (``only()``), or None for whole objects
        self.keys: Optional[List[str]] = (None if queryset._only is None else
                                          [resolve_field(model, n).db_field for n in queryset._only])
        self.watch = [resolve_field(model, n).db_field for n in watch]
        self.url = url
        self._subscription: Optional[Subscription] = None
        self._scope: Optional[str] = None

    async def subscribe(self) -> "LiveQuery[M]":
        """Subscribe (once): when this returns, the server sends every later change the query sees."""
        if self._subscription is None:
            session = session_for(self.client, self.url)
            self._scope = self.client.auth_identity()
            self._subscription = await session.subscribe(self.model._meta.class_name, self.where, self.keys,
                                                         self.watch)
        return self

    def __await__(self) -> Generator[Any, None, "LiveQuery[M]"]:
        return self.subscribe().__await__()

    async def __aenter__(self) -> "LiveQuery[M]":
        return await self.subscribe()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Union[LiveEvent[M], MissedChanges]]:
        return self._events()

    async def _events(self) -> AsyncIterator[Union[LiveEvent[M], MissedChanges]]:
        await self.subscribe()
        try:
            while True:
                yield await self.next()
        finally:
            await self.close()

    async def next(self) -> Union[LiveEvent[M], MissedChanges]:
        """The next event (subscribing first if needed)."""
        await self.subscribe()
        assert self._subscription is not None
        item = await self._subscription.next()
        if isinstance(item, Gap):
            return MissedChanges(item.since, item.until, item.reason)
        model: Type[M] = self.model
        partial = self.keys is not None
        instance = model._from_wire(item.object, self.client, partial=partial, scope=self._scope)
        original = None if item.original is None else model._from_wire(item.original, None, partial=partial)
        if item.kind == "delete" and instance.id is not None:
            self.client.identity_map.discard(model._meta.class_name, instance.id)  # as after delete()
        kind: Any = item.kind
        return LiveEvent(kind, instance, original)

    async def close(self) -> None:
        """Unsubscribe (the connection closes with its last live query)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.close()
