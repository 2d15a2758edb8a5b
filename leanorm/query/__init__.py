"""Query-building: lookups, Q objects, the compiler, QuerySet and Manager, aggregates and values()."""
from .aggregates import Aggregate, Avg, Count, Max, Min, Sum
from .lookups import TextSearch
from .manager import Manager
from .q import Q
from .queryset import QuerySet
from .values import ValuesQuery

__all__ = ["Manager", "Q", "QuerySet", "ValuesQuery", "Aggregate", "Sum", "Count", "Avg", "Min", "Max", "TextSearch"]
