"""Lazy, chainable QuerySets.

A QuerySet is a description (where tree, order, slice, keys, includes) plus a result cache. Chaining
returns a new QuerySet; nothing is sent until results are needed. Each evaluation costs a known number
of round trips: one per page of ``max_limit`` objects for a plain query, one per batch of up to
``batch_limit`` writes for ``bulk_create``/``update``/``delete``.
"""
from __future__ import annotations

import functools
import time

from typing import (TYPE_CHECKING, Any, Dict, Generic, Iterable, Iterator, List, NoReturn, Optional, Sequence, Tuple,
                    Type, TypeVar, Union, cast, overload)
from typing import AsyncIterator

from typing_extensions import Literal, Self

from .. import signals, transactions
from ..aio import run_async
from ..config import get_client
from ..errors import (BulkWriteError, DuplicateValue, FieldError, LeanORMError, NotSent,
                      NotSupported, OutcomeUnknown, ValidationError)
from ..fields import Field, PointerField
from ..operations import F, Operation, check_assignment
from ..protocol.encoding import encode
from ..protocol.encoding import pointer as wire_pointer
from ..registry import registry
from ..relations import RelationField, prefetch_relation
from .aggregates import (Aggregate, check_endpoint, check_pipeline, distinct_values, group_stage, named,
                         run_pipeline)
from .compiler import compile_order, compile_where, merge_and, resolve_field, resolve_path
from .live import LiveQuery
from .lookups import CompileContext
from .manager import Manager
from .q import Q
from .values import ValuesQuery, plain_value as _plain_value

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import Model

__all__ = ["QuerySet", "CQLResult"]

M = TypeVar("M", bound="Model")


def _walk_leaves(q: Q) -> Iterator[Tuple[str, Any]]:
    for child in q.children:
        if isinstance(child, Q):
            yield from _walk_leaves(child)
        else:
            yield child


