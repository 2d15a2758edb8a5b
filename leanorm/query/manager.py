"""``Model.objects``: the entry point to querysets."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Optional, Type, TypeVar

from .queryset import QuerySet

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import Model

__all__ = ["Manager"]

M = TypeVar("M", bound="Model")

_PROXIED = ("all", "filter", "exclude", "get", "first", "last", "count", "exists", "order_by", "reverse",
            "none", "select_related", "prefetch_related", "only", "values", "values_list", "get_or_create", "update_or_create",
            "bulk_create", "in_bulk", "iterator", "create", "using", "update", "related_to", "cql")


class Manager(Generic[M]):
    """Hands out QuerySets for its model; every QuerySet method is available on it directly.

    Subclass it and override :meth:`get_queryset` for a custom default query.
    """

    def __init__(self) -> None:
        self.model: Optional[Type[M]] = None
        self.name = "objects"

    def __set_name__(self, owner: Type[M], name: str) -> None:
        self.model = owner
        self.name = name

    def __get__(self, instance: Optional[M], owner: Type[M]) -> "Manager[M]":
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

    def __getattr__(self, name: str) -> Any:
        if name in _PROXIED:
            return getattr(self.get_queryset(), name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"<Manager {self.model.__name__ if self.model else '?'}.{self.name}>"
