"""The lookup registry: ``field__<lookup>=value`` → a ``where`` fragment.

Each lookup is a small class registered by name; it turns a prepared wire value into the protocol's
condition, and knows its own negation (used by ``exclude`` and ``~Q``), so the compiler never needs an
if-chain over lookup names. Values are always values: they go through their field's type check and
encoding, strings meant as text are regex-escaped, and dicts with operator keys are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Optional, Type

from typing_extensions import Protocol, runtime_checkable

from ..errors import FieldError, NotSupported
from ..fields import Field, GeoPointField, PolygonField, ReferenceField
from ..protocol.encoding import pointer as wire_pointer
from ..protocol.geo import EARTH_RADIUS_KM, EARTH_RADIUS_MILES, GeoPoint, Polygon

if TYPE_CHECKING:  # pragma: no cover
    from ..models import Model
    from ..protocol.dialects import Dialect

__all__ = ["Lookup", "LOOKUPS", "register", "escape_regex", "CompileContext", "Subquery", "TextSearch"]

Fragment = Dict[str, Any]


class CompileContext:
    """What a lookup may ask while compiling: the backend's capabilities (its dialect's, and those of the
    server itself when the client knows them: ``Client.capabilities``) and the backend's name."""

    def __init__(self, dialect: "Dialect", backend: str, capabilities: Optional[FrozenSet[str]] = None) -> None:
        self.dialect = dialect
        self.backend = backend
        self.capabilities = dialect.capabilities if capabilities is None else capabilities

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, feature: str) -> None:
        if not self.supports(capability):
            raise NotSupported(feature, self.backend)


@runtime_checkable
class Subquery(Protocol):
    """A query usable inside a filter (``pointer__in=queryset``): what ``$inQuery`` needs of it. A
    :class:`~leanorm.query.QuerySet` is one; lookups know it only by this, so they import no queryset."""

    #: the model the query reads (checked against the field's target)
    model: Type["Model"]

    def subquery(self, ctx: CompileContext) -> Dict[str, Any]:
        """The inner query: ``{"where": ..., "className": ...}``."""
        ...


LOOKUPS: Dict[str, "Lookup"] = {}


def register(cls: Type["Lookup"]) -> Type["Lookup"]:
    """Class decorator: make a lookup available under its ``name``."""
    LOOKUPS[cls.name] = cls()
    return cls


_REGEX_SPECIALS = set("\\.^$|?*+()[]{}")


def escape_regex(text: str) -> str:
    r"""Escape regex metacharacters so ``text`` matches literally (PCRE, PostgreSQL and Python agree).

    >>> escape_regex("a.b*(c)")
    'a\\.b\\*\\(c\\)'
    """
    return "".join("\\" + ch if ch in _REGEX_SPECIALS else ch for ch in text)


def _value_error(field: Field[Any], message: str) -> FieldError:
    return FieldError(f"{field.model.__name__ + '.' if field.model else ''}{field.name}: {message}")


def wire_value(field: Field[Any], value: Any) -> Any:
    """Type-check ``value`` against ``field`` and encode it; raise :class:`FieldError` when it does not fit.

    A pointer may be given as the target instance or as its objectId string.
    """
    if value is None:
        return None
    if isinstance(field, ReferenceField) and isinstance(value, str):
        return wire_pointer(field.target._meta.class_name, value)
    problem = field.check_type(value)
    if problem:
        raise _value_error(field, problem)
    return field.to_wire(value)


def element_field(field: Field[Any]) -> Field[Any]:
    """The field that types one element: the inner field of a typed ListField, else ``field``."""
    inner = getattr(field, "field", None)
    return inner if field.is_list and inner is not None else field


def _or_missing(key: str, condition: Any) -> Fragment:
    """``condition`` holds, or the field is null/missing (what Django's exclude() keeps)."""
    return {"$or": [{key: condition}, {key: None}]}


class Lookup:
    """Base lookup. Subclasses set ``name`` and implement ``prepare`` and ``compile``."""

    name = ""

    def prepare(self, field: Field[Any], value: Any) -> Any:
        """Validate and encode the user's value (default: one value of the field's type)."""
        return wire_value(field, value)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        """The ``where`` fragment for ``key`` (the wire name) matching the prepared ``value``."""
        raise NotImplementedError

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        """The fragment for NOT this lookup."""
        raise NotSupported(f"negating the {self.name!r} lookup", ctx.backend)


