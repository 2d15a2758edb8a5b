"""Query-building: lookups, Q objects, the compiler, QuerySet and Manager."""
from .lookups import TextSearch
from .manager import Manager
from .q import Q
from .queryset import QuerySet

__all__ = ["Manager", "Q", "QuerySet", "TextSearch"]
