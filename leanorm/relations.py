"""Many-to-many relations (the protocol's ``Relation`` type).

``RelationField(Target)`` stores no value on the object itself: membership lives on the server and is
changed with ``AddRelation``/``RemoveRelation`` operations and read with ``$relatedTo`` queries.

>>> import leanorm
>>> from leanorm import Model, StringField
>>> _ = leanorm.connect("local://:memory:")
>>> from typing import Optional
>>> class Reader(Model):
...     name: StringField[Optional[str]] = StringField()
>>> class Book(Model):
...     title: StringField[Optional[str]] = StringField()
...     readers: RelationField[Reader] = RelationField(Reader)
>>> ann, bob = Reader.objects.create(name="Ann"), Reader.objects.create(name="Bob")
>>> book = Book.objects.create(title="Dune")
>>> book.readers.add(ann, bob)
>>> sorted(r.name for r in book.readers.all())
['Ann', 'Bob']
>>> [b.title for b in Book.objects.filter(readers=ann)]
['Dune']
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, AsyncIterator, Dict, Generic, Iterator, List, NoReturn, Optional, Sequence,
                    Type, TypeVar, Union, cast, overload)

from typing_extensions import Self, Unpack

from .aio import run_async
from .config import get_client
from .errors import LeanCloudError, LeanORMError
from .fields import FieldOptions, ReferenceField
from .protocol.encoding import pointer as wire_pointer

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .models import Model
    from .query.queryset import QuerySet

__all__ = ["RelationField", "RelationManager", "prefetch_relation", "prefetch_key"]

M = TypeVar("M", bound="Model")


class RelationManager(Generic[M]):
    """The members of one object's relation: ``add``, ``remove``, and querysets over them."""

    def __init__(self, owner: "Model", field: "RelationField[M]") -> None:
        self.owner = owner
        self.field = field

    def _write(self, op: str, objs: "tuple[Model, ...]") -> None:
        if self.owner.id is None:
            raise LeanORMError(f"save {self.owner!r} before changing its {self.field.name}")
        problems = [p for p in (self.field.check_type(o) for o in objs) if p]
        if problems:
            raise TypeError("; ".join(problems))
        if not objs:
            return
        client = get_client(self.owner._client)
        key = self.field.db_field
        client.request("PUT", f"classes/{self.owner._meta.class_name}/{self.owner.id}",
                       body={key: {"__op": op, "objects": [self.field.to_wire(o) for o in objs]}})
        self.owner._store(key, {"__type": "Relation", "className": self.field.target._meta.class_name})
        self.owner._drop_memo(prefetch_key(self.field.name))  # the members changed

    def add(self, *objs: M) -> None:
        """Add objects to the relation (one request, ``AddRelation``)."""
        self._write("AddRelation", objs)

    def remove(self, *objs: M) -> None:
        """Remove objects from the relation (one request, ``RemoveRelation``)."""
        self._write("RemoveRelation", objs)

    def all(self) -> "QuerySet[M]":
        """A queryset of the members (``$relatedTo``); filter, order and slice it like any other.
        After ``prefetch_related`` it holds the prefetched members and sends nothing until refined."""
        # the model members read as is its M (RelationField's __init__ ties them), which the runtime
        # lookup by name cannot show the checker
        target = cast("Type[M]", self.field.read_model)
        qs = target.objects.all().related_to(self.owner, self.field.db_field)
        prefetched = self.owner._memo(prefetch_key(self.field.name))
        if prefetched is not None:
            qs._result_cache = list(prefetched)
        return qs

    def filter(self, *args: Any, **kwargs: Any) -> "QuerySet[M]":
        """Members matching the lookups."""
        return self.all().filter(*args, **kwargs)

    def count(self) -> int:
        """How many members."""
        return self.all().count()

    def first(self) -> Optional[M]:
        """The first member by objectId order (None when there is none)."""
        return self.all().first()

    def __iter__(self) -> Iterator[M]:
        return iter(self.all())

    # -- async (docs/async.md) ----------------------------------------------------------------------------
    async def aadd(self, *objs: M) -> None:
        """:meth:`add` from async code."""
        await run_async(self.add, *objs)

    async def aremove(self, *objs: M) -> None:
        """:meth:`remove` from async code."""
        await run_async(self.remove, *objs)

    async def acount(self) -> int:
        """:meth:`count` from async code."""
        return await run_async(self.count)

    async def afirst(self) -> Optional[M]:
        """:meth:`first` from async code."""
        return await run_async(self.first)

    def __aiter__(self) -> AsyncIterator[M]:
        """``async for member in obj.tags``."""
        return self.all().__aiter__()

    def __repr__(self) -> str:
        return f"<RelationManager {self.owner!r}.{self.field.name}>"


