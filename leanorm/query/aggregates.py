"""Aggregate expressions (``Sum``, ``Count``, ``Avg``, ``Min``, ``Max``) and the aggregate pipeline they
compile to.

``Post.objects.filter(...).aggregate(total=Sum("score"))`` and
``Post.objects.values("author").annotate(n=Count("id"))`` become one ``GET aggregate/<class>`` with a
``pipeline`` of ``$match`` (the queryset's ``where``), ``$group``, ``$match`` on the annotations,
``$sort``, ``$skip`` and ``$limit``. The server groups the objects: none is sent to the client.

What each backend runs (one owner: :func:`check_pipeline`):

* the embedded backend: all of it, in SQL (``leanorm/embedded/endpoints/aggregate.py``), master key only as on Parse;
* Parse Server: master key only (``using_master()``: leanorm never sends the master key on its own).
  Measured on Parse Server 9.10 with PostgreSQL: its ``$match`` runs only comparisons (``$gt``, ``$gte``,
  ``$lt``, ``$lte``, skipped when the operand is 0 or "") and equality of plain values, a ``$match``
  beside a group of everything (``_id: null``) fails, a ``$match`` after ``$group`` is refused and
  ``$skip`` lands before ``GROUP BY``: those raise :class:`NotSupported` here instead of a wrong or
  failed answer;
* LeanCloud: no aggregate endpoint, :class:`NotSupported`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from .. import auth_context
from ..errors import FieldError, NotSupported
from ..fields import BooleanField, Field, FloatField, IntegerField, StringField
from .compiler import resolve_field

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import Model

__all__ = ["Aggregate", "Sum", "Count", "Avg", "Min", "Max", "named", "check_endpoint", "check_pipeline",
           "group_stage", "run_pipeline", "distinct_values"]

#: what the embedded backend runs beyond Parse Server on PostgreSQL (see the module docstring)
FULL_MATCH = "aggregate_full_match"
#: the capability of the aggregate endpoint itself
AGGREGATE = "aggregate"

_PLAIN_COMPARISONS = {"$gt", "$gte", "$lt", "$lte"}


class Aggregate:
    """One aggregate of a field over the matching objects (or over each group of them)."""

    #: the pipeline's accumulator (``$sum``...)
    accumulator: ClassVar[str] = ""

    def __init__(self, field: str) -> None:
        self.field = field

    @property
    def default_alias(self) -> str:
        """The name of a positional aggregate, as Django names it: ``Sum("score")`` is ``score__sum``."""
        return f"{self.field}__{type(self).__name__.lower()}"

    def key(self, model: Type["Model"]) -> str:
        """The stored key this aggregate reads; :class:`FieldError` when it cannot be aggregated."""
        field = resolve_field(model, self.field)
        if not isinstance(field, (IntegerField, FloatField)):
            raise FieldError(f"{type(self).__name__}({self.field!r}): {model.__name__}.{self.field} is not a number "
                             "field (IntegerField or FloatField)")
        return field.db_field

    def compile(self, model: Type["Model"]) -> Dict[str, Any]:
        """The ``$group`` accumulator of this aggregate: ``{"$sum": "$score"}``."""
        return {self.accumulator: "$" + self.key(model)}

    def value(self, model: Type["Model"], wire: Any) -> Any:
        """The Python value of the server's answer (``None`` for a sum, mean or bound of nothing)."""
        if wire is None:
            return None
        field = resolve_field(model, self.field)
        return field.from_wire(wire, None) if isinstance(field, IntegerField) else float(wire)

    #: the value when no object matched (the server then answers no group at all)
    empty: ClassVar[Any] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r})"


def named(method: str, positional: Sequence[Any], keywords: Mapping[str, Any]) -> Dict[str, Aggregate]:
    """The aggregates of an ``aggregate()``/``annotate()`` call by name: keywords by theirs, positional ones
    by their :attr:`Aggregate.default_alias`; :class:`TypeError` for anything else, or a name given twice."""
    out: Dict[str, Aggregate] = {}
    for name, aggregate in [*((getattr(a, "default_alias", repr(a)), a) for a in positional), *keywords.items()]:
        if not isinstance(aggregate, Aggregate):
            raise TypeError(f"{method}({name}=...) takes Sum, Count, Avg, Min or Max, not {aggregate!r}")
        if name in out:
            raise TypeError(f"{method}() got the name {name!r} twice")
        out[name] = aggregate
    return out


class Sum(Aggregate):
    """The sum of a number field (an integer for an IntegerField)."""

    accumulator = "$sum"


class Avg(Aggregate):
    """The mean of a number field, as a float."""

    accumulator = "$avg"

    def value(self, model: Type["Model"], wire: Any) -> Any:
        return None if wire is None else float(wire)


class Min(Aggregate):
    """The least value of a number field."""

    accumulator = "$min"


class Max(Aggregate):
    """The greatest value of a number field."""

    accumulator = "$max"


class Count(Aggregate):
    """How many objects: ``Count("id")`` (the protocol counts objects, not the values of a field)."""

    accumulator = "$sum"
    empty = 0

    def key(self, model: Type["Model"]) -> str:
        if self.field not in ("id", "pk", "*"):
            raise NotSupported(f"Count({self.field!r})", None, "the aggregate pipeline counts objects: use "
                               f"Count('id'), with filter({self.field}__exists=True) to count those having a value")
        return "objectId"

    def compile(self, model: Type["Model"]) -> Dict[str, Any]:
        self.key(model)
        return {"$sum": 1}

    def value(self, model: Type["Model"], wire: Any) -> Any:
        return 0 if wire is None else int(wire)


