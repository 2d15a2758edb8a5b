"""Compile a protocol ``where`` into SQL over the stored JSON.

Every operator becomes SQL (``json_extract``/``json_type``/``json_each``), so SQLite's planner can use
the expression indexes ``create_index`` makes; only ``$regex`` and geo distance call Python functions.
Equality on an Array field means "contains the element", as in the protocol. A negated condition
(``$ne``, ``$nin``, ``$notInQuery``, ...) is ``NOT IFNULL(condition, 0)``: SQL's NULL for a missing
field must count as "does not match", so the negation matches it, as the protocol does.

Operators live in a registry (``OPERATORS``): one function per operator, no if-chains. What a ``where``
asks for (branches, regular expressions, polygon points, sub-queries) is charged to the request's
:class:`~leanorm.embedded.budget.Budget` as it compiles, so a query over budget is refused before it runs.
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

from ..budget import MAX_ORDER_KEYS, Budget
from ..limits import check_where_depth
from ..caller import Caller
from ..answers import ProtocolError, dumps
from .regex import compile_regex
from .text_search import LANGUAGES, check_search
from .store import json_path, table
from .interface import Connection, FieldType
from .values import canonical, normalize_iso, polygon_value, storable_number

if TYPE_CHECKING:  # pragma: no cover
    from .interface import Store

__all__ = ["Slot", "QueryCompiler", "SubqueryRules", "OPERATORS", "SYSTEM_RELATIONS", "SUBQUERY_OPERATORS",
           "reads_other_rows"]

EARTH_KM, EARTH_MILES = 6371.0, 3958.8
COLUMNS = ("objectId", "createdAt", "updatedAt")
#: what Parse.com's stored names of the dates mean in an ``order`` (Parse Server maps them the same way)
PARSE_STORED_NAMES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}
#: the longest list of values an ``IN (...)`` spells out as parameters (longer ones go as one JSON array)
INLINE_VALUES = 100


class Slot:
    """Where a value lives in SQL: an expression for the value and one for its JSON type (NULL when
    absent). ``doc``/``parts`` locate it in a JSON column, so an array can be iterated with json_each.
    ``schema_type`` is the type the class's schema learnt for a top-level field (None when unknown)."""

    def __init__(self, value: str, type_: str, doc: Optional[str] = None, parts: Tuple[str, ...] = (),
                 date_column: bool = False, schema_type: Optional[str] = None) -> None:
        self.value, self.type, self.doc, self.parts, self.date_column = value, type_, doc, parts, date_column
        self.schema_type = schema_type

    @classmethod
    def field(cls, doc: str, *parts: str) -> "Slot":
        path = json_path(*parts)
        return cls(f"json_extract({doc}, {path})", f"json_type({doc}, {path})", doc, parts)

    @classmethod
    def element(cls, alias: str, *parts: str) -> "Slot":
        if not parts:
            return cls(f"{alias}.value", f"{alias}.type")
        path = json_path(*parts)
        guard = f"CASE WHEN {alias}.type = 'object' THEN json_%s({alias}.value, {path}) END"
        return cls(guard % "extract", guard % "type")

    def sub(self, key: str) -> "Slot":
        if self.date_column:
            return self if key == "iso" else Slot("NULL", "NULL")
        if self.doc is not None:
            return Slot.field(self.doc, *self.parts, key)
        if self.value.endswith(".value"):
            return Slot.element(self.value[:-len(".value")], key)
        return Slot("NULL", "NULL")


class SubqueryRules(Protocol):
    """What the compiler asks of the caller's access rules for the classes a query reaches (sub-queries,
    ``$inQuery``, ``$select``): ``access.authz.ReadPolicy`` is one. The store knows no access rule of its own."""

    @property
    def budget(self) -> Budget:
        """The request's cost budget, which every piece the compiler builds is charged to."""

    def permit(self, class_name: str, operation: str = "find") -> None:
        """Raise unless the caller may run ``operation`` on ``class_name``."""

    def check_key(self, class_name: str, key: str) -> None:
        """Raise unless the caller may query by ``key`` of ``class_name`` (protected fields)."""


