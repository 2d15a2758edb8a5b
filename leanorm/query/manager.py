"""``Model.objects``: the entry point to querysets."""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, Dict, Generic, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Type, TypeVar, overload)

from typing_extensions import Literal, Self

from .q import Q
from .queryset import CQLResult, QuerySet

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import Model

__all__ = ["Manager"]

M = TypeVar("M", bound="Model")


class Manager(Generic[M]):
    """Hands out QuerySets for its model; the QuerySet methods that start a query are available on it
    directly (each is ``get_queryset().<method>``, typed for the model, so ``Post.objects.filter()`` is
    a ``QuerySet[Post]`` and a misspelt method is an error for type checkers too).

    Subclass it and override :meth:`get_queryset` for a custom default query.
    """

    def __init__(self) -> None:
        self.model: Optional[Type[M]] = None
        self.name = "objects"

    def __set_name__(self, owner: Type[M], name: str) -> None:
        self.model = owner
        self.name = name

    def __get__(self, instance: Optional[M], owner: Type[M]) -> Self:
        if instance is not None:
            raise AttributeError(f"{self.name} is reachable from the model class, not from instances")
        if self.model is not owner:  # inherited by a subclass model: bind a manager of its own
            bound = type(self)()
            bound.__set_name__(owner, self.name)
            setattr(owner, self.name, bound)
            return bound
        return self

    def get_queryset(self) -> QuerySet[M]:
        """The base queryset of this manager."""
        assert self.model is not None
        return QuerySet(self.model)

    # -- the QuerySet methods that start a query (see QuerySet for each one's documentation) -------------
    def all(self) -> QuerySet[M]:
        return self.get_queryset().all()

    def using(self, client: "Client") -> QuerySet[M]:
        return self.get_queryset().using(client)

    def filter(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        return self.get_queryset().filter(*conditions, **lookups)

    def exclude(self, *conditions: Q, **lookups: Any) -> QuerySet[M]:
        return self.get_queryset().exclude(*conditions, **lookups)

    def order_by(self, *names: str) -> QuerySet[M]:
        return self.get_queryset().order_by(*names)

    def reverse(self) -> QuerySet[M]:
        return self.get_queryset().reverse()

    def select_related(self, *paths: str) -> QuerySet[M]:
        return self.get_queryset().select_related(*paths)

    def prefetch_related(self, *names: str) -> QuerySet[M]:
        return self.get_queryset().prefetch_related(*names)

    def only(self, *names: str) -> QuerySet[M]:
        return self.get_queryset().only(*names)

    def related_to(self, owner: "Model", key: str) -> QuerySet[M]:
        return self.get_queryset().related_to(owner, key)

    def none(self) -> QuerySet[M]:
        return self.get_queryset().none()

    def get(self, *conditions: Q, **lookups: Any) -> M:
        return self.get_queryset().get(*conditions, **lookups)

    def first(self) -> Optional[M]:
        return self.get_queryset().first()

    def last(self) -> Optional[M]:
        return self.get_queryset().last()

    def count(self) -> int:
        return self.get_queryset().count()

    def exists(self) -> bool:
        return self.get_queryset().exists()

    def values(self, *names: str) -> List[Dict[str, Any]]:
        return self.get_queryset().values(*names)

    @overload
    def values_list(self, name: str, /, *, flat: Literal[True]) -> List[Any]: ...
    @overload
    def values_list(self, *names: str, flat: Literal[False] = False) -> List[Tuple[Any, ...]]: ...

    def values_list(self, *names: str, flat: bool = False) -> List[Any]:
        return self.get_queryset().values_list(*names, flat=flat)  # type: ignore[call-overload]

    def in_bulk(self, ids: Optional[Iterable[str]] = None) -> Dict[str, M]:
        return self.get_queryset().in_bulk(ids)

    def cql(self, statement: str, *pvalues: Any) -> CQLResult[M]:
        return self.get_queryset().cql(statement, *pvalues)

    def iterator(self, chunk_size: int = 1000) -> Iterator[M]:
        return self.get_queryset().iterator(chunk_size)

    def create(self, **values: Any) -> M:
        return self.get_queryset().create(**values)

    def get_or_create(self, defaults: Optional[Dict[str, Any]] = None, **lookups: Any) -> Tuple[M, bool]:
        return self.get_queryset().get_or_create(defaults, **lookups)

    def update_or_create(self, defaults: Optional[Dict[str, Any]] = None, **lookups: Any) -> Tuple[M, bool]:
        return self.get_queryset().update_or_create(defaults, **lookups)

    def bulk_create(self, objs: Sequence[M], batch_size: Optional[int] = None,
                    client_ids: Optional[bool] = None) -> List[M]:
        return self.get_queryset().bulk_create(objs, batch_size, client_ids)

    def update(self, **values: Any) -> int:
        return self.get_queryset().update(**values)

    def __repr__(self) -> str:
        return f"<Manager {self.model.__name__ if self.model else '?'}.{self.name}>"