def group_key(model: Type["Model"], name: str) -> Tuple[str, Field[Any]]:
    """The stored key and field a ``values()`` name groups by (a pointer groups by the objectId)."""
    field = resolve_field(model, name)
    if name in ("id", "pk"):
        raise FieldError("grouping by id makes one group per object: use values() without annotate()")
    return field.db_field, field


def group_stage(model: Type["Model"], by: Sequence[str], aggregates: Mapping[str, Aggregate]) -> Dict[str, Any]:
    """The ``$group`` stage: by nothing (``_id: null``), one field (``"$key"``) or several (an object)."""
    group_id: Any
    if not by:
        group_id = None
    elif len(by) == 1:
        group_id = "$" + group_key(model, by[0])[0]
    else:
        group_id = {name: "$" + group_key(model, name)[0] for name in by}
    stage: Dict[str, Any] = {"_id": group_id}
    for name, aggregate in aggregates.items():
        if name in by or name in ("_id", "objectId") or name.startswith("$"):
            raise FieldError(f"the aggregate name {name!r} is taken: choose another")
        stage[name] = aggregate.compile(model)
    return stage


def _plain_match(where: Any) -> bool:
    """Whether Parse Server on PostgreSQL runs ``where`` as a ``$match`` as it would a query: equality of
    plain values and the four comparisons, ANDed."""
    if not isinstance(where, dict):
        return False
    for key, condition in where.items():
        if key.startswith("$"):
            return False
        if isinstance(condition, dict):
            if not condition or not set(condition) <= _PLAIN_COMPARISONS:
                return False
            # it skips a comparison with a falsy operand (0, ""), then compares the field with the object
            if not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) and v
                       for v in condition.values()):
                return False
        elif not isinstance(condition, (str, int, float)) or isinstance(condition, bool):
            return False
    return True


def check_endpoint(client: "Client") -> None:
    """Refuse, before anything is sent, a backend without the aggregate endpoint, and a call outside
    ``using_master()`` (the endpoint takes the master key only; leanorm never sends it unasked)."""
    client.require(AGGREGATE, "aggregation (aggregate, annotate, distinct)")
    if not auth_context.master_active():
        raise NotSupported("aggregation without the master key", client.backend,
                           "the aggregate endpoint takes the master key only: run it inside "
                           "leanorm.using_master() (leanorm never sends the master key unasked)")


def check_pipeline(client: "Client", where: Mapping[str, Any], grouped: bool, having: bool,
                   skip: bool = False) -> None:
    """:func:`check_endpoint`, and refuse what the backend would run wrongly or fail on (Parse Server on
    PostgreSQL: see the module docstring)."""
    check_endpoint(client)
    if client.supports(FULL_MATCH):
        return
    if skip:
        raise NotSupported("skipping groups (a slice not starting at 0)", client.backend,
                           "Parse Server on PostgreSQL places $skip before GROUP BY")
    if having:
        raise NotSupported("filtering on an annotation", client.backend,
                           "Parse Server on PostgreSQL refuses a $match after $group")
    if where and not grouped:
        raise NotSupported("aggregate() of a filtered queryset", client.backend,
                           "Parse Server on PostgreSQL fails a $match beside a group of every object")
    if where and not _plain_match(where):
        raise NotSupported("this filter in an aggregation", client.backend,
                           "Parse Server on PostgreSQL runs only equality of plain values and $gt/$gte/$lt/$lte "
                           f"with operands other than 0 and \"\" in an aggregate's $match, not {where}")


def run_pipeline(client: "Client", class_name: str, pipeline: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Send ``pipeline`` to ``GET aggregate/<class_name>`` and return its result rows."""
    rows: List[Dict[str, Any]] = client.request("GET", f"aggregate/{class_name}",
                                                 {"pipeline": pipeline}).get("results", [])
    return rows


def distinct_values(client: "Client", class_name: str, field: Field[Any],
                    where: Optional[Mapping[str, Any]]) -> List[Any]:
    """The distinct stored values of ``field`` among the objects matching ``where``.

    Parse Server on PostgreSQL answers ``distinct`` of a plain value with an error on every class whose
    schema has a Relation field (it tries to set the relation on each value: "Cannot create property
    'books' on string 'a'"), so there a String, Number or Boolean field is grouped (``$group``) instead,
    whenever the filter is one its ``$match`` runs."""
    key = field.db_field
    if (not client.supports(FULL_MATCH) and isinstance(field, (StringField, IntegerField, FloatField, BooleanField))
            and (not where or _plain_match(where))):
        pipeline: List[Dict[str, Any]] = [{"$match": where}] if where else []
        pipeline.append({"$group": {"_id": "$" + key}})
        # the group of objects without the field is no value (as distinct answers)
        rows = run_pipeline(client, class_name, pipeline)
        return [row["objectId"] for row in rows if row.get("objectId") is not None]
    params: Dict[str, Any] = {"distinct": key}
    if where:
        params["where"] = where
    values: List[Any] = client.request("GET", f"aggregate/{class_name}", params).get("results", [])
    return values