@register
class Exact(Lookup):
    """``field=value``: equality; on an array field, "the array contains value" (a list: equal arrays)."""

    name = "exact"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if field.is_list and not isinstance(value, (list, tuple)):
            return wire_value(element_field(field), value)
        return wire_value(field, value)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if field.is_list and not isinstance(value, list) and value is not None:
            return {key: contains_element(value, ctx)}
        # A dict here is an encoded value (Pointer, Date, GeoPoint) or a DictField value whose keys were
        # checked to hold no operator: the server reads it as a value.
        if isinstance(value, dict) and "__type" not in value and not ctx.supports("object_equality"):
            raise NotSupported("equality with a whole dict (filter on its keys instead: field__key=value)",
                               ctx.backend)
        return {key: value}

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if field.is_list and not isinstance(value, list) and value is not None:
            return _membership(key, "$nin", [value], field, ctx)
        return {key: {"$ne": value}}


def contains_element(value: Any, ctx: CompileContext) -> Any:
    """"The array holds ``value``": bare equality where the backend reads it so, else ``$all``."""
    # Parse on PostgreSQL crashes on scalar equality with an array column (docs/parse-server.md)
    return value if ctx.supports("array_contains_scalar") else {"$all": [value]}


@register
class NotEqual(Exact):
    """``field__ne=value``."""

    name = "ne"

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return super().compile_negated(key, field, value, ctx)

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return super().compile(key, field, value, ctx)


class _Comparison(Lookup):
    op = ""
    opposite = ""

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if value is None:
            raise _value_error(field, f"{self.name} needs a value, not None")
        return wire_value(element_field(field), value)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: {self.op: value}}

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return _or_missing(key, {self.opposite: value})


@register
class GreaterThan(_Comparison):
    """``field__gt=value``."""
    name, op, opposite = "gt", "$gt", "$lte"


@register
class GreaterThanOrEqual(_Comparison):
    """``field__gte=value``."""
    name, op, opposite = "gte", "$gte", "$lt"


@register
class LessThan(_Comparison):
    """``field__lt=value``."""
    name, op, opposite = "lt", "$lt", "$gte"


@register
class LessThanOrEqual(_Comparison):
    """``field__lte=value``."""
    name, op, opposite = "lte", "$lte", "$gt"


@register
class In(Lookup):
    """``field__in=[...]``: the value (or, for arrays, any element) is one of the list."""

    name = "in"
    op, opposite = "$in", "$nin"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if isinstance(value, Subquery) and self.op in ("$in", "$nin"):
            target = getattr(element_field(field), "target", None)
            if target is None or not issubclass(value.model, target):
                raise _value_error(field, f"{self.name} takes a queryset of the model the field points to, "
                                          f"not of {value.model.__name__}")
            return value  # compiled with the backend's context, in compile()
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise _value_error(field, f"{self.name} needs a list of values, not {value!r}")
        return [wire_value(element_field(field), v) for v in value]

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if isinstance(value, Subquery):
            return _in_query(key, self.op == "$in", value, ctx)
        return _membership(key, self.op, value, field, ctx)

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if isinstance(value, Subquery):
            return _in_query(key, self.op != "$in", value, ctx)
        return _membership(key, self.opposite, value, field, ctx)


def _in_query(key: str, inside: bool, queryset: Subquery, ctx: CompileContext) -> Fragment:
    """``pointer__in=queryset``: one request, the backend runs the inner query (``$inQuery``). Outside
    it also means "no pointer at all", as for ``exclude(author__name=...)``."""
    if inside:
        return {key: {"$inQuery": queryset.subquery(ctx)}}
    return _or_missing(key, {"$notInQuery": queryset.subquery(ctx)})


#: a condition no object meets. Parse Server on PostgreSQL answers ``{"score": {"$in": []}}`` with the
#: objects that lack the field, so an empty list is never sent on a field.
NOTHING: Fragment = {"objectId": {"$in": []}}


def _membership(key: str, op: str, values: List[Any], field: Field[Any], ctx: CompileContext) -> Fragment:
    if not values:
        return {} if op == "$nin" else NOTHING
    if op == "$nin" and not ctx.supports("nin_keeps_missing"):
        # Parse on PostgreSQL leaves out objects without the field; the protocol (and LeanCloud) keeps them
        return {"$or": [{key: {op: values}}, {key: {"$exists": False}}]}
    return {key: {op: values}}


@register
class NotIn(In):
    """``field__nin=[...]``."""
    name, op, opposite = "nin", "$nin", "$in"


@register
class All(In):
    """``field__all=[...]``: the array holds every one of the values."""

    name, op = "all", "$all"

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {"$or": [_membership(key, "$nin", [v], field, ctx) for v in value]} if value else {}


class _BoolLookup(Lookup):
    def prepare(self, field: Field[Any], value: Any) -> Any:
        if not isinstance(value, bool):
            raise _value_error(field, f"{self.name} needs True or False, not {value!r}")
        return value

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return self.compile(key, field, not value, ctx)