class QueryCompiler:
    """Builds SQL for one request; parameters are named, so pieces can be composed in any order."""

    def __init__(self, store: "Store", conn: Connection, caller: Caller, dialect: str,
                 policy: Optional[SubqueryRules] = None, budget: Optional[Budget] = None) -> None:
        self.store, self.conn, self.caller, self.dialect = store, conn, caller, dialect
        #: the caller's class-level permissions and protected fields (None: the server's own reads)
        self.policy = policy
        #: what the request may still ask for: ``budget`` when given (a live subscription's ``where``,
        #: charged when it was made, compiled again at a change), else the caller's request's budget (the
        #: server's own reads have one of their own)
        self.budget = budget if budget is not None else policy.budget if policy is not None else Budget()
        self.params: Dict[str, Any] = {}
        self.near: Optional[str] = None
        #: the relevance of the outer query's ``$text`` search (SQL), which ``$score`` orders and answers by
        self.text_score: Optional[str] = None
        #: the alias of the rows the query returns (the first ``where`` compiled); subqueries have others
        self.outer: Optional[str] = None
        self._names = 0

    # -- helpers ----------------------------------------------------------------------------------------
    def p(self, value: Any) -> str:
        """A parameter for ``value``; every value of a ``where`` reaches SQL through here, so this is where
        a value SQLite cannot bind (an object, an integer beyond 64 bits) becomes error 102."""
        if not isinstance(value, (str, int, float, type(None))) or (
                isinstance(value, (int, float)) and not storable_number(value)):
            raise ProtocolError(102, f"Invalid query value: {value!r}.")
        self._names += 1
        name = f"p{self._names}"
        self.params[name] = value
        return f":{name}"

    def document(self, value: Any) -> str:
        """An Object or Array as a JSON document for a stored value to equal: ``json()`` of its canonical
        text. SQLite compares the two texts (stored documents are canonical too); PostgreSQL, whose
        documents are ``jsonb``, compares them as JSON, where a bare parameter would be a JSON string."""
        return f"json({self.p(canonical(value))})"

    def listed(self, values: List[str]) -> str:
        """What ``x IN (...)`` compares with for a list of strings: one parameter each for a short list; a
        long one as a single JSON parameter, read with json_each. SQLite looks every named parameter up in
        a list as it prepares a statement, so thousands of them cost quadratic time: a 40,000-value
        ``$in`` held a thread for 25 s."""
        if len(values) <= INLINE_VALUES:
            return ", ".join(self.p(v) for v in values)
        return f"SELECT value FROM json_each({self.p(dumps(values))})"

    def alias(self, prefix: str = "j") -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def acl(self, alias: str) -> str:
        """Rows the caller may read: no ACL, or an ACL granting read to one of its principals."""
        if self.caller.master:
            return "1"
        names = ", ".join(self.p(p) for p in self.caller.principals)
        return (f"({alias}.acl IS NULL OR EXISTS (SELECT 1 FROM json_each({alias}.acl) "
                f"WHERE key IN ({names}) AND json_extract(value, '$.read')))")

    def readable(self, class_name: str, alias: str, where: Any) -> str:
        """``where`` and the ACL read check, for rows of ``class_name`` named ``alias``. A malformed
        ``where`` is refused whether the class exists or not (it is compiled first)."""
        condition = self.where(class_name, alias, where)
        if not self.store.has_class(self.conn, class_name):
            return "0"
        return f"({condition}) AND {self.acl(alias)}"

    def inner(self, class_name: str, alias: str, where: Any) -> str:
        """``readable`` for the query inside another (``$inQuery``, ``$select``): a read of
        ``class_name`` like any other, so its class-level permissions apply too."""
        if self.policy is not None:
            self.policy.permit(class_name, "find")
        self.budget.charge_subquery()
        return self.readable(class_name, alias, where)

    def check_key(self, class_name: str, key: str) -> None:
        if self.policy is not None:
            self.policy.check_key(class_name, key)

    def contains(self, slot: Slot, array: bool, predicate: Callable[[Slot], str]) -> str:
        """``predicate`` of the value, or of any element when the field is an Array."""
        if not array or slot.doc is None:
            return predicate(slot)
        each = self.alias()
        return (f"EXISTS (SELECT 1 FROM json_each({slot.doc}, {json_path(*slot.parts)}) AS {each} "
                f"WHERE {predicate(Slot.element(each))})")

    # -- where -----------------------------------------------------------------------------------------
    def where(self, class_name: str, alias: str, where: Any) -> str:
        if self.outer is None:
            self.outer = alias
        if where is None:
            return "1"
        if not isinstance(where, dict):
            raise ProtocolError(102, "Invalid query: where must be a JSON object.")
        try:
            check_where_depth(where)
        except ValueError as exc:
            raise ProtocolError(102, f"Invalid query: {exc}.") from None
        schema = self.store.schema(self.conn, class_name)
        parts: List[str] = []
        for key, condition in where.items():
            if key in ("$or", "$and", "$nor"):
                if not isinstance(condition, list) or not all(isinstance(c, dict) for c in condition):
                    raise ProtocolError(102, f"Invalid query: {key} needs a list of where objects.")
                self.budget.charge_branches(len(condition))
                inner = [f"({self.where(class_name, alias, c)})" for c in condition]
                if key == "$and":
                    parts.append(" AND ".join(inner) or "1")
                elif key == "$or":
                    parts.append(" OR ".join(inner) or "0")
                else:
                    parts.append(f"NOT IFNULL({' OR '.join(inner) or '0'}, 0)")
            elif key == "$relatedTo":
                parts.append(self.related_to(alias, condition))
            elif key.startswith("$"):
                if self.dialect == "parse":  # Parse reads it as a key, and refuses its name
                    raise ProtocolError(105, f"Invalid key name: {key}")
                raise ProtocolError(102, f"Invalid query: unknown operator {key}.")
            else:
                parts.append(self.field(class_name, alias, schema, key, condition))
        return " AND ".join(f"({p})" for p in parts) or "1"

    def slot(self, alias: str, schema: Dict[str, FieldType], key: str) -> Tuple[Slot, Optional[FieldType]]:
        if key in COLUMNS:
            return Slot(f"{alias}.{key}", "'text'", date_column=key != "objectId"), ("String", None)
        parts = tuple(key.split("."))
        ftype = schema.get(key) if len(parts) == 1 else None
        slot = Slot.field(f"{alias}.data", *parts)
        slot.schema_type = ftype[0] if ftype else None
        return slot, ftype

    def field(self, class_name: str, alias: str, schema: Dict[str, FieldType], key: str, condition: Any) -> str:
        if key.split(".")[0] in ("ACL", "password", "sessionToken", "authData") and not self.caller.master:
            raise ProtocolError(102, f"Invalid query: {key} cannot be queried.")
        self.check_key(class_name, key)
        slot, ftype = self.slot(alias, schema, key)
        array = bool(ftype and ftype[0] == "Array")
        if (ftype and ftype[0] == "Relation") or (ftype is None and (class_name, key) in SYSTEM_RELATIONS):
            return self.relation(class_name, alias, key, condition)
        if isinstance(condition, dict) and any(isinstance(k, str) and k.startswith("$") for k in condition):
            if not all(k.startswith("$") for k in condition):
                raise ProtocolError(102, f"Invalid query on {key!r}: operators and values are mixed.")
            ops = dict(condition)
            clauses = [geo(self, slot, ops)] if GEO_KEYS & ops.keys() else []
            options = ops.pop("$options", None)
            if options is not None and "$regex" not in ops:
                raise ProtocolError(102, f"Invalid query on {key!r}: $options needs $regex.")
            if "$regex" in ops:
                clauses.append(_regex(self, slot, ops.pop("$regex"), array, options or ""))
            for op, value in ops.items():
                if op in GEO_KEYS:
                    continue
                handler = OPERATORS.get(op)
                if handler is None:
                    raise ProtocolError(102, f"Invalid query on {key!r}: unknown operator {op}.")
                clauses.append(handler(self, slot, value, array))
            return " AND ".join(f"({c})" for c in clauses) or "1"
        return self.equal(slot, condition, array)

    def equal(self, slot: Slot, value: Any, array: bool) -> str:
        if array and value is not None and not isinstance(value, list):
            return self.contains(slot, True, lambda s: self.scalar_equal(s, value))
        return self.scalar_equal(slot, value)

    @staticmethod
    def typed(slot: Slot, schema_type: str, condition: str, type_check: str) -> str:
        """``condition`` guarded by ``type_check`` — unless the schema guarantees the type: every stored
        value of a field has the type learnt on its first write, or is null (a write of another type is
        error 111). Without the guard the condition reads only the field's expression index (with the
        ACL beside it): a count of 10,000 matches costs 0.7 ms instead of 11 ms reading every row."""
        if slot.schema_type == schema_type:
            return condition
        return f"({condition} AND {type_check})"

    def scalar_equal(self, slot: Slot, value: Any) -> str:
        if value is None:
            return f"({slot.type} IS NULL OR {slot.type} = 'null')"
        if isinstance(value, bool):
            return f"{slot.type} = '{'true' if value else 'false'}'"
        if isinstance(value, (int, float)):
            return self.typed(slot, "Number", f"{slot.value} = {self.p(value)}", f"{slot.type} IN ('integer', 'real')")
        if isinstance(value, str):
            return self.typed(slot, "String", f"{slot.value} = {self.p(value)}", f"{slot.type} = 'text'")
        if isinstance(value, dict) and value.get("__type") == "Date":
            return f"{slot.sub('iso').value} = {self.p(normalize_iso(value.get('iso')))}"
        if isinstance(value, dict) and value.get("__type") in ("Pointer", "Object"):
            return (f"({slot.sub('objectId').value} = {self.p(str(value.get('objectId')))} AND "
                    f"{slot.sub('className').value} = {self.p(str(value.get('className')))})")
        if isinstance(value, dict) and value.get("__type") == "GeoPoint":
            return (f"({slot.sub('latitude').value} = {self.p(value.get('latitude'))} AND "
                    f"{slot.sub('longitude').value} = {self.p(value.get('longitude'))})")
        if isinstance(value, dict) and value.get("__type") == "Polygon":  # stored closed: the query's too
            value = polygon_value(value, "where")  # then compared as any object is (as JSON on PostgreSQL)
        if isinstance(value, (dict, list)):
            return f"({slot.value} = {self.document(value)} AND {slot.type} IN ('object', 'array'))"
        raise ProtocolError(102, f"Invalid query value: {value!r}.")

    def compare(self, slot: Slot, op: str, value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.typed(slot, "Number", f"{slot.value} {op} {self.p(value)}",
                              f"{slot.type} IN ('integer', 'real')")
        if isinstance(value, str):
            return self.typed(slot, "String", f"{slot.value} {op} {self.p(value)}", f"{slot.type} = 'text'")
        if isinstance(value, dict) and value.get("__type") == "Date":
            return f"{slot.sub('iso').value} {op} {self.p(normalize_iso(value.get('iso')))}"
        raise ProtocolError(102, f"Invalid query: a comparison needs a number, a string or a Date, "
                                 f"not {value!r}.")

    def one_of(self, slot: Slot, values: Any, array: bool) -> str:
        if not isinstance(values, list):
            raise ProtocolError(102, "Invalid query: $in and $nin need a list.")
        if not values:
            return "0"
        strings = {type(v) for v in values} == {str}
        pointers = all(isinstance(v, dict) and v.get("__type") == "Pointer" for v in values)
        if not (strings or pointers):
            self.budget.charge_compared_values(len(values))  # before compiling: compiling is the cost

        def predicate(s: Slot) -> str:
            if strings:
                return self.typed(s, "String", f"{s.value} IN ({self.listed(values)})", f"{s.type} = 'text'")
            if pointers:
                ids = self.listed([str(v.get("objectId")) for v in values])
                return f"{s.sub('objectId').value} IN ({ids})"
            return " OR ".join(f"({self.scalar_equal(s, v)})" for v in values)

        return self.contains(slot, array, predicate)

    def in_query(self, slot: Slot, spec: Any, array: bool) -> str:
        if not isinstance(spec, dict) or not isinstance(spec.get("className"), str):
            raise ProtocolError(102, "Invalid query: $inQuery needs {className, where}.")
        if not self.store.has_class(self.conn, spec["className"]):
            return "0"  # a class nobody wrote to yet has no rows (and no table)
        inner = self.alias("t")
        rows = f"SELECT {inner}.objectId FROM {table(spec['className'])} AS {inner} " \
               f"WHERE {self.inner(spec['className'], inner, spec.get('where'))}"
        return self.contains(slot, array, lambda s: f"{s.sub('objectId').value} IN ({rows})")

    def select(self, slot: Slot, spec: Any, array: bool) -> str:
        query = spec.get("query") if isinstance(spec, dict) else None
        if not isinstance(query, dict) or not isinstance(query.get("className"), str) \
                or not isinstance(spec.get("key"), str):
            raise ProtocolError(102, "Invalid query: $select needs {query: {className, where}, key}.")
        self.check_key(query["className"], spec["key"])
        if not self.store.has_class(self.conn, query["className"]):
            return "0"
        inner = self.alias("t")
        picked = Slot.field(f"{inner}.data", *spec["key"].split(".")) if spec["key"] not in COLUMNS \
            else Slot(f"{inner}.{spec['key']}", "'text'")
        rows = f"SELECT {picked.value} FROM {table(query['className'])} AS {inner} " \
               f"WHERE {self.inner(query['className'], inner, query.get('where'))}"
        return self.contains(slot, array, lambda s: f"{s.value} IN ({rows})")

    def related_to(self, alias: str, spec: Any) -> str:
        target = spec.get("object") if isinstance(spec, dict) else None
        if not isinstance(target, dict) or not isinstance(spec.get("key"), str):
            raise ProtocolError(102, "Invalid query: $relatedTo needs {object: pointer, key}.")
        # the members of a relation are part of its owner: the owner must be readable by the caller
        owner_class = target.get("className")
        if not isinstance(owner_class, str) or not self.store.has_class(self.conn, owner_class):
            return "0"
        self.check_key(owner_class, spec["key"])
        owner = self.alias("t")
        readable_owner = self.inner(owner_class, owner, {"objectId": target.get("objectId")})
        return (f"{alias}.objectId IN (SELECT target_id FROM _relations WHERE owner_class = "
                f"{self.p(owner_class)} AND owner_id = {self.p(target.get('objectId'))} "
                f"AND key = {self.p(spec['key'])} AND EXISTS (SELECT 1 FROM {table(owner_class)} AS {owner} "
                f"WHERE {readable_owner}))")

    def relation(self, class_name: str, alias: str, key: str, condition: Any) -> str:
        """A condition on a Relation key is about its members: a pointer (one of the members is it),
        ``$in``/``$nin`` of pointers, ``$ne``, ``$inQuery``/``$notInQuery`` (a member matches a query)."""
        def owners(members: str) -> str:
            return (f"{alias}.objectId IN (SELECT owner_id FROM _relations WHERE owner_class = "
                    f"{self.p(class_name)} AND key = {self.p(key)} AND target_id IN ({members}))")

        def ids(values: Any) -> str:
            if not isinstance(values, list) or not all(
                    isinstance(v, dict) and v.get("__type") in ("Pointer", "Object") for v in values):
                raise ProtocolError(102, f"Invalid query: {key!r} is a Relation; compare it with pointers.")
            return self.listed([str(v.get("objectId")) for v in values]) or "NULL"

        def matching(spec: Any) -> str:
            if not isinstance(spec, dict) or not isinstance(spec.get("className"), str):
                raise ProtocolError(102, "Invalid query: $inQuery needs {className, where}.")
            if not self.store.has_class(self.conn, spec["className"]):
                return "NULL"  # a class nobody wrote to yet has no rows (and no table)
            inner = self.alias("t")
            return f"SELECT {inner}.objectId FROM {table(spec['className'])} AS {inner} " \
                   f"WHERE {self.inner(spec['className'], inner, spec.get('where'))}"

        if not (isinstance(condition, dict) and any(str(k).startswith("$") for k in condition)):
            return owners(ids([condition]))
        handlers = {"$in": lambda v: owners(ids(v)), "$nin": lambda v: f"NOT {owners(ids(v))}",
                    "$ne": lambda v: f"NOT {owners(ids([v]))}", "$inQuery": lambda v: owners(matching(v)),
                    "$notInQuery": lambda v: f"NOT {owners(matching(v))}"}
        clauses = []
        for op, value in condition.items():
            if op not in handlers:
                raise ProtocolError(102, f"Invalid query on the Relation {key!r}: {op} is not supported.")
            clauses.append(handlers[op](value))
        return " AND ".join(f"({c})" for c in clauses)

    # -- order -----------------------------------------------------------------------------------------
    def order(self, class_name: str, alias: str, order: Optional[str]) -> List[str]:
        """ORDER BY terms: nearest first for ``$nearSphere``, then the ``order`` keys."""
        terms = [f"{self.near} ASC"] if self.near else []
        if not order:
            return terms
        schema = self.store.schema(self.conn, class_name)
        # The protocol's null placement: LeanCloud (MongoDB) puts missing values first when ascending,
        # Parse Server on PostgreSQL puts them last.
        nulls_last = self.dialect == "parse"
        keys = order.split(",")
        if len(keys) > MAX_ORDER_KEYS:  # before any is compiled: PostgreSQL answered 1,700 with an error (500)
            raise ProtocolError(102, f"Invalid query: order may name at most {MAX_ORDER_KEYS} keys.")
        for key in keys:
            key = key.strip()
            descending = key.startswith("-")
            key = key.lstrip("-+")
            if not key:
                continue
            if key == "$score":  # a $text search's relevance
                if self.text_score is None:
                    raise ProtocolError(102, "Invalid query: ordering by $score needs a $text search.")
                terms.append(f"{self.text_score} {'DESC' if descending else 'ASC'}")
                continue
            if self.dialect == "parse":
                key = PARSE_STORED_NAMES.get(key, key)  # Parse.com's names of the dates, as Parse Server maps
                if key.startswith("_"):  # Parse's internal fields (_password...)
                    raise ProtocolError(105, f"Invalid field name: {key}.")
            self.check_key(class_name, key)
            if key in COLUMNS:
                expr = f"{alias}.{key}"
            else:
                suffix = {"Date": ("iso",), "Pointer": ("objectId",)}.get(schema.get(key, ("", None))[0], ())
                expr = f"json_extract({alias}.data, {json_path(*key.split('.'), *suffix)})"
            nulls = (" NULLS FIRST" if descending else " NULLS LAST") if nulls_last else ""
            terms.append(f"{expr} {'DESC' if descending else 'ASC'}{nulls}")
        return terms


# -- the operator registry ------------------------------------------------------------------------------
Operator = Callable[[QueryCompiler, Slot, Any, bool], str]


def _negate(op: Operator) -> Operator:
    return lambda c, slot, value, array: f"NOT IFNULL({op(c, slot, value, array)}, 0)"


def _comparison(sql_op: str) -> Operator:
    return lambda c, slot, value, array: c.contains(slot, array, lambda s: c.compare(s, sql_op, value))


def _equal(c: QueryCompiler, slot: Slot, value: Any, array: bool) -> str:
    return c.equal(slot, value, array)


def _exists(c: QueryCompiler, slot: Slot, value: Any, array: bool) -> str:
    if not isinstance(value, bool):
        raise ProtocolError(102, "Invalid query: $exists needs true or false.")
    return f"{slot.type} IS {'NOT ' if value else ''}NULL"


def _all(c: QueryCompiler, slot: Slot, values: Any, array: bool) -> str:
    if not isinstance(values, list):
        raise ProtocolError(102, "Invalid query: $all needs a list.")
    if not values:
        return "0"
    c.budget.charge_compared_values(len(values))
    return " AND ".join(f"({c.contains(slot, True, partial(c.scalar_equal, value=v))})" for v in values)


def _size(c: QueryCompiler, slot: Slot, value: Any, array: bool) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(102, "Invalid query: $size needs an integer.")
    if slot.doc is None:
        return "0"
    return f"({slot.type} = 'array' AND json_array_length({slot.doc}, {json_path(*slot.parts)}) = {c.p(value)})"


def _regex(c: QueryCompiler, slot: Slot, value: Any, array: bool, options: Any = "") -> str:
    if not isinstance(value, str) or not isinstance(options, str):
        raise ProtocolError(102, "Invalid query: $regex and $options need strings.")
    c.budget.charge_regex(value)  # before compiling: compiling is part of the cost
    try:
        compile_regex(value, options)
    except ValueError as exc:
        raise ProtocolError(102, f"Invalid query: bad regular expression {value!r}: {exc}.") from None
    pattern, flags = c.p(value), c.p(options)
    return c.contains(slot, array, lambda s: f"({s.type} = 'text' AND leanorm_regexp({pattern}, {flags}, {s.value}))")


def _point(value: Any) -> Tuple[float, float]:
    if isinstance(value, dict) and value.get("__type") == "GeoPoint":
        lat, lng = value.get("latitude"), value.get("longitude")
    elif isinstance(value, list) and len(value) == 2:  # [longitude, latitude], as in $centerSphere
        lng, lat = value
    else:
        lat = lng = None
    if (not isinstance(lat, (int, float)) or isinstance(lat, bool)
            or not isinstance(lng, (int, float)) or isinstance(lng, bool)):
        raise ProtocolError(102, f"Invalid query: {value!r} is not a GeoPoint.")
    return float(lat), float(lng)


#: relations every app has before they are first written: (class, key) -> target class
SYSTEM_RELATIONS = {("_Role", "users"): "_User", ("_Role", "roles"): "_Role"}

GEO_KEYS = frozenset({"$nearSphere", "$maxDistance", "$maxDistanceInRadians", "$maxDistanceInKilometers",
                      "$maxDistanceInMiles", "$within", "$geoWithin"})


def _geo_intersects(c: QueryCompiler, slot: Slot, value: Any, array: bool) -> str:
    """``$geoIntersects: {$point: GeoPoint}`` on a Polygon field: the polygons holding the point, edge
    included. The point must be a GeoPoint object (error 107, as Parse answers)."""
    point = value.get("$point") if isinstance(value, dict) else None
    if not (isinstance(point, dict) and point.get("__type") == "GeoPoint"):
        raise ProtocolError(107, "bad $geoIntersect value; $point should be GeoPoint")
    lat, lng = _point(point)
    polygon = f"CASE WHEN {slot.sub('__type').value} = 'Polygon' THEN {slot.sub('coordinates').value} END"
    return f"leanorm_polygon_holds({polygon}, {c.p(lat)}, {c.p(lng)})"


def geo(c: QueryCompiler, slot: Slot, ops: Dict[str, Any]) -> str:
    """``$nearSphere`` (with its ``$maxDistance*``), ``$within: {$box}`` and ``$geoWithin:
    {$centerSphere}``, which only make sense together."""
    lat, lng = slot.sub("latitude").value, slot.sub("longitude").value
    clauses = [f"{lat} IS NOT NULL"]
    if "$nearSphere" in ops:
        # floats as literals: the same expression orders the rows, outside the WHERE's parameters
        plat, plng = _point(ops["$nearSphere"])
        distance = f"leanorm_distance({lat}, {lng}, {plat!r}, {plng!r})"
        if slot.doc is not None and slot.doc.split(".")[0] == c.outer:  # a subquery's rows are not ordered
            c.near = c.near or distance
        limits = [(ops.get("$maxDistance"), 1.0), (ops.get("$maxDistanceInRadians"), 1.0),
                  (ops.get("$maxDistanceInKilometers"), EARTH_KM), (ops.get("$maxDistanceInMiles"), EARTH_MILES)]
        for limit, radius in limits:
            if limit is not None:
                if not isinstance(limit, (int, float)) or isinstance(limit, bool):
                    raise ProtocolError(102, "Invalid query: a maximum distance must be a number.")
                clauses.append(f"{distance} <= {float(limit) / radius!r}")
    elif {"$maxDistance", "$maxDistanceInRadians", "$maxDistanceInKilometers", "$maxDistanceInMiles"} & ops.keys():
        raise ProtocolError(102, "Invalid query: a maximum distance needs $nearSphere.")
    box = ops.get("$within", {}).get("$box") if isinstance(ops.get("$within"), dict) else None
    if "$within" in ops:
        if not isinstance(box, list) or len(box) != 2:
            raise ProtocolError(102, "Invalid query: $within needs {$box: [southwest, northeast]}.")
        (alat, alng), (blat, blng) = _point(box[0]), _point(box[1])
        # either pair of opposite corners names the box (Parse Server swaps them as PostgreSQL's box does)
        clauses.append(f"{lat} BETWEEN {c.p(min(alat, blat))} AND {c.p(max(alat, blat))} AND "
                       f"{lng} BETWEEN {c.p(min(alng, blng))} AND {c.p(max(alng, blng))}")
    if "$geoWithin" in ops:
        within = ops["$geoWithin"] if isinstance(ops["$geoWithin"], dict) else {}
        if "$polygon" in within:
            clauses.append(f"leanorm_in_polygon({lat}, {lng}, {c.p(_polygon(c, within['$polygon']))})")
        else:
            sphere = within.get("$centerSphere")
            if not isinstance(sphere, list) or len(sphere) != 2:
                raise ProtocolError(102, "Invalid query: $geoWithin needs $centerSphere or $polygon.")
            (clat, clng), radius = _point(sphere[0]), sphere[1]
            clauses.append(f"leanorm_distance({lat}, {lng}, {c.p(clat)}, {c.p(clng)}) <= {c.p(float(radius))}")
    return " AND ".join(clauses)


def _polygon(c: QueryCompiler, value: Any) -> str:
    """A ``$polygon`` (GeoPoints or ``[longitude, latitude]`` pairs, or a Polygon value) as the JSON
    ``[[lng, lat], ...]`` the SQL function takes; fewer than three points is error 107, as on Parse.
    Its points are charged to the request's budget: each row's test walks every vertex, in Python."""
    points = value.get("coordinates") if isinstance(value, dict) and value.get("__type") == "Polygon" else value
    if not isinstance(points, list) or len(points) < 3:
        raise ProtocolError(107, "bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
    c.budget.charge_polygon(len(points))
    return dumps([[lng, lat] for lat, lng in map(_point, points)])


def _text(c: QueryCompiler, slot: Slot, value: Any, array: bool) -> str:
    """``$text: {$search: {$term, ...}}``: rows whose field (a String, or the strings of an Array) matches
    the search (``text_search``), charged to the request's budget (a matcher run in Python on every row)."""
    try:
        term, language, case_sensitive, diacritic_sensitive = check_search(value)
    except ValueError as exc:
        raise ProtocolError(107, str(exc)) from None
    c.budget.charge_text()
    text = f"CASE WHEN {slot.type} IN ('text', 'array') THEN {slot.value} END"
    stemmer = LANGUAGES[language] or "none"  # Snowball's name for it (``pt``: portuguese), as both stores know it
    score = (f"leanorm_text_score({text}, {c.p(term)}, {c.p(stemmer)}, {int(case_sensitive)}, "
             f"{int(diacritic_sensitive)})")
    if slot.doc is not None and slot.doc.split(".")[0] == c.outer:  # a subquery's rows are not ordered
        c.text_score = c.text_score or score
    return f"{score} IS NOT NULL"


def _contained_by(c: QueryCompiler, slot: Slot, values: Any, array: bool) -> str:
    """``$containedBy: [...]``: an Array field every element of which is one of the values (an empty
    array is; a missing field or another type is not, as on Parse Server with PostgreSQL)."""
    if not isinstance(values, list):
        raise ProtocolError(107, "bad $containedBy: should be an array")
    if slot.doc is None:
        return "0"
    each = c.alias()
    member = c.one_of(Slot.element(each), values, False)
    return (f"({slot.type} = 'array' AND NOT EXISTS (SELECT 1 FROM json_each({slot.doc}, {json_path(*slot.parts)}) "
            f"AS {each} WHERE NOT IFNULL({member}, 0)))")


OPERATORS: Dict[str, Operator] = {
    "$eq": _equal,
    "$ne": _negate(_equal),
    "$lt": _comparison("<"),
    "$lte": _comparison("<="),
    "$gt": _comparison(">"),
    "$gte": _comparison(">="),
    "$in": lambda c, slot, value, array: c.one_of(slot, value, array),
    "$nin": _negate(lambda c, slot, value, array: c.one_of(slot, value, array)),
    "$all": _all,
    "$exists": _exists,
    "$size": _size,
    "$inQuery": lambda c, slot, value, array: c.in_query(slot, value, array),
    "$notInQuery": _negate(lambda c, slot, value, array: c.in_query(slot, value, array)),
    "$select": lambda c, slot, value, array: c.select(slot, value, array),
    "$dontSelect": _negate(lambda c, slot, value, array: c.select(slot, value, array)),
    "$geoIntersects": _geo_intersects,
    "$text": _text,
    "$containedBy": _contained_by,
}

#: the operators whose condition reads rows besides the object's own (``$relatedTo`` is a key of the where)
SUBQUERY_OPERATORS = frozenset({"$inQuery", "$notInQuery", "$select", "$dontSelect", "$relatedTo"})


def reads_other_rows(where: Any) -> bool:
    """Whether ``where`` has a sub-query: its result depends on other rows (and on who reads them)."""
    if isinstance(where, dict):
        return any(key in SUBQUERY_OPERATORS or reads_other_rows(value) for key, value in where.items())
    if isinstance(where, list):
        return any(reads_other_rows(value) for value in where)
    return False
