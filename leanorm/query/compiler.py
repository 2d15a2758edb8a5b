"""Turns a query description into protocol parameters (``where``, ``order``, ``keys``, ``include``...).

Lookup paths (``author__org__name__icontains``) are resolved against the models here: a path through a
PointerField becomes ``$inQuery`` on the target class, and negation is pushed down to the leaves (De
Morgan) so each lookup emits its own negated form, which every backend understands.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Type

from ..errors import FieldError, NotSupported
from ..fields import AnyField, DictField, Field, PointerField, ReferenceField
from .lookups import LOOKUPS, CompileContext, Fragment, Lookup
from .q import Q

if TYPE_CHECKING:  # pragma: no cover
    from ..models import Model

__all__ = ["compile_where", "compile_order", "resolve_field", "merge_and", "ResolvedPath"]


_ANY_VALUE = AnyField()
_ANY_VALUE.name = "<key inside a DictField>"


class ResolvedPath:
    """A lookup path resolved against models: pointer hops, the final field and the lookup."""

    def __init__(self, hops: List[ReferenceField], field: Field[Any], lookup: Lookup, key: str) -> None:
        self.hops = hops
        self.field = field
        self.lookup = lookup
        #: the wire key the condition is on (``meta.lang`` for a key inside a DictField)
        self.key = key


def resolve_field(model: Type["Model"], name: str) -> Field[Any]:
    """The field (declared, or ``id``/``pk``/``created_at``/``updated_at``) called ``name`` on ``model``."""
    field = model._meta.query_fields.get(name)
    if field is None:
        raise FieldError(unknown_field(model, name))
    return field


def unknown_field(model: Type["Model"], name: str) -> str:
    """The message for a name that is no field of ``model``: the field it is the wire name of (a porter
    writes ``createdAt`` for ``created_at``), else the fields there are."""
    for field_name, field in sorted(model._meta.query_fields.items()):
        if field.db_field == name and field_name != name:
            return f"{model.__name__} has no field {name!r}: that is the stored name of {field_name!r}; use {field_name}"
    return f"{model.__name__} has no field {name!r} (fields: {', '.join(sorted(model._meta.query_fields))})"


def resolve_path(model: Type["Model"], path: str) -> ResolvedPath:
    """Resolve ``path`` (``author__name__icontains``) into pointer hops, field and lookup."""
    parts = path.split("__")
    hops: List[ReferenceField] = []
    current = model
    i = 0
    while True:
        field = resolve_field(current, parts[i])
        rest = parts[i + 1:]
        # a hop through a pointer or a relation (``$inQuery`` on its key: objects whose pointer, or one
        # of whose relation members, matches the rest of the path)
        if (isinstance(field, ReferenceField) and rest
                and rest[0] in field.target._meta.query_fields and rest[0] not in ("id", "pk")):
            hops.append(field)
            current = field.target
            i += 1
            continue
        if isinstance(field, PointerField) and rest and rest[0] in ("id", "pk"):
            rest = rest[1:]  # author__id="x" is the pointer itself, given by objectId
        key = field.db_field
        if isinstance(field, DictField) and rest and (len(rest) > 1 or rest[0] not in LOOKUPS):
            subkeys = rest[:-1] if rest[-1] in LOOKUPS else rest
            rest = rest[len(subkeys):]
            key = ".".join([key, *subkeys])
            field = _ANY_VALUE
        if len(rest) > 1:
            raise FieldError(f"cannot resolve {path!r}: {rest[0]!r} is not a field of {current.__name__}")
        name = rest[0] if rest else "exact"
        lookup = LOOKUPS.get(name)
        if lookup is None:
            raise FieldError(f"unknown lookup {name!r} in {path!r} (lookups: {', '.join(sorted(LOOKUPS))})")
        return ResolvedPath(hops, field, lookup, key)


def _compile_leaf(model: Type["Model"], path: str, value: Any, ctx: CompileContext, negated: bool) -> Fragment:
    resolved = resolve_path(model, path)
    prepared = resolved.lookup.prepare(resolved.field, value)
    key = resolved.key
    if key != resolved.field.db_field and resolved.lookup.name != "exact" and not ctx.supports("nested_key_operators"):
        # measured on Parse/PostgreSQL: operators other than equality on "a.b" keys silently misbehave
        raise NotSupported(f"the {resolved.lookup.name!r} lookup on a key inside a DictField", ctx.backend)
    if not resolved.hops:
        compile_ = resolved.lookup.compile_negated if negated else resolved.lookup.compile
        return compile_(key, resolved.field, prepared, ctx)
    fragment = resolved.lookup.compile(key, resolved.field, prepared, ctx)
    for depth, hop in enumerate(reversed(resolved.hops)):
        outermost = depth == len(resolved.hops) - 1
        op = "$notInQuery" if negated and outermost else "$inQuery"
        fragment = {hop.db_field: {op: {"where": fragment, "className": hop.target._meta.class_name}}}
    if negated:  # objects with no pointer at all are "not related" too (NOT IN drops NULLs in SQL)
        fragment = {"$or": [fragment, {resolved.hops[0].db_field: None}]}
    return fragment


def _mergeable(a: Any, b: Any) -> bool:
    # ``$ne: null`` stays alone: beside it Parse Server (PostgreSQL) silently drops the other operators
    return (isinstance(a, dict) and isinstance(b, dict) and bool(a) and bool(b)
            and all(k.startswith("$") for k in a) and all(k.startswith("$") for k in b)
            and not set(a) & set(b) and None not in (a.get("$ne", 0), b.get("$ne", 0)))


def merge_and(fragments: Sequence[Fragment]) -> Fragment:
    """AND of fragments: one flat dict when keys do not collide (operators of one field merge), else
    ``$and``."""
    fragments = [f for f in fragments if f]
    merged: Dict[str, Any] = {}
    for fragment in fragments:
        for key, cond in fragment.items():
            if key not in merged:
                merged[key] = cond
            elif _mergeable(merged[key], cond):
                merged[key] = {**merged[key], **cond}
            else:
                return {"$and": list(fragments)}
    return merged


def compile_where(model: Type["Model"], q: Q, ctx: CompileContext, negated: bool = False) -> Fragment:
    """The ``where`` JSON of ``q`` on ``model`` ({} when ``q`` is empty)."""
    negated = negated != q.negated
    connector = q.connector
    if negated:  # De Morgan: NOT(a AND b) = NOT a OR NOT b
        connector = Q.OR if connector == Q.AND else Q.AND
    fragments = [compile_where(model, child, ctx, negated) if isinstance(child, Q)
                 else _compile_leaf(model, child[0], child[1], ctx, negated)
                 for child in q.children]
    fragments = [f for f in fragments if f]
    if not fragments:
        return {}
    if connector == Q.AND:
        return merge_and(fragments)
    return fragments[0] if len(fragments) == 1 else {"$or": fragments}


def compile_order(model: Type["Model"], names: Sequence[str]) -> str:
    """``order`` for ``order_by`` names: ``("-score", "title")`` → ``"-score,title"``."""
    keys = []
    for name in names:
        desc = name.startswith("-")
        field = resolve_field(model, name.lstrip("-"))
        keys.append(("-" if desc else "") + field.db_field)
    return ",".join(keys)