@register
class Exists(_BoolLookup):
    """``field__exists=True``: the object has the field at all."""

    name = "exists"

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: {"$exists": value}}


@register
class IsNull(_BoolLookup):
    """``field__isnull=True``: the field is null or missing."""

    name = "isnull"

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: None} if value else {key: {"$ne": None}}


class _Pattern(Lookup):
    """Text matched by a regular expression built from the value."""

    options = ""

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if not isinstance(value, str):
            raise _value_error(field, f"{self.name} needs a string, not {value!r}")
        return value

    def pattern(self, value: str) -> str:
        raise NotImplementedError

    def negated_pattern(self, value: str) -> str:
        # a negative lookahead over the whole string: understood by PCRE (LeanCloud), PostgreSQL and Python
        return "^(?![\\s\\S]*?(?:" + self.pattern(value) + "))"

    def _condition(self, pattern: str) -> Dict[str, str]:
        return {"$regex": pattern, **({"$options": self.options} if self.options else {})}

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: self._condition(self.pattern(value))}

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return _or_missing(key, self._condition(self.negated_pattern(value)))


@register
class Contains(_Pattern):
    """``field__contains="x"``: substring (text), or element (array)."""

    name = "contains"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if field.is_list:
            return wire_value(element_field(field), value)
        return super().prepare(field, value)

    def pattern(self, value: str) -> str:
        return escape_regex(value)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if field.is_list:
            return LOOKUPS["exact"].compile(key, field, value, ctx)
        return super().compile(key, field, value, ctx)

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        if field.is_list:
            return LOOKUPS["exact"].compile_negated(key, field, value, ctx)
        return super().compile_negated(key, field, value, ctx)


@register
class IContains(_Pattern):
    """``field__icontains="x"``: case-insensitive substring."""
    name, options = "icontains", "i"

    def pattern(self, value: str) -> str:
        return escape_regex(value)


@register
class IExact(_Pattern):
    """``field__iexact="x"``: the whole value, ignoring case (an anchored case-insensitive regex of the
    escaped value: the protocol has no case-insensitive equality)."""
    name, options = "iexact", "i"

    def pattern(self, value: str) -> str:
        return "^" + escape_regex(value) + "$"

    def negated_pattern(self, value: str) -> str:
        return "^(?!" + escape_regex(value) + "$)"


@register
class StartsWith(_Pattern):
    """``field__startswith="x"``."""
    name = "startswith"

    def pattern(self, value: str) -> str:
        return "^" + escape_regex(value)

    def negated_pattern(self, value: str) -> str:
        return "^(?!" + escape_regex(value) + ")"


@register
class IStartsWith(StartsWith):
    """``field__istartswith="x"``."""
    name, options = "istartswith", "i"


@register
class EndsWith(_Pattern):
    """``field__endswith="x"``."""
    name = "endswith"

    def pattern(self, value: str) -> str:
        return escape_regex(value) + "$"


@register
class IEndsWith(EndsWith):
    """``field__iendswith="x"``."""
    name, options = "iendswith", "i"


@register
class Regex(_Pattern):
    """``field__regex=r"..."``: the user's own regular expression."""
    name = "regex"

    def pattern(self, value: str) -> str:
        return value


@register
class IRegex(Regex):
    """``field__iregex=r"..."``: case-insensitive."""
    name, options = "iregex", "i"


@register
class Size(Lookup):
    """``field__size=n``: the array has exactly n elements (not on Parse/PostgreSQL)."""

    name = "size"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _value_error(field, f"size needs a non-negative integer, not {value!r}")
        return value

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        ctx.require("size", "the size lookup ($size)")
        return {key: {"$size": value}}


class _GeoLookup(Lookup):
    def _point(self, field: Field[Any], value: Any) -> Dict[str, Any]:
        if not isinstance(field, GeoPointField):
            raise _value_error(field, f"{self.name} works on a GeoPointField only")
        if not isinstance(value, GeoPoint):
            raise _value_error(field, f"{self.name} needs a GeoPoint, not {value!r}")
        return value.to_wire()


@register
class Near(_GeoLookup):
    """``place__near=point``: every object with a place, nearest first."""

    name = "near"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        return self._point(field, value)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: {"$nearSphere": value}}


