"""The model registry: model classes by protocol class name.

Its own module so that what needs to find a model by name (pointer fields, CQL answers, the pointer
resolver, cloud code) imports it without importing :mod:`leanorm.models`, which imports them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from .models import Model

__all__ = ["ModelRegistry", "registry"]


class ModelRegistry:
    """Model classes by protocol class name, so pointers decode into the right model."""

    def __init__(self) -> None:
        self._models: Dict[str, Type["Model"]] = {}

    def register(self, model: Type["Model"]) -> None:
        self._models[model._meta.class_name] = model
        self._models.setdefault(model.__name__, model)

    def get(self, class_name: str) -> Optional[Type["Model"]]:
        """The model for ``class_name``, or None."""
        return self._models.get(class_name)

    def model_for(self, name: str) -> Type["Model"]:
        """The model for ``name`` (class name or Python name); LookupError when none is declared."""
        try:
            return self._models[name]
        except KeyError:
            raise LookupError(f"no model declared for class {name!r}") from None

    def holds_instance(self, value: Any) -> bool:
        """Whether ``value`` is an instance of a registered model (or of a subclass of one)."""
        return isinstance(value, tuple(self._models.values()))


#: the registry every model class registers itself in when it is declared
registry = ModelRegistry()
