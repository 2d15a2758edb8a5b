"""``values()``: matching objects as dicts of plain values, and with ``annotate()`` groups of them.

``Post.objects.values("title", "author__name")`` reads only those fields (a pointer's fields through
``include``). ``Post.objects.values("author").annotate(n=Count("id"))`` groups the matching objects by
author on the server (the aggregate pipeline, see :mod:`leanorm.query.aggregates`): one dict per group,
the group's values and its aggregates; ``filter()`` and ``order_by()`` then apply to the annotations and
slicing to the groups. Lazy, like a queryset: nothing is sent until the rows are read.
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Tuple, Union,
                    overload)

from typing_extensions import Self

from ..aio import run_async
from ..errors import FieldError, NotSupported
from ..fields import Field, PointerField
from .aggregates import Aggregate, check_pipeline, group_key, group_stage, named, run_pipeline
from .compiler import resolve_field

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from .queryset import QuerySet

__all__ = ["ValuesQuery", "plain_value"]

#: ``count()`` without a value: the number of rows
_ROWS: Any = object()

#: lookups an annotation can be filtered by, as the pipeline's operators
_HAVING = {"exact": None, "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "ne": "$ne"}


def plain_value(field: Field[Any], wire: Any) -> Any:
    """The Python value of a stored value, a pointer as its objectId."""
    if wire is None:
        return None
    if isinstance(field, PointerField):
        return wire.get("objectId") if isinstance(wire, dict) else wire
    return field.from_wire(wire, None)


class _Column:
    """One name of ``values()``: the stored path it reads (``author.name``) and the field it decodes by."""

    def __init__(self, queryset: "QuerySet[Any]", name: str) -> None:
        self.name = name
        model = queryset.model
        parts = name.split("__")
        self.hops: List[str] = []
        for part in parts[:-1]:
            field = resolve_field(model, part)
            if not isinstance(field, PointerField):
                raise FieldError(f"values({name!r}): {part!r} is not a PointerField of {model.__name__}")
            self.hops.append(field.db_field)
            model = field.target
        self.field = resolve_field(model, parts[-1])
        self.path = [*self.hops, self.field.db_field]

    def read(self, row: Dict[str, Any]) -> Any:
        value: Any = row
        for key in self.path:
            value = value.get(key) if isinstance(value, dict) else None
        return plain_value(self.field, value)


class ValuesQuery(Sequence[Dict[str, Any]]):
    """The lazy result of ``values()``: a sequence of dicts (equal to the list of them)."""

    def __init__(self, queryset: "QuerySet[Any]", names: Sequence[str]) -> None:
        self._qs = queryset
        self._names = tuple(names) or ("id",) + tuple(queryset.model._meta.fields)
        self._columns = [_Column(queryset, n) for n in self._names]
        self._aggregates: Dict[str, Aggregate] = {}
        #: grouped by the names without aggregates (``distinct()``)
        self._distinct = False
        self._having: Dict[str, Any] = {}
        self._order: Tuple[str, ...] = ()
        self._low = 0
        self._high: Optional[int] = None
        self._cache: Optional[List[Dict[str, Any]]] = None

    def _clone(self) -> Self:
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._aggregates = dict(self._aggregates)
        other._having = dict(self._having)
        other._cache = None
        return other

    # -- building -----------------------------------------------------------------------------------------
    def annotate(self, *positional: Aggregate, **aggregates: Aggregate) -> Self:
        """Group the matching objects by the ``values()`` names and compute ``aggregates`` per group (a
        positional one named as Django names it: ``Count("id")`` is ``id__count``)."""
        aggregates = named("annotate", positional, aggregates)
        self._qs._check_not_sliced("annotate")
        for column in self._columns:
            if column.hops:
                raise NotSupported(f"grouping by {column.name!r}", None,
                                   "the aggregate pipeline groups by the class's own fields only")
            group_key(self._qs.model, column.name)
        other = self._clone()
        other._aggregates.update(aggregates)
        group_stage(self._qs.model, self._names, other._aggregates)  # a bad name raises now
        return other

    def distinct(self) -> Self:
        """Django's ``values("category").distinct()``: each distinct combination of the ``values()`` names
        once, grouped by the server's aggregate pipeline (master key only, as ``annotate()``; a pointer
        as its objectId)."""
        self._check_unsliced("take distinct rows")
        other = self.annotate()
        other._distinct = True
        return other

    @property
    def _grouped(self) -> bool:
        return bool(self._aggregates) or self._distinct

    def filter(self, **lookups: Any) -> Self:
        """After ``annotate()``: keep the groups whose annotations match (``n__gte=2``); before: filter the
        objects (as ``QuerySet.filter``)."""
        if not self._aggregates:
            other = self._clone()
            other._qs = self._qs.filter(**lookups)
            return other
        self._check_unsliced("filter")
        other = self._clone()
        for path, value in lookups.items():
            name, _, lookup = path.partition("__")
            if name not in self._aggregates:
                raise FieldError(f"filter({path}=...) after annotate() is on annotations: "
                                 f"{', '.join(self._aggregates)}; filter the objects before values()")
            if lookup not in _HAVING and lookup:
                raise FieldError(f"unknown lookup {lookup!r} on an annotation (lookups: {', '.join(_HAVING)})")
            op = _HAVING[lookup or "exact"]
            condition = other._having.get(name, {})
            if op is None:
                condition = value
            else:
                condition = {**(condition if isinstance(condition, dict) else {"$eq": condition}), op: value}
            other._having[name] = condition
        return other

    def order_by(self, *names: str) -> Self:
        """After ``annotate()``: order the groups by annotations or grouped fields (``-`` descending)."""
        if not self._grouped:
            other = self._clone()
            other._qs = self._qs.order_by(*names)
            return other
        self._check_unsliced("reorder")
        for name in names:
            bare = name.lstrip("-")
            if bare not in self._aggregates and bare not in self._names:
                raise FieldError(f"order_by({name!r}) after annotate(): order by {', '.join(self._names)} "
                                 f"or {', '.join(self._aggregates)}")
            if bare in self._names and len(self._names) > 1:
                raise NotSupported(f"ordering by {bare!r} when grouping by several fields", None,
                                   "the pipeline sorts by the group as a whole")
        other = self._clone()
        other._order = tuple(names)
        return other

    def _check_unsliced(self, what: str) -> None:
        if self._low or self._high is not None:
            raise TypeError(f"cannot {what} once sliced")

    # -- reading ------------------------------------------------------------------------------------------
    def _pipeline(self, client: "Client") -> List[Dict[str, Any]]:
        model = self._qs.model
        where = self._qs.where(client)
        check_pipeline(client, where, grouped=True, having=bool(self._having), skip=bool(self._low))
        pipeline: List[Dict[str, Any]] = [{"$match": where}] if where else []
        pipeline.append({"$group": group_stage(model, self._names, self._aggregates)})
        if self._having:
            pipeline.append({"$match": self._having})
        if self._order:
            pipeline.append({"$sort": {("objectId" if n.lstrip("-") in self._names else n.lstrip("-")):
                                       -1 if n.startswith("-") else 1 for n in self._order}})
        if self._low:
            pipeline.append({"$skip": self._low})
        if self._high is not None:
            pipeline.append({"$limit": self._high - self._low})
        return pipeline

    def _groups(self) -> List[Dict[str, Any]]:
        qs = self._qs
        if qs._none or (self._high is not None and self._high <= self._low):
            return []
        client = qs.client
        model = qs.model
        out = []
        for row in run_pipeline(client, model._meta.class_name, self._pipeline(client)):
            key = row.get("objectId")
            group = {c.name: plain_value(c.field, key if len(self._columns) == 1 else (key or {}).get(c.name))
                     for c in self._columns}
            for name, aggregate in self._aggregates.items():
                group[name] = aggregate.value(model, row.get(name))
            out.append(group)
        return out

    def _rows(self) -> List[Dict[str, Any]]:
        qs = self._qs
        if qs._none:
            return []
        client = qs.client
        own = [c.field.db_field for c in self._columns if not c.hops]
        params = qs.only(*[c.name for c in self._columns if not c.hops and c.name not in ("id", "pk")])._params(client)
        keys = ["objectId", *own, *(".".join(c.path) for c in self._columns if c.hops)]
        params["keys"] = ",".join(dict.fromkeys(keys))
        related = [".".join(c.hops) for c in self._columns if c.hops]
        if related:
            params["include"] = ",".join(dict.fromkeys(related))
        return [{c.name: c.read(row) for c in self._columns}
                for rows in qs._pages(client, params) for row in rows]

    def _fetch(self) -> List[Dict[str, Any]]:
        if self._cache is None:
            self._cache = self._groups() if self._grouped else self._rows()
        return self._cache

    def count(self, value: Any = _ROWS) -> int:
        """How many rows (Django's ``values().count()``: one count request before ``annotate()``, the
        groups after it); with a ``value``, how many rows equal it (``Sequence.count``)."""
        if value is not _ROWS:
            return self._fetch().count(value)
        if self._cache is None and not self._grouped:
            return self._qs.count()
        return len(self._fetch())

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self._fetch())

    def __aiter__(self) -> AsyncIterator[Dict[str, Any]]:
        """``async for row in qs.values(...)`` (or its groups after ``annotate()``): fetched as ``for``
        fetches them, the request awaited (``leanorm.aio``)."""
        return _rows_of(self)

    def __len__(self) -> int:
        return len(self._fetch())

    @overload
    def __getitem__(self, key: int) -> Dict[str, Any]: ...
    @overload
    def __getitem__(self, key: slice) -> "ValuesQuery": ...

    def __getitem__(self, key: Union[int, slice]) -> Union[Dict[str, Any], "ValuesQuery"]:
        if isinstance(key, int):
            return self._fetch()[key]
        if key.step not in (None, 1) or (key.start or 0) < 0 or (key.stop is not None and key.stop < 0):
            raise ValueError("values() slices take no step and no negative bounds")
        other = self._clone()
        if not self._grouped:
            other._qs = self._qs[key]
            return other
        start = self._low + (key.start or 0)
        stop = None if key.stop is None else self._low + key.stop
        if self._high is not None:
            stop = self._high if stop is None else min(stop, self._high)
        other._low, other._high = start, stop if stop is None else max(stop, start)
        return other

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ValuesQuery):
            other = other._fetch()
        return isinstance(other, list) and self._fetch() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ValuesQuery {self._fetch()!r}>"


async def _rows_of(query: ValuesQuery) -> AsyncIterator[Dict[str, Any]]:
    """``async for`` over a ValuesQuery: its rows fetched (and cached) as ``for`` fetches them."""
    for row in await run_async(query._fetch):
        yield row
