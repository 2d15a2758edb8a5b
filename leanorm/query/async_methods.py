"""The async half of :class:`~leanorm.query.queryset.QuerySet`: Django's ``a*`` methods and ``async for``.

Each is its sync twin run by :func:`leanorm.aio.run_async`: the same request building, paging, decoding
and batching, with the sends awaited on the event loop (docs/async.md). A base class of QuerySet of its
own, so that the sync methods' module stays as it is.
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, AsyncIterator, Dict, Generic, Iterable, List, Optional, Sequence, Tuple,
                    TypeVar)

from ..aio import run_async
from .q import Q

if TYPE_CHECKING:  # pragma: no cover
    from ..models import Model
    from .queryset import QuerySet

__all__ = ["AsyncQuerySetMethods"]

M = TypeVar("M", bound="Model")


class AsyncQuerySetMethods(Generic[M]):
    """``await qs.aget(...)``, ``acount()``, ``afirst()``... and ``async for obj in qs``."""

    async def aget(self: "QuerySet[M]", *conditions: Q, **lookups: Any) -> M:
        """:meth:`~QuerySet.get` from async code."""
        return await run_async(self.get, *conditions, **lookups)

    async def afirst(self: "QuerySet[M]") -> Optional[M]:
        """:meth:`~QuerySet.first` from async code."""
        return await run_async(self.first)

    async def alast(self: "QuerySet[M]") -> Optional[M]:
        """:meth:`~QuerySet.last` from async code."""
        return await run_async(self.last)

    async def acount(self: "QuerySet[M]") -> int:
        """:meth:`~QuerySet.count` from async code."""
        return await run_async(self.count)

    async def aexists(self: "QuerySet[M]") -> bool:
        """:meth:`~QuerySet.exists` from async code."""
        return await run_async(self.exists)

    async def ain_bulk(self: "QuerySet[M]", ids: Optional[Iterable[str]] = None) -> Dict[str, M]:
        """:meth:`~QuerySet.in_bulk` from async code."""
        return await run_async(self.in_bulk, ids)

    async def acreate(self: "QuerySet[M]", **values: Any) -> M:
        """:meth:`~QuerySet.create` from async code."""
        return await run_async(self.create, **values)

    async def aget_or_create(self: "QuerySet[M]", defaults: Optional[Dict[str, Any]] = None,
                             **lookups: Any) -> Tuple[M, bool]:
        """:meth:`~QuerySet.get_or_create` from async code."""
        return await run_async(self.get_or_create, defaults, **lookups)

    async def aupdate_or_create(self: "QuerySet[M]", defaults: Optional[Dict[str, Any]] = None,
                                **lookups: Any) -> Tuple[M, bool]:
        """:meth:`~QuerySet.update_or_create` from async code."""
        return await run_async(self.update_or_create, defaults, **lookups)

    async def abulk_create(self: "QuerySet[M]", objs: Sequence[M], batch_size: Optional[int] = None,
                           client_ids: Optional[bool] = None) -> List[M]:
        """:meth:`~QuerySet.bulk_create` from async code."""
        return await run_async(self.bulk_create, objs, batch_size, client_ids)

    async def aupdate(self: "QuerySet[M]", **values: Any) -> int:
        """:meth:`~QuerySet.update` from async code."""
        return await run_async(self.update, **values)

    async def adelete(self: "QuerySet[M]") -> int:
        """:meth:`~QuerySet.delete` from async code."""
        return await run_async(self.delete)

    def __aiter__(self: "QuerySet[M]") -> AsyncIterator[M]:
        """``async for obj in qs``: the results are fetched (and cached on the queryset) as by ``for``."""
        return _cached_results(self)

    async def aiterator(self: "QuerySet[M]", chunk_size: int = 1000) -> AsyncIterator[M]:
        """:meth:`~QuerySet.iterator` from async code: a request per ``chunk_size`` objects, each awaited
        when the objects before it have been consumed."""
        chunks = self._chunks(chunk_size)
        while True:
            chunk = await run_async(next, chunks, None)
            if chunk is None:
                return
            for obj in chunk:
                yield obj


async def _cached_results(qs: "QuerySet[M]") -> AsyncIterator[M]:
    for obj in await run_async(qs._fetch_all):
        yield obj