class _WithinDistance(_GeoLookup):
    unit_key = ""
    radius = 1.0

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise _value_error(field, f"{self.name} needs (GeoPoint, max_distance), not {value!r}")
        point, distance = value
        if isinstance(distance, bool) or not isinstance(distance, (int, float)) or distance < 0:
            raise _value_error(field, f"{self.name} needs a non-negative distance, not {distance!r}")
        return (self._point(field, point), distance)

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        point, distance = value
        if ctx.supports("geo_distance_units"):
            return {key: {"$nearSphere": point, self.unit_key: distance}}
        # Parse on PostgreSQL reads only $maxDistance (radians) and silently ignores the unit keys
        return {key: {"$nearSphere": point, "$maxDistance": distance / self.radius}}


@register
class WithinKilometers(_WithinDistance):
    """``place__within_km=(point, km)``: nearest first, at most ``km`` away."""
    name, unit_key, radius = "within_km", "$maxDistanceInKilometers", EARTH_RADIUS_KM


@register
class WithinMiles(_WithinDistance):
    """``place__within_miles=(point, miles)``."""
    name, unit_key, radius = "within_miles", "$maxDistanceInMiles", EARTH_RADIUS_MILES


@register
class WithinRadians(_WithinDistance):
    """``place__within_radians=(point, radians)``."""
    name, unit_key, radius = "within_radians", "$maxDistanceInRadians", 1.0


@register
class WithinBox(_GeoLookup):
    """``place__within_box=(southwest, northeast)``: inside the rectangle."""

    name = "within_box"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise _value_error(field, f"within_box needs (southwest, northeast), not {value!r}")
        return [self._point(field, p) for p in value]

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: {"$within": {"$box": value}}}



@register
class WithinPolygon(_GeoLookup):
    """``place__within_polygon=Polygon(...)`` (or a list of GeoPoints): inside the polygon or on an edge."""

    name = "within_polygon"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        points = value.points if isinstance(value, Polygon) else value
        if isinstance(points, (str, bytes, dict)) or not hasattr(points, "__iter__"):
            raise _value_error(field, f"within_polygon needs a Polygon or GeoPoints, not {value!r}")
        wires = [self._point(field, p) for p in points]
        if len(wires) < 3:
            raise _value_error(field, "within_polygon needs at least 3 points")
        return wires  # GeoPoints, never pairs: pairs mean [longitude, latitude] in a $polygon

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        return {key: {"$geoWithin": {"$polygon": value}}}


@register
class Intersects(Lookup):
    """``area__intersects=GeoPoint(...)``: the Polygons holding the point (Parse's ``$geoIntersects``)."""

    name = "intersects"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if not isinstance(field, PolygonField):
            raise _value_error(field, "intersects works on a PolygonField only")
        if not isinstance(value, GeoPoint):
            raise _value_error(field, f"intersects needs a GeoPoint, not {value!r}")
        return value.to_wire()

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        ctx.require("polygons", "Polygon queries ($geoIntersects)")
        return {key: {"$geoIntersects": {"$point": value}}}

@dataclass(frozen=True)
class TextSearch:
    """A full-text search with options, for ``field__search=``: ``TextSearch("leche", language="spanish")``.
    Unset options are the backend's defaults (English; case- and diacritic-insensitive)."""

    term: str
    language: Optional[str] = None
    case_sensitive: Optional[bool] = None
    diacritic_sensitive: Optional[bool] = None

    def to_wire(self) -> Dict[str, Any]:
        """The ``$search`` object of Parse's ``$text``."""
        options = {"$language": self.language, "$caseSensitive": self.case_sensitive,
                   "$diacriticSensitive": self.diacritic_sensitive}
        return {"$term": self.term, **{k: v for k, v in options.items() if v is not None}}


@register
class Search(Lookup):
    """``field__search="coffee"`` (or a :class:`TextSearch`): full-text search of a text field, words
    compared by their stems (Parse's ``$text``; not on LeanCloud, which has a search service instead)."""

    name = "search"

    def prepare(self, field: Field[Any], value: Any) -> Any:
        if isinstance(value, str):
            value = TextSearch(value)
        if not isinstance(value, TextSearch) or not isinstance(value.term, str):
            raise _value_error(field, f"search needs a string or a TextSearch, not {value!r}")
        return value.to_wire()

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        ctx.require("text_search", "full-text search ($text)")
        return {key: {"$text": {"$search": value}}}


@register
class ContainedBy(In):
    """``tags__contained_by=[...]``: an array every element of which is one of the values (an empty array
    is; an object without the array is not)."""

    name, op = "contained_by", "$containedBy"

    def compile(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        ctx.require("contained_by", "the contained_by lookup ($containedBy)")
        return {key: {"$containedBy": value}}

    def compile_negated(self, key: str, field: Field[Any], value: Any, ctx: CompileContext) -> Fragment:
        raise NotSupported("negating the 'contained_by' lookup", ctx.backend)
