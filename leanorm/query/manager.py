"""``Model.objects``: the entry point to querysets, derived from a QuerySet class."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Type, TypeVar, overload

from typing_extensions import NoReturn

if TYPE_CHECKING:  # pragma: no cover
    from .queryset import QuerySet

__all__ = ["Manager"]

QS = TypeVar("QS", bound="QuerySet[Any]")


class Manager(Generic[QS]):
    """``Model.objects``: each read of it from a model class is a new queryset over that model, so
    every QuerySet method is the manager's method too, typed for the model (``Post.objects.filter()``
    is a ``QuerySet[Post]``, a misspelt method is an error for type checkers), a subclass model gets
    querysets of its own, and no result cache is shared between callers.

    Made by :meth:`QuerySet.as_manager` (``Model.objects`` is ``QuerySet.as_manager()``). A model with
    queries of its own declares them once, on a QuerySet subclass, and derives its manager from it::

        class PostQuerySet(QuerySet["Post"]):
            def published(self) -> "PostQuerySet":
                return self.filter(draft=False)

        class Post(Model):
            objects: ClassVar[Manager[PostQuerySet]] = PostQuerySet.as_manager()

    Subclass it and override :meth:`get_queryset` for a custom default query.
    """

    def __init__(self, queryset_class: Type[QS]) -> None:
        self.queryset_class = queryset_class
        self.name = "objects"

    def __set_name__(self, owner: Any, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: Any) -> QS: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> NoReturn: ...

    def __get__(self, instance: Any, owner: Any) -> QS:
        if instance is not None:
            raise AttributeError(f"{self.name} is reachable from the model class, not from instances")
        return self.get_queryset(owner)

    def get_queryset(self, model: Any) -> QS:
        """The queryset every read of the manager starts from, over ``model``."""
        return self.queryset_class(model)

    def __repr__(self) -> str:
        return f"<Manager of {self.queryset_class.__name__}>"
