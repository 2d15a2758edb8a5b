"""The model registry: model classes by protocol class name.

Its own module so that what needs to find a model by name (pointer fields, CQL answers, the pointer
resolver, cloud code) imports it without importing :mod:`leanorm.models`, which imports them.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from .models import Model

__all__ = ["ModelRegistry", "registry"]


class ModelRegistry:
    """Model classes by protocol class name, so pointers decode into the right model.

    Python names are kept apart from protocol class names: a wire class ``"Post"`` with no model of its
    own must not decode as ``class Post(Model)`` whose ``Meta`` names ``"Article"``. Python names serve
    only forward references in field declarations (:meth:`model_for`)."""

    def __init__(self) -> None:
        self._models: Dict[str, Type["Model"]] = {}
        self._by_python_name: Dict[str, Type["Model"]] = {}

    def register(self, model: Type["Model"]) -> None:
        self._models[model._meta.class_name] = model
        self._by_python_name.setdefault(model.__name__, model)

    def get(self, class_name: str) -> Optional[Type["Model"]]:
        """The model for the protocol class ``class_name``, or None."""
        return self._models.get(class_name)

    def model_for(self, name: str) -> Type["Model"]:
        """The model for ``name``, a protocol class name or else a model's Python name (a field's
        forward reference); LookupError when none is declared."""
        model = self._models.get(name) or self._by_python_name.get(name)
        if model is None:
            raise LookupError(f"no model declared for class {name!r}")
        return model

    @contextlib.contextmanager
    def preserved(self) -> Iterator[None]:
        """Models declared inside the block are forgotten when it ends (a test's or a docs page's
        ``Post`` must not outlive it and shadow another's)."""
        saved = dict(self._models), dict(self._by_python_name)
        try:
            yield
        finally:
            self._models, self._by_python_name = saved

    def holds_instance(self, value: Any) -> bool:
        """Whether ``value`` is an instance of a registered model (or of a subclass of one)."""
        return isinstance(value, tuple(self._models.values()))


#: the registry every model class registers itself in when it is declared
registry = ModelRegistry()