class RelationField(ReferenceField[RelationManager[M]]):
    """A many-to-many relation to ``target``; ``obj.field`` is a :class:`RelationManager` (its value type).

    ``Model.objects.filter(field=member)`` finds the objects whose relation holds ``member``.
    """

    type_name = "a model instance"

    @overload
    def __init__(self: "RelationField[M]", target: Type[M], **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "RelationField[Any]", target: str, **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, target: Union[str, Type["Model"]], **kwargs: Any) -> None:
        super().__init__(target, **kwargs)

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: "Model", owner: Any) -> RelationManager[M]: ...

    def __get__(self, obj: Optional["Model"], owner: Any) -> Union[Self, RelationManager[M]]:
        if obj is None:
            return self
        return RelationManager(obj, self)

    # NoReturn: checkers report any assignment, as the runtime refuses it
    def __set__(self, obj: "Model", value: NoReturn) -> None:  # type: ignore[override]
        raise AttributeError(f"use {self.name}.add()/.remove() to change a relation")

    def validate(self, value: Any) -> list:
        return []


def prefetch_relation(client: "Client", owners: Sequence["Model"], name: str) -> None:
    """Fill each owner's cache of the members of its relation ``name``: one ``$relatedTo`` query per
    owner, sent together through the batch endpoint. Members come in objectId order, ``max_limit`` at a
    time; the owners whose page came back full are asked for the members after their last one in the
    next round, again all in one batch. So 1,000 or more members on an owner cost one more batch per
    ``max_limit`` members, shared by every such owner, never a request per owner (and objectId, unlike
    ``skip``, stays cheap and exact however far the cursor goes)."""
    if not owners:
        return
    field = owners[0]._meta.fields[name]
    target = field.target  # type: ignore[attr-defined]
    limit = client.dialect.max_limit
    path = f"classes/{target._meta.class_name}"
    members: List[List[Dict[str, Any]]] = [[] for _ in owners]
    pending = list(range(len(owners)))  # positions in owners still to ask
    while pending:
        items = []
        for i in pending:
            owner = owners[i]
            owner_id = cast(str, owner.id)  # owners come from a query page: they are stored
            where: Dict[str, Any] = {"$relatedTo": {"object": wire_pointer(owner._meta.class_name, owner_id),
                                                    "key": field.db_field}}
            if members[i]:
                where["objectId"] = {"$gt": members[i][-1]["objectId"]}
            # a GET inside a batch carries its query parameters as the body (what Parse reads)
            items.append(("GET", path, {"where": where, "limit": limit, "order": "objectId"}))
        full = []
        for i, outcome in zip(pending, client.batch(items)):
            if isinstance(outcome, LeanCloudError):
                raise outcome
            rows = outcome.get("results", [])
            members[i].extend(rows)
            if len(rows) == limit:
                full.append(i)
        pending = full
    for owner, rows in zip(owners, members):
        owner._set_memo(prefetch_key(name), target._from_wire_many(rows, client))


def prefetch_key(name: str) -> str:
    """Where an instance keeps the prefetched members of its relation ``name`` (not a field name, so
    saving and change tracking never see it; dropped with the cache when the object reloads)."""
    return f"__prefetch__{name}"