class QuerySet(Generic[M]):
    """A lazy query over one model. Build with ``Model.objects``; see docs/querying.md."""

    def __init__(self, model: Type[M], client: Optional["Client"] = None) -> None:
        self.model = model
        self._client = client
        self._where = Q()
        self._order: Tuple[str, ...] = ()
        self._low = 0
        self._high: Optional[int] = None
        self._only: Optional[Tuple[str, ...]] = None
        self._related: Tuple[str, ...] = ()
        self._prefetch: Tuple[str, ...] = ()
        self._none = False
        self._extra: Tuple[Dict[str, Any], ...] = ()
        self._result_cache: Optional[List[M]] = None

    @classmethod
    def as_manager(cls) -> "Manager[Self]":
        """A manager handing out querysets of this class (``objects = PostQuerySet.as_manager()``)."""
        return Manager(cls)

    # -- building ---------------------------------------------------------------------------------------
    def _clone(self) -> Self:
        qs = type(self).__new__(type(self))
        qs.__dict__.update(self.__dict__)
        qs._result_cache = None
        return qs

    @property
    def client(self) -> "Client":
        """The client this queryset sends through (``using()``'s, else the current default)."""
        return get_client(self._client)

    def using(self, client: "Client") -> Self:
        """The same query against another backend."""
        qs = self._clone()
        qs._client = client
        return qs

    def _sliced(self) -> bool:
        return self._low != 0 or self._high is not None

    def _check_not_sliced(self, what: str) -> None:
        if self._sliced():
            raise TypeError(f"cannot {what} a queryset once it has been sliced")

    def _check(self, q: Q) -> Q:
        # resolve every path and prepare every value now, so mistakes raise at filter() time, not later
        for path, value in _walk_leaves(q):
            if isinstance(value, (F, Operation)):
                raise NotSupported(f"filtering {path!r} by {value!r}", None, "a query compares a field with "
                                   "values, never with another field of the same object")
            resolved = resolve_path(self.model, path)
            resolved.lookup.prepare(resolved.field, value)
        return q

    def all(self) -> Self:
        """A copy of this queryset (fresh result cache)."""
        return self._clone()

    def filter(self, *conditions: Q, **lookups: Any) -> Self:
        """Objects matching every lookup (``score__gte=10``) and every ``Q``."""
        self._check_not_sliced("filter")
        qs = self._clone()
        qs._where = self._where & self._check(Q(*conditions, **lookups))
        return qs

    def exclude(self, *conditions: Q, **lookups: Any) -> Self:
        """Objects NOT matching the lookups taken together (missing values count as not matching)."""
        self._check_not_sliced("exclude from")
        qs = self._clone()
        qs._where = self._where & ~self._check(Q(*conditions, **lookups))
        return qs

    def order_by(self, *names: str) -> Self:
        """Order by fields, ``-`` for descending: ``order_by("-score", "title")``."""
        self._check_not_sliced("reorder")
        compile_order(self.model, names)  # raises FieldError now for an unknown name
        qs = self._clone()
        qs._order = tuple(names)
        return qs

    def reverse(self) -> Self:
        """The same query in the opposite order (by id when unordered)."""
        names = self._order or ("id",)
        return self.order_by(*(n[1:] if n.startswith("-") else "-" + n for n in names))

    def select_related(self, *paths: str) -> Self:
        """Fetch pointed objects in the same request (``include``): ``select_related("author__org")``, and
        files (``select_related("attachment")`` of a FileField, as the SDK's ``include`` of a file field).
        With no argument: every pointer field of the model."""
        if not paths:
            paths = tuple(n for n, f in self.model._meta.fields.items() if isinstance(f, PointerField))
        for path in paths:
            model: Type[Model] = self.model
            names = path.split("__")
            for depth, name in enumerate(names, 1):
                field = resolve_field(model, name)
                if isinstance(field, PointerField):
                    model = field.target
                elif not (field.includable and depth == len(names)):
                    raise FieldError(f"select_related({path!r}): {name!r} is not a PointerField or FileField")
        qs = self._clone()
        qs._related = tuple(dict.fromkeys(self._related + paths))
        return qs

    def prefetch_related(self, *names: str) -> Self:
        """Load the members of these RelationFields with the results: ``obj.readers.all()`` then sends
        nothing. One batch request per ``batch_limit`` objects (a ``$relatedTo`` query for each), not
        one request per object; owners with ``max_limit`` or more members are paged in further batches."""
        for name in names:
            if not isinstance(resolve_field(self.model, name), RelationField):
                raise FieldError(f"prefetch_related({name!r}): it is not a RelationField")
        qs = self._clone()
        qs._prefetch = tuple(dict.fromkeys(self._prefetch + names))
        return qs

    def only(self, *names: str) -> Self:
        """Fetch only these fields (``keys``); others load on first access, in one request per object."""
        for name in names:
            resolve_field(self.model, name)
        qs = self._clone()
        qs._only = tuple(names)
        return qs

    def related_to(self, owner: "Model", key: str) -> Self:
        """Objects in the relation ``key`` of ``owner`` (the protocol's ``$relatedTo``)."""
        if owner.id is None:
            raise ValueError(f"{owner!r} is not saved: it has no relation members yet")
        pointer = wire_pointer(owner._meta.class_name, owner.id)
        qs = self._clone()
        qs._extra = self._extra + ({"$relatedTo": {"object": pointer, "key": key}},)
        return qs

    def none(self) -> Self:
        """A queryset that matches nothing and sends nothing."""
        qs = self._clone()
        qs._none = True
        return qs

    def defer(self, *names: str) -> Self:
        """Fetch every field but these (``only()`` of the others); they load on first access."""
        for name in names:
            resolve_field(self.model, name)
        return self.only(*[n for n in self.model._meta.fields if n not in names])

    def _combined(self, others: Sequence["QuerySet[M]"], how: str) -> Self:
        """This queryset with ``others`` combined into its filter (``union``: OR, ``intersection``: AND,
        ``difference``: AND NOT); an empty filter matches everything."""
        every: List["QuerySet[M]"] = [self, *others]
        for other in every:
            if other.model is not self.model or other._sliced() or other._extra:
                raise NotSupported(f"{how} of these querysets", None, "it maps to $or/$and of the filters "
                                   "of unsliced querysets of one model (without related_to)")
        qs = self._clone()
        if how == "union":
            parts = [q for q in every if not q._none]
            qs._none = not parts
            qs._where = Q() if any(not q._where for q in parts) else Q(*[q._where for q in parts], _connector=Q.OR)
        elif how == "intersection":
            qs._none = any(q._none for q in every)
            for other in others:
                qs._where = qs._where & other._where
        else:
            for other in others:
                if not other._none:
                    qs._none = qs._none or not other._where
                    qs._where = qs._where & ~other._where
        return qs

    def union(self, *others: "QuerySet[M]") -> Self:
        """Objects matching this queryset or any of ``others``: one query, ``$or`` of their filters (so
        unlike SQL's UNION, the result is a full queryset: filter, order and slice it further)."""
        return self._combined(others, "union")

    def intersection(self, *others: "QuerySet[M]") -> Self:
        """Objects matching this queryset and every one of ``others`` (the AND of their filters)."""
        return self._combined(others, "intersection")

    def difference(self, *others: "QuerySet[M]") -> Self:
        """Objects matching this queryset and none of ``others`` (AND NOT of their filters)."""
        return self._combined(others, "difference")

    def __or__(self, other: "QuerySet[M]") -> Self:
        """``qs1 | qs2``: :meth:`union`."""
        return self.union(other)

    def __and__(self, other: "QuerySet[M]") -> Self:
        """``qs1 & qs2``: :meth:`intersection`."""
        return self.intersection(other)

    # -- compiling --------------------------------------------------------------------------------------
    def _ctx(self, client: "Client") -> CompileContext:
        return CompileContext(client.dialect, client.backend, client.capabilities)

    def where(self, client: Optional["Client"] = None) -> Dict[str, Any]:
        """The compiled ``where`` JSON of this queryset."""
        return self._compiled(self._ctx(client or self.client))

    def _compiled(self, ctx: CompileContext) -> Dict[str, Any]:
        where = compile_where(self.model, self._where, ctx)
        return merge_and([where, *self._extra]) if self._extra else where

    def subquery(self, ctx: CompileContext) -> Dict[str, Any]:
        """This queryset as the inner query of ``$inQuery``/``$notInQuery`` (``pointer__in=queryset``)."""
        self._check_not_sliced("a queryset used inside a filter")
        return {"where": self._compiled(ctx), "className": self.model._meta.class_name}

    def _params(self, client: "Client") -> Dict[str, Any]:
        params: Dict[str, Any] = {}
        where = self.where(client)
        if where:
            params["where"] = where
        if self._order:
            params["order"] = compile_order(self.model, self._order)
        if self._related:
            params["include"] = ",".join(p.replace("__", ".") for p in self._related)
        if self._only is not None:
            keys = [resolve_field(self.model, n).db_field for n in self._only]
            keys += [resolve_field(self.model, p.split("__")[0]).db_field for p in self._related]
            params["keys"] = ",".join(dict.fromkeys(keys))
        return params

    def explain(self) -> Dict[str, Any]:
        """The protocol parameters this queryset sends (for debugging and docs)."""
        params = self._params(self.client)
        if self._sliced():
            params["skip"] = self._low
            if self._high is not None:
                params["limit"] = self._high - self._low
        return params

    # -- fetching ---------------------------------------------------------------------------------------
    def _decode(self, rows: Iterable[Dict[str, Any]], client: "Client") -> List[M]:
        rows = rows if isinstance(rows, list) else list(rows)
        return self.model._from_wire_many(rows, client, self._only is not None)

    def _pages(self, client: "Client", params: Dict[str, Any]) -> Iterator[List[Dict[str, Any]]]:
        """Raw result pages for this queryset's slice (pages of at most the backend's limit)."""
        path = f"classes/{self.model._meta.class_name}"
        wanted = None if self._high is None else self._high - self._low
        skip, seen = self._low, 0
        page = client.dialect.max_limit
        while wanted is None or seen < wanted:
            n = page if wanted is None else min(page, wanted - seen)
            query = dict(params, limit=str(n))
            if skip:
                query["skip"] = str(skip)
            rows = client.request("GET", path, query).get("results", [])
            yield rows
            seen += len(rows)
            skip += len(rows)
            if len(rows) < n:
                break

    def _fetch_all(self) -> List[M]:
        if self._result_cache is None:
            if self._none:
                self._result_cache = []
            else:
                client = self.client
                params = self._params(client)
                results: List[M] = []
                for rows in self._pages(client, params):
                    results.extend(self._decode(rows, client))
                for name in self._prefetch:
                    prefetch_relation(client, results, name)
                self._result_cache = results
        return self._result_cache

    def __iter__(self) -> Iterator[M]:
        return iter(self._fetch_all())

    def __len__(self) -> int:
        return len(self._fetch_all())

    def __bool__(self) -> bool:
        return bool(self._fetch_all())

    @overload
    def __getitem__(self, key: int) -> M: ...
    @overload
    def __getitem__(self, key: slice) -> Self: ...

    def __getitem__(self, key: Union[int, slice]) -> Union[M, Self]:
        if self._result_cache is not None:
            return self._result_cache[key]  # type: ignore[return-value]
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise ValueError("slicing with a step is not supported")
            start, stop = key.start or 0, key.stop
            if start < 0 or (stop is not None and stop < 0):
                raise ValueError("negative indexing is not supported")
            qs = self._clone()
            qs._low = self._low + start
            qs._high = self._low + stop if stop is not None else self._high
            if self._high is not None and qs._high is not None:
                qs._high = min(qs._high, self._high)
            if qs._high is not None and qs._high < qs._low:
                qs._high = qs._low
            return qs
        if not isinstance(key, int):
            raise TypeError(f"queryset indices must be integers or slices, not {type(key).__name__}")
        if key < 0:
            raise ValueError("negative indexing is not supported")
        found = list(self[key:key + 1])
        if not found:
            raise IndexError("queryset index out of range")
        return found[0]

    def __repr__(self) -> str:
        items = list(self[:21]) if self._result_cache is None else self._result_cache[:21]
        shown = ", ".join(repr(i) for i in items[:20]) + (", ..." if len(items) > 20 else "")
        return f"<QuerySet [{shown}]>"

    # -- live (docs/live.md) ---------------------------------------------------------------------------
    def live(self, *, watch: Sequence[str] = (), url: Optional[str] = None) -> "LiveQuery[M]":
        """This query's changes as they happen: ``async for event in qs.live()`` yields a
        :class:`~leanorm.query.live.LiveEvent` per change (``kind``, ``instance``, ``original``) and a
        :class:`~leanorm.query.live.MissedChanges` after each reconnection. ``only()`` limits the fields
        events carry; ``watch`` (field names) reports updates only when one of them changed; ``url`` is
        the LiveQuery server's ``ws://``/``wss://`` URL when the client's (``connect(live_url=...)``) is
        not the one. ``await qs.live()`` subscribes and returns the live query."""
        return LiveQuery(self, watch, url)

    # -- async (docs/async.md): the methods of the same names run by leanorm.aio, sends awaited ----------
    async def aget(self, *conditions: Q, **lookups: Any) -> M:
        """:meth:`get` from async code."""
        return await run_async(self.get, *conditions, **lookups)

    async def afirst(self) -> Optional[M]:
        """:meth:`first` from async code."""
        return await run_async(self.first)

    async def alast(self) -> Optional[M]:
        """:meth:`last` from async code."""
        return await run_async(self.last)

    async def acount(self) -> int:
        """:meth:`count` from async code."""
        return await run_async(self.count)

    async def aexists(self) -> bool:
        """:meth:`exists` from async code."""
        return await run_async(self.exists)

    async def ain_bulk(self, ids: Optional[Iterable[str]] = None) -> Dict[str, M]:
        """:meth:`in_bulk` from async code."""
        return await run_async(self.in_bulk, ids)

    async def avalues(self, *names: str) -> List[Dict[str, Any]]:
        """:meth:`values` from async code, evaluated (``values()`` itself is lazy)."""
        return await run_async(lambda: list(self.values(*names)))

    @overload
    async def avalues_list(self, name: str, /, *, flat: Literal[True]) -> List[Any]: ...
    @overload
    async def avalues_list(self, *names: str, flat: Literal[False] = False) -> List[Tuple[Any, ...]]: ...

    async def avalues_list(self, *names: str, flat: bool = False) -> List[Any]:
        """:meth:`values_list` from async code (typed as it: tuples, or the values with ``flat=True``)."""
        return await run_async(self.values_list, *names, flat=flat)

    async def aearliest(self, *fields: str) -> M:
        """:meth:`earliest` from async code."""
        return await run_async(self.earliest, *fields)

    async def alatest(self, *fields: str) -> M:
        """:meth:`latest` from async code."""
        return await run_async(self.latest, *fields)

    async def acontains(self, obj: M) -> bool:
        """:meth:`contains` from async code."""
        return await run_async(self.contains, obj)

    async def aaggregate(self, *positional: Aggregate, **aggregates: Aggregate) -> Dict[str, Any]:
        """:meth:`aggregate` from async code: ``{name: value}`` of each aggregate given."""
        return await run_async(self.aggregate, *positional, **aggregates)

    async def adistinct(self, field: str) -> List[Any]:
        """:meth:`distinct` from async code."""
        return await run_async(self.distinct, field)

    async def acreate(self, **values: Any) -> M:
        """:meth:`create` from async code."""
        return await run_async(self.create, **values)

    async def aget_or_create(self, defaults: Optional[Dict[str, Any]] = None,
                             **lookups: Any) -> Tuple[M, bool]:
        """:meth:`get_or_create` from async code."""
        return await run_async(self.get_or_create, defaults, **lookups)

    async def aupdate_or_create(self, defaults: Optional[Dict[str, Any]] = None,
                                **lookups: Any) -> Tuple[M, bool]:
        """:meth:`update_or_create` from async code."""
        return await run_async(self.update_or_create, defaults, **lookups)

    async def abulk_create(self, objs: Sequence[M], batch_size: Optional[int] = None,
                           client_ids: Optional[bool] = None) -> List[M]:
        """:meth:`bulk_create` from async code."""
        return await run_async(self.bulk_create, objs, batch_size, client_ids)

    async def abulk_update(self, objs: Sequence[M], fields: Sequence[str], batch_size: Optional[int] = None) -> int:
        """:meth:`bulk_update` from async code."""
        return await run_async(self.bulk_update, objs, fields, batch_size)

    async def aupdate(self, **values: Any) -> int:
        """:meth:`update` from async code."""
        return await run_async(self.update, **values)

    async def adelete(self) -> int:
        """:meth:`delete` from async code."""
        return await run_async(self.delete)

    def __aiter__(self) -> AsyncIterator[M]:
        """``async for obj in qs``: the results are fetched (and cached on the queryset) as by ``for``."""
        return _cached_results(self)

    async def aiterator(self, chunk_size: int = 1000) -> AsyncIterator[M]:
        """:meth:`iterator` from async code: a request per ``chunk_size`` objects, each awaited
        when the objects before it have been consumed."""
        chunks = self._chunks(chunk_size)
        while True:
            chunk = await run_async(next, chunks, None)
            if chunk is None:
                return
            for obj in chunk:
                yield obj

    # -- single objects and aggregates -------------------------------------------------------------------
    def _identity_shortcut(self, conditions: Tuple[Q, ...], lookups: Dict[str, Any]) -> Optional[M]:
        """The fresh identity-mapped instance for a plain ``get(id=...)``, if there is one."""
        if (conditions or len(lookups) != 1 or self._where or self._only is not None or self._related
                or self._sliced() or self._none or self._extra):
            return None
        (name, value), = lookups.items()
        if name not in ("id", "pk", "id__exact", "pk__exact") or not isinstance(value, str):
            return None
        client = self.client
        if not client.identity_map.enabled:
            return None
        scope = client.auth_identity()
        inst = client.identity_map.get(scope, self.model._meta.class_name, value)
        # an instance loaded under another identity since it was mapped here is not this scope's
        return inst if type(inst) is self.model and inst._holds_all_read_by(client, scope) else None

    def get(self, *conditions: Q, **lookups: Any) -> M:
        """The one object matching; ``Model.DoesNotExist`` or ``Model.MultipleObjectsReturned`` otherwise.

        ``get(id=x)`` is answered from the identity map while the object's entry is fresh.
        """
        cached = self._identity_shortcut(conditions, lookups)
        if cached is not None:
            return cached
        qs = self.filter(*conditions, **lookups) if (conditions or lookups) else self
        found = list(qs[:2]) if not qs._sliced() else list(qs)[:2]
        if not found:
            raise self.model.DoesNotExist(101, f"{self.model.__name__} matching query does not exist")
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(f"get() matched more than one {self.model.__name__}")
        return found[0]

    def first(self) -> Optional[M]:
        """The first object (by id when unordered), or None."""
        qs = self if self._order else self.order_by("id")
        found = list(qs[:1])
        return found[0] if found else None

    def last(self) -> Optional[M]:
        """The last object (by id when unordered), or None."""
        found = list(self.reverse()[:1])
        return found[0] if found else None

    def earliest(self, *fields: str) -> M:
        """The first object ordered by ``fields`` (default ``created_at``); ``DoesNotExist`` if none."""
        found = self.order_by(*(fields or ("created_at",))).first()
        if found is None:
            raise self.model.DoesNotExist(101, f"{self.model.__name__} matching query does not exist")
        return found

    def latest(self, *fields: str) -> M:
        """The last object ordered by ``fields`` (default ``created_at``); ``DoesNotExist`` if none."""
        return self.earliest(*(f[1:] if f.startswith("-") else "-" + f for f in fields or ("created_at",)))

    def contains(self, obj: M) -> bool:
        """Whether ``obj`` (a saved instance of this model) is among the matching objects (one request
        for its id, or none once the results are cached)."""
        if not isinstance(obj, self.model):
            raise TypeError(f"contains() takes a {self.model.__name__}, not {type(obj).__name__}")
        if obj.id is None:
            raise ValueError("contains() needs a saved object")
        if self._result_cache is not None:
            return any(o.id == obj.id for o in self._result_cache)
        if self._sliced():
            return any(o.id == obj.id for o in self)
        return self.filter(id=obj.id).exists()

    def count(self) -> int:
        """How many objects match (one request with ``count=1&limit=0``; exact on every backend)."""
        if self._result_cache is not None:
            return len(self._result_cache)
        if self._none:
            return 0
        client = self.client
        params = self._params(client)
        params.pop("order", None)
        params.pop("include", None)
        params.pop("keys", None)
        params["where"] = client.dialect.count_where(params.get("where", {}))
        params.update(count="1", limit="0")
        total = int(client.request("GET", f"classes/{self.model._meta.class_name}", params)["count"])
        total = max(0, total - self._low)
        return total if self._high is None else min(total, self._high - self._low)

    def exists(self) -> bool:
        """Whether anything matches (fetches at most one objectId)."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        if self._none:
            return False
        client = self.client
        params = self._params(client)
        params.pop("include", None)
        params["keys"] = "objectId"
        params["limit"] = "1"
        if self._low:
            params["skip"] = str(self._low)
        if self._high is not None and self._high <= self._low:
            return False
        return bool(client.request("GET", f"classes/{self.model._meta.class_name}", params).get("results"))

    def values(self, *names: str) -> ValuesQuery:
        """Dicts of Python values (pointers as their objectId), fetching only those fields; a pointer's
        fields by ``author__name`` (one request: ``include``). Lazy; ``annotate()`` groups them (see
        :class:`~leanorm.query.values.ValuesQuery`)."""
        return ValuesQuery(self, names)

    def aggregate(self, *positional: Aggregate, **aggregates: Aggregate) -> Dict[str, Any]:
        """``{name: value}`` of each aggregate over the matching objects, computed by the server in one
        request (``aggregate(total=Sum("score"), n=Count("id"))``). Master key only on every backend that
        has it (inside ``leanorm.using_master()``); :class:`NotSupported` on LeanCloud. With nothing
        matching, a ``Count`` is 0 and the others are None. A positional aggregate is named as Django names
        it: ``aggregate(Sum("score"))`` is ``{"score__sum": ...}``."""
        self._check_not_sliced("aggregate")
        aggregates = named("aggregate", positional, aggregates)
        stage = group_stage(self.model, (), aggregates)
        if self._none:
            return {name: aggregate.empty for name, aggregate in aggregates.items()}
        client = self.client
        where = self.where(client)
        check_pipeline(client, where, grouped=False, having=False)
        pipeline = ([{"$match": where}] if where else []) + [{"$group": stage}]
        rows = run_pipeline(client, self.model._meta.class_name, pipeline)
        row = rows[0] if rows else None
        return {name: aggregate.value(self.model, row.get(name)) if row is not None else aggregate.empty
                for name, aggregate in aggregates.items()}

    def annotate(self, *positional: Aggregate, **aggregates: Aggregate) -> NoReturn:
        """Not on objects: Django's ``annotate()`` of each object has no protocol form (a query returns stored
        objects only). Raises :class:`NotSupported` saying so; group with ``values(...).annotate(...)``."""
        raise NotSupported("annotate() of each object", None, "a query returns stored objects only: group with "
                           "values('field').annotate(...), or aggregate() the whole queryset")

    def distinct(self, field: str) -> List[Any]:
        """The distinct values of ``field`` among the matching objects (a pointer as its objectId),
        computed by the server (master key only, as :meth:`aggregate`). Unlike Django's ``distinct()``
        it returns the values: objects of a query are distinct already."""
        self._check_not_sliced("take distinct values of")
        resolved = resolve_field(self.model, field)
        if self._none:
            return []
        client = self.client
        check_endpoint(client)
        values = distinct_values(client, self.model._meta.class_name, resolved, self.where(client))
        return [_plain_value(resolved, v) for v in values]

    @overload
    def values_list(self, name: str, /, *, flat: Literal[True]) -> List[Any]: ...
    @overload
    def values_list(self, *names: str, flat: Literal[False] = False) -> List[Tuple[Any, ...]]: ...

    def values_list(self, *names: str, flat: bool = False) -> List[Any]:
        """Tuples of values (``flat=True`` with one name: the values themselves)."""
        if flat and len(names) != 1:
            raise TypeError("values_list(flat=True) needs exactly one field name")
        rows = list(self.values(*names))
        keys = names or tuple(rows[0]) if rows else names
        if flat:
            return [r[names[0]] for r in rows]
        return [tuple(r[k] for k in keys) for r in rows]

    def in_bulk(self, ids: Optional[Iterable[str]] = None) -> Dict[str, M]:
        """``{id: object}`` for ``ids`` (all matching objects when None), ``$in`` chunks of the page size."""
        if ids is None:
            return {obj.id: obj for obj in self}  # type: ignore[misc]
        id_list = list(dict.fromkeys(ids))
        out: Dict[str, M] = {}
        step = self.client.dialect.max_limit
        for start in range(0, len(id_list), step):
            for obj in self.filter(id__in=id_list[start:start + step]):
                out[obj.id] = obj  # type: ignore[index]
        return out

    def cql(self, statement: str, *pvalues: Any) -> "CQLResult[M]":
        """Run a CQL statement (LeanCloud's ``cloudQuery``; ``?`` takes the next of ``pvalues``): the
        objects it selects, and with ``count(*)`` their number in ``.total``. This queryset's own
        filters do not apply. LeanCloud and the embedded backend only.

        ``Post.objects.cql("select * from Post where score > ? limit 10", 5)``
        """
        client = self.client
        client.require("cql", "CQL")
        values = [wire_pointer(v._meta.class_name, v.id)
                  if registry.holds_instance(v) else encode(v) for v in pvalues]
        answer = client.request("GET", "cloudQuery", {"cql": statement, "pvalues": values})
        # The statement names its class: normally this queryset's model. Another registered class decodes
        # as its own model, which the static type (a CQLResult of this model) cannot express.
        model = cast(Type[M], registry.get(answer.get("className", "")) or self.model)
        rows = answer.get("results", [])
        result: CQLResult[M] = CQLResult(model._from_wire_many(rows, client) if rows else [])
        result.total = answer.get("count")
        return result

    # -- streaming --------------------------------------------------------------------------------------
    def _chunks(self, chunk_size: int) -> Iterator[List[M]]:
        """Chunks of matching objects, walking objectId with a cursor (constant memory, no skip)."""
        if self._none:
            return
        if self._sliced():
            items = list(self)
            for start in range(0, len(items), chunk_size):
                yield items[start:start + chunk_size]
            return
        if self._order not in ((), ("id",), ("pk",), ("-id",), ("-pk",)):
            raise ValueError("iterator() streams in id order: use order_by('id'/'-id') or none, "
                             "or slice the queryset")
        descending = self._order[:1] in (("-id",), ("-pk",))
        client = self.client
        base = self._params(client)
        where = base.pop("where", {})
        path = f"classes/{self.model._meta.class_name}"
        chunk_size = max(1, min(chunk_size, client.dialect.max_limit))
        last: Optional[str] = None
        while True:
            condition = merge_and([where, {"objectId": {"$lt" if descending else "$gt": last}}]) if last else where
            params = dict(base, order="-objectId" if descending else "objectId", limit=str(chunk_size))
            if condition:
                params["where"] = condition
            rows = client.request("GET", path, params).get("results", [])
            if rows:
                yield self._decode(rows, client)
            if len(rows) < chunk_size:
                return
            last = rows[-1]["objectId"]

    def iterator(self, chunk_size: int = 1000) -> Iterator[M]:
        """Stream every matching object in constant memory, ``chunk_size`` per request, by objectId
        cursor (``objectId > last``), so neither skip limits nor concurrent inserts make it miss or
        repeat objects. Results are not cached on the queryset."""
        for chunk in self._chunks(chunk_size):
            yield from chunk

    # -- writes -----------------------------------------------------------------------------------------
    def create(self, **values: Any) -> M:
        """Build, validate and save a new object."""
        obj = self.model(**values)
        obj.save(client=self._client)
        return obj

    def get_or_create(self, defaults: Optional[Dict[str, Any]] = None, **lookups: Any) -> Tuple[M, bool]:
        """``(object, created)``: the object matching ``lookups``, else a new one built from the plain
        lookups and ``defaults``."""
        try:
            return self.get(**lookups), False
        except self.model.DoesNotExist:
            values = {k: v for k, v in lookups.items() if "__" not in k and k not in ("id", "pk")}
            values.update(defaults or {})
            try:
                return self.create(**values), True
            except DuplicateValue:  # someone else created it meanwhile (unique index)
                return self.get(**lookups), False

    def update_or_create(self, defaults: Optional[Dict[str, Any]] = None, **lookups: Any) -> Tuple[M, bool]:
        """``(object, created)``: update the matching object with ``defaults``, or create it."""
        obj, created = self.get_or_create(defaults, **lookups)
        if not created and defaults:
            for name, value in defaults.items():
                setattr(obj, name, value)
            obj.save(client=self._client)
        return obj, created

    def _batch_write(self, client: "Client", objs: Sequence[M], method: str,
                     payloads: Sequence[Optional[Dict[str, Any]]], params: str = "") -> None:
        """Send one write per object through the batch endpoint, folding each outcome back.

        Objects whose write failed, or may have, are expired (``Model._expire``: nothing queued is sent
        again). Creates that carried client-made ids and got no answer (or a duplicate-id refusal) are
        settled by reading which of them landed. Raises :class:`BulkWriteError` listing the objects
        that succeeded, failed, or have an unknown outcome, after every object got its outcome."""
        cn = self.model._meta.class_name
        items = [(method, f"classes/{cn}" + (f"/{o.id}" if method != "POST" else "") + params, p)
                 for o, p in zip(objs, payloads)]
        transaction = transactions.current()
        if transaction is not None:
            # queued in the atomic block's transaction: each answer folds in when it commits
            for obj, (_, path, payload) in zip(objs, items):
                transaction.add(client, obj, method, path, payload,
                                functools.partial(self._fold_write, client, method, obj, payload),
                                functools.partial(obj._expire, client))
            return
        bound = client.transport.seconds_for()
        deadline = None if bound is None else time.monotonic() + bound
        try:
            outcomes: List[Any] = list(client.batch_outcomes(items))
        except BaseException:  # interrupted (a cancelled task): whether any of it landed is not known
            for obj in objs:
                obj._expire(client)
            raise
        if method == "POST":
            self._settle_client_ids(client, objs, outcomes, deadline)
        succeeded: List[M] = []
        failed: List[Tuple[M, LeanORMError]] = []
        unknown: List[Tuple[M, LeanORMError]] = []
        for obj, payload, outcome in zip(objs, payloads, outcomes):
            if isinstance(outcome, LeanORMError):
                (unknown if isinstance(outcome, OutcomeUnknown) else failed).append((obj, outcome))
                obj._expire(client)
                continue
            self._fold_write(client, method, obj, payload, outcome)
            succeeded.append(obj)
        if failed or unknown:
            raise BulkWriteError(succeeded, failed, unknown)

    def _fold_write(self, client: "Client", method: str, obj: M, payload: Optional[Dict[str, Any]],
                    answer: Dict[str, Any]) -> None:
        """Fold one write's success into its object, and send its ``after_*`` signal."""
        if method == "DELETE":
            client.identity_map.discard(self.model._meta.class_name, obj.id)  # type: ignore[arg-type]
        else:
            obj._saved(client, payload or {}, answer)
        after = {"POST": signals.after_save, "PUT": signals.after_update, "DELETE": signals.after_delete}[method]
        after.send(self.model, instance=obj)

    def _settle_client_ids(self, client: "Client", objs: Sequence[M], outcomes: List[Any],
                           deadline: Optional[float]) -> None:
        """Creates that carried a client-made id and got no answer, or a duplicate-id refusal (an
        earlier attempt had landed): read which of them are stored, and make those succeed with the
        stored object. A read-back proves presence, never absence: a request without an answer may still
        be queued at the server, so a create not found stays unknown (sending it again is safe: its id
        makes a second create a duplicate-id refusal, which this settles)."""
        doubtful = {obj.pending_id: i for i, (obj, outcome) in enumerate(zip(objs, outcomes))
                    if obj.pending_id is not None and isinstance(outcome, (OutcomeUnknown, DuplicateValue))}
        # within the write's own deadline: a timed-out batch is not followed by a read as long again
        remaining = None if deadline is None else deadline - time.monotonic()
        if not doubtful or (remaining is not None and remaining < _MIN_READ_BACK):
            return
        try:
            found = client.request("GET", f"classes/{self.model._meta.class_name}",
                                   {"where": {"objectId": {"$in": sorted(doubtful)}}, "limit": str(len(doubtful))},
                                   timeout=remaining)
        except LeanORMError:
            return  # still unknown: the objects keep their ids, so sending them again stays safe
        for row in found.get("results", []):
            outcomes[doubtful.pop(row["objectId"])] = row
        for object_id, i in doubtful.items():
            if isinstance(outcomes[i], OutcomeUnknown):
                outcomes[i] = OutcomeUnknown(f"{object_id} was not found when read back after no answer came; "
                                             "the request may still be running: send it again (its id makes "
                                             "that safe)")

    def bulk_create(self, objs: Sequence[M], batch_size: Optional[int] = None,
                    client_ids: Optional[bool] = None) -> List[M]:
        """Create many objects through the batch endpoint (chunked to the backend's limit).

        Every object is validated first: one bad object means nothing is sent. Items the server refuses
        are reported per object in :class:`~leanorm.errors.BulkWriteError`, with those that were never
        sent and those sent without an answer (``unknown``); the others are saved and have their ids.
        Once a batch request fails in transport, the later ones are not sent (reported as ``NotSent``).
        ``client_ids`` (default: the client's ``client_ids``) gives each object a client-made objectId
        first (``Model.assign_id``): then leanorm reads which creates landed when no answer came (those
        succeed), and calling ``bulk_create`` again with the objects that failed or stayed unknown is safe.
        ``before_save`` receivers run before the validation, as for ``save()``, so they may fill fields in.
        """
        objs = list(objs)
        client = self.client
        for obj in objs:
            if not isinstance(obj, self.model):
                raise TypeError(f"bulk_create got a {type(obj).__name__}, expected {self.model.__name__}")
            if obj.id is not None:
                raise ValueError(f"{obj!r} is already saved")
            obj._check_capabilities(client)
        for obj in objs:
            signals.before_save.send(self.model, instance=obj)
        errors: Dict[str, List[str]] = {}
        for i, obj in enumerate(objs):
            try:
                obj._payload(True)
            except ValidationError as exc:
                errors.update((f"[{i}].{name}", msgs) for name, msgs in exc.errors.items())
        if errors:
            raise ValidationError(errors)
        if client.client_ids if client_ids is None else client_ids:
            for obj in objs:
                obj.assign_id()
        size = batch_size or client.dialect.batch_limit
        failures: List[Any] = []
        unknown: List[Any] = []
        done: List[M] = []
        for start in range(0, len(objs), size):
            chunk = objs[start:start + size]
            if failures and isinstance(failures[-1][1], NotSent) or unknown:
                # the link failed: send nothing more, report the rest as not sent
                failures.extend((o, NotSent("not sent: an earlier batch request failed")) for o in chunk)
                continue
            try:
                self._batch_write(client, chunk, "POST", [_create_payload(o) for o in chunk])
                done.extend(chunk)
            except BulkWriteError as exc:
                done.extend(exc.succeeded)
                failures.extend(exc.failed)
                unknown.extend(exc.unknown)
        if failures or unknown:
            raise BulkWriteError(done, failures, unknown)
        return objs

    def bulk_update(self, objs: Sequence[M], fields: Sequence[str], batch_size: Optional[int] = None) -> int:
        """Save ``fields`` of each of ``objs`` through the batch endpoint (chunked to the backend's limit);
        returns how many were written. Only those fields are sent (an object with unsaved changes to
        other fields is refused: save them, or list them). Values are validated first (one bad value: nothing is sent); ``before_update``/``after_update``
        fire per object; failures are reported per object in :class:`BulkWriteError`."""
        objs = list(objs)
        if not fields:
            raise ValueError("bulk_update() needs the names of the fields to save")
        chosen = {}
        for name in fields:
            field = self.model._meta.fields.get(name)
            if field is None:
                raise FieldError(f"{self.model.__name__} has no field {name!r}")
            chosen[name] = field
        errors: Dict[str, List[str]] = {}
        keys = {f.db_field for f in chosen.values()}
        for i, obj in enumerate(objs):
            if not isinstance(obj, self.model) or obj.id is None:
                raise ValueError(f"bulk_update() takes saved {self.model.__name__} instances, not {obj!r}")
            others = obj.changed_keys() - keys
            if others:
                # the write folds in as a save does: changes it does not send would be lost from the instance
                raise ValueError(f"{obj!r} has unsaved changes to {', '.join(sorted(others))}: save() them or list "
                                 "them in fields")
            for name, field in chosen.items():
                if field.db_field not in obj._ops:  # an operation is the server's to apply: nothing to validate
                    errors.update((f"[{i}].{name}", [p]) for p in field.validate(getattr(obj, name)))
        if errors:
            raise ValidationError(errors)
        client = self.client
        size = batch_size or client.dialect.batch_limit
        count = 0
        for start in range(0, len(objs), size):
            chunk = objs[start:start + size]
            payloads: List[Optional[Dict[str, Any]]] = []
            for obj in chunk:
                signals.before_update.send(self.model, instance=obj, changed=keys)
                # a queued operation (F("score") + 1, increment, add...) goes as itself, as save() sends it: its
                # local result would overwrite what another client wrote meanwhile
                payloads.append({f.db_field: obj._ops[f.db_field].to_wire() if f.db_field in obj._ops
                                 else f.to_wire(getattr(obj, n)) for n, f in chosen.items()})
            self._batch_write(client, chunk, "PUT", payloads)
            count += len(chunk)
        return count

    def _unordered_for_writes(self) -> Self:
        """The objects a bulk write touches, walked in id order: an ordering changes which objects a
        write touches only under a slice (as in Django, ``order_by(...).update()`` ignores the order)."""
        if self._sliced() or not self._order:
            return self
        qs = self._clone()
        qs._order = ()
        return qs

    def update(self, **values: Any) -> int:
        """Set fields (or apply ``F`` operations) on every matching object, batched; returns the count.

        Values are validated before anything is sent; ``before_update``/``after_update`` fire per object.
        A failed write leaves no ghost: objects whose write failed (or may have) are expired, as after a
        failed ``save()``, and :class:`~leanorm.errors.BulkWriteError` says which.
        """
        fields: Dict[str, Field[Any]] = {}
        errors: Dict[str, List[str]] = {}
        inside = {name for name in values if "__" in name}  # a key inside a DictField: an operation only
        for name, value in values.items():
            field = self.model._meta.fields.get(name.split("__")[0])
            if field is None:
                raise FieldError(f"{self.model.__name__} has no field {name!r}")
            fields[name] = field
            if name in inside:
                if not isinstance(value, Operation) or value.source not in (None, name):
                    raise FieldError(f"{name!r} is a key inside {field.name}: update it with an operation "
                                     f"(F({name!r}) + 1, Delete()), not {value!r}")
            elif isinstance(value, (Operation, F)):
                check_assignment(name, field.db_field, value)
            else:
                problems = field.validate(value)
                if problems:
                    errors[name] = problems
        if errors:
            raise ValidationError(errors)
        client = self.client
        for value in values.values():
            if isinstance(value, Operation) and value.capability:
                client.require(value.capability, f"the {value.op} operation")
        count = 0
        for chunk in self._unordered_for_writes()._chunks(client.dialect.batch_limit):
            try:
                payloads: List[Optional[Dict[str, Any]]] = []
                for obj in chunk:
                    # the keys this update writes: an instance's other unsaved changes stay its own (Django's
                    # update() writes the fields it names)
                    keys = set()
                    for name, value in values.items():
                        if name in inside:
                            field, op, path = obj._path_op(name, value)
                            obj._queue(field, op, path)
                            keys.add(".".join((field.db_field, *path)))
                        else:
                            setattr(obj, name, value)
                            keys.add(fields[name].db_field)
                    signals.before_update.send(self.model, instance=obj, changed=keys)
                    payloads.append(obj._payload(False, only=keys))
            except BaseException:
                for obj in chunk:  # nothing was sent: what was set here must not be sent by a later save
                    obj._expire(client)
                raise
            self._batch_write(client, chunk, "PUT", payloads)
            count += len(chunk)
        return count

    def delete(self) -> int:
        """Delete every matching object, batched; ``before_delete``/``after_delete`` fire per object.
        Returns how many were deleted. Objects whose delete failed (or may have) are expired and
        forgotten by the identity map; :class:`~leanorm.errors.BulkWriteError` says which."""
        client = self.client
        count = 0
        for chunk in self._unordered_for_writes()._chunks(client.dialect.batch_limit):
            for obj in chunk:
                signals.before_delete.send(self.model, instance=obj)
            self._batch_write(client, chunk, "DELETE", [None] * len(chunk))
            count += len(chunk)
        self._result_cache = None
        return count


async def _cached_results(qs: "QuerySet[M]") -> AsyncIterator[M]:
    """``async for`` over a queryset: its results fetched as ``for`` fetches them (and cached)."""
    for obj in await run_async(qs._fetch_all):
        yield obj


def _create_payload(obj: "Model") -> Dict[str, Any]:
    """What creating ``obj`` sends: its payload, with its client-made objectId if it has one."""
    payload = obj._payload(True)
    if obj.pending_id is not None:
        payload["objectId"] = obj.pending_id
    return payload


#: seconds a read-back of unanswered creates needs at the least to be worth sending
_MIN_READ_BACK = 0.05


class CQLResult(List[M]):
    """The objects a CQL statement selected; ``total`` is its ``count(*)`` (None when not asked)."""

    total: Optional[int] = None
