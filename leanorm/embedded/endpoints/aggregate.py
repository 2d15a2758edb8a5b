"""Parse's ``GET aggregate/<class>`` (master key only, as on Parse Server): ``distinct`` of one key, or
a ``pipeline`` of stages over the class's rows.

Stages: ``$match`` before any ``$group`` (the where-syntax of queries, run in SQL), ``$group`` (``_id``
``null``, ``"$key"`` or an object of them; ``$sum``, ``$avg``, ``$min``, ``$max``, ``$first``, ``$last``
of ``"$key"``, ``$sum`` of a number counts), ``$match`` after ``$group`` (comparisons of the groups'
values: ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``), ``$sort``, ``$skip``, ``$limit``,
``$project`` (keys kept with 1/true) and ``$count``. Others (``$lookup``, ``$unwind``, expressions) are
error 102. As on Parse Server, a group's ``_id`` comes back as ``objectId``, a pointer's as its objectId.

A ``$group`` by String, Number, Boolean or Pointer fields (or by nothing) whose accumulators are counts
and ``$sum``/``$avg``/``$min``/``$max`` of Number fields runs in SQL (``GROUP BY``): no object is loaded.
So does ``distinct``. Other groups (by dates, ``$first``/``$last``) run on the loaded rows.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..access import authz
from ..storage import counters
from ..storage.query_compiler import COLUMNS, QueryCompiler, Slot
from .reads import query
from ..routing import Context, route
from ..answers import ProtocolError
from ..storage.store import check_class_name, table
from ..storage.values import INT64_MAX

__all__: List[str] = []

Row = Dict[str, Any]


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(102, f"Invalid aggregate: {message}.")


def _key(value: Any) -> Optional[str]:
    """The key a ``"$key"`` reference names (``None`` for anything else)."""
    return value[1:] if isinstance(value, str) and value.startswith("$") and len(value) > 1 else None


def _read(row: Row, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _group_key(row: Row, spec: Any) -> Any:
    if spec is None:
        return None
    if isinstance(spec, dict):
        return {name: _group_key(row, inner) for name, inner in spec.items()}
    key = _key(spec)
    if key is None:
        raise _invalid(f"a group _id must be null, \"$key\" or an object of them, not {spec!r}")
    value = _read(row, key)
    # as Parse Server answers it: a pointer's group is its objectId
    return value["objectId"] if isinstance(value, dict) and value.get("__type") == "Pointer" else value


def _numbers(values: List[Any]) -> List[float]:
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


_ACCUMULATORS: Dict[str, Callable[[List[Any]], Any]] = {
    "$sum": lambda values: sum(_numbers(values)),
    "$avg": lambda values: (sum(_numbers(values)) / len(_numbers(values))) if _numbers(values) else None,
    "$min": lambda values: min(_numbers(values), default=None),
    "$max": lambda values: max(_numbers(values), default=None),
    "$first": lambda values: values[0] if values else None,
    "$last": lambda values: values[-1] if values else None,
}


def _group(rows: List[Row], spec: Any) -> List[Row]:
    if not isinstance(spec, dict) or ("_id" not in spec and "objectId" not in spec):
        raise _invalid("$group needs an _id")
    by = spec.get("_id", spec.get("objectId"))
    fields: List[Tuple[str, str, Any]] = []
    for name, accumulator in spec.items():
        if name in ("_id", "objectId"):
            continue
        if not isinstance(accumulator, dict) or len(accumulator) != 1:
            raise _invalid(f"{name} needs one accumulator")
        (op, operand), = accumulator.items()
        if op not in _ACCUMULATORS:
            raise _invalid(f"{op} is not supported")
        fields.append((name, op, operand))
    groups: Dict[str, Tuple[Any, List[Row]]] = {}
    for row in rows:
        value = _group_key(row, by)
        groups.setdefault(repr(value), (value, []))[1].append(row)
    out = []
    for value, members in groups.values():
        result: Row = {"objectId": value}
        for name, op, operand in fields:
            key = _key(operand)
            if key is not None:
                values = [_read(m, key) for m in members]
            elif op == "$sum" and isinstance(operand, (int, float)) and not isinstance(operand, bool):
                values = [operand] * len(members)
            else:
                raise _invalid(f"{name}: {op} takes \"$key\" (or a number for $sum)")
            result[name] = _ACCUMULATORS[op](values)
        out.append(result)
    return out


def _counts_by_key(ctx: Context, class_name: str, where: Any, spec: Any) -> Optional[List[Row]]:
    """A ``$group`` that only counts (``{"_id": "$key", "name": {"$sum": 1}}``: every accumulator a
    ``$sum`` of an integer) by a String field, answered in SQL without loading the rows: from the field's
    counter (``counters.py``) when nothing is matched first, else by ``GROUP BY`` on the matched rows.
    ``None`` for any other ``$group``, which runs on the loaded rows. (String only: a group's value is
    then the same in SQL as read from the row, and the sums of integers are exact.)"""
    if not isinstance(spec, dict) or set(spec) & {"_id", "objectId"} != {"_id"}:
        return None
    key = _key(spec["_id"])
    sums: Dict[str, int] = {name: acc["$sum"] for name, acc in spec.items()
                            if name != "_id" and isinstance(acc, dict) and len(acc) == 1
                            and type(acc.get("$sum")) is int}
    if key is None or len(sums) != len(spec) - 1:
        return None
    check_class_name(class_name)
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, class_name) or \
                ctx.store.schema(conn, class_name).get(key, ("",))[0] != "String":
            return None
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, authz.ReadPolicy(ctx))
        cond = compiler.readable(class_name, "t0", where)
        groups = counters.count_by(conn, compiler, class_name, key) if not where else None
        if groups is None:
            value = compiler.slot("t0", {}, key)[0].value
            groups = conn.execute(f"SELECT {value}, COUNT(*) FROM {table(class_name)} AS t0 WHERE {cond} "
                                  f"GROUP BY {value}", compiler.params).fetchall()
    return [{"objectId": value, **{name: each * n for name, each in sums.items()}} for value, n in groups]


#: a group's key types SQL reads as the row would (a pointer by its objectId)
_SQL_KEY_TYPES = {"String", "Number", "Boolean", "Pointer"}
_SQL_ACCUMULATORS = {"$sum": "COALESCE(SUM({}), 0)", "$avg": "AVG({})", "$min": "MIN({})", "$max": "MAX({})"}


def _sql_slot(schema: Dict[str, Any], key: str) -> Optional[Slot]:
    """Where SQL reads a group key or a number (``None`` for what it cannot read as the row would)."""
    if key == "objectId":
        return Slot("t0.objectId", "'text'")
    kind = schema.get(key, ("",))[0]
    if "." in key or kind not in _SQL_KEY_TYPES:
        return None
    return Slot.field("t0.data", key, "objectId") if kind == "Pointer" else Slot.field("t0.data", key)


def _sql_value(value: Any, json_type: Optional[str]) -> Any:
    """A value SQL read with its ``json_type``, as the row holds it."""
    if json_type in ("true", "false"):
        return json_type == "true"
    if json_type in ("object", "array"):
        return json.loads(value)
    return None if json_type in (None, "null") else value


def _group_in_sql(ctx: Context, class_name: str, where: Any, spec: Any) -> Optional[List[Row]]:
    """A ``$group`` answered by ``GROUP BY`` on the matched rows (see the module docstring); ``None`` for
    one SQL cannot answer as ``_group`` would on the rows. A group of nothing over no row is no group."""
    if not isinstance(spec, dict) or set(spec) & {"_id", "objectId"} != {"_id"}:
        return None
    by = spec["_id"]
    if by is None:
        keys: Dict[str, str] = {}
    elif isinstance(by, dict) and by and all(_key(v) for v in by.values()):
        keys = {name: str(_key(v)) for name, v in by.items()}
    elif _key(by) is not None:
        keys = {"": str(_key(by))}
    else:
        return None
    check_class_name(class_name)
    authz.ReadPolicy(ctx).permit(class_name, "find")
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, class_name):
            return []
        schema = ctx.store.schema(conn, class_name)
        columns: List[str] = ["COUNT(*)"]
        for key in keys.values():
            slot = _sql_slot(schema, key)
            if slot is None:
                return None
            columns += [slot.value, slot.type]
        grouped = len(columns)
        for name, accumulator in spec.items():
            if name == "_id":
                continue
            if not isinstance(accumulator, dict) or len(accumulator) != 1:
                return None
            (op, operand), = accumulator.items()
            number_key = _key(operand)
            if op == "$sum" and type(operand) in (int, float):
                columns.append(f"COUNT(*) * {float(operand) if type(operand) is float else int(operand)}")
                continue
            if number_key is None or op not in _SQL_ACCUMULATORS or schema.get(number_key, ("",))[0] != "Number":
                return None
            slot = _sql_slot(schema, number_key)
            if slot is None:
                return None
            number = f"CASE WHEN {slot.type} IN ('integer', 'real') THEN {slot.value} END"
            columns.append(_SQL_ACCUMULATORS[op].format(number))
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, authz.ReadPolicy(ctx))
        cond = compiler.readable(class_name, "t0", where)
        group_by = f" GROUP BY {', '.join(columns[1:grouped])}" if keys else ""
        found = conn.execute(f"SELECT {', '.join(columns)} FROM {table(class_name)} AS t0 WHERE {cond}{group_by}",
                             compiler.params).fetchall()
    names = [n for n in spec if n != "_id"]
    out: List[Row] = []
    for record in found:
        if not record[0]:
            continue
        values = [_sql_value(record[i], record[i + 1]) for i in range(1, grouped, 2)]
        group: Any = None if not keys else values[0] if "" in keys else dict(zip(keys, values))
        out.append({"objectId": group, **dict(zip(names, record[grouped:]))})
    return out


def _distinct_slot(key: str) -> Slot:
    """Where ``distinct`` reads ``key``: a column of the row (as the row answers it), or its document."""
    if key in COLUMNS:
        return Slot(f"t0.{key}", "'text'")
    if key == "ACL":
        return Slot("t0.acl", "CASE WHEN t0.acl IS NULL THEN NULL ELSE 'object' END")
    return Slot.field("t0.data", *key.split("."))


def _distinct_in_sql(ctx: Context, class_name: str, where: Any, key: str) -> List[Any]:
    """The distinct values of ``key`` among the rows matching ``where`` (``SELECT DISTINCT``)."""
    slot = _distinct_slot(key)
    check_class_name(class_name)
    authz.ReadPolicy(ctx).permit(class_name, "find")
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, class_name):
            return []
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, authz.ReadPolicy(ctx))
        cond = compiler.readable(class_name, "t0", where)
        found = conn.execute(f"SELECT DISTINCT {slot.value}, {slot.type} FROM {table(class_name)} AS t0 "
                             f"WHERE {cond} AND IFNULL({slot.type}, 'null') != 'null'", compiler.params).fetchall()
    return [_sql_value(value, json_type) for value, json_type in found]


_COMPARISONS: Dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b, "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b, "$lte": lambda a, b: a is not None and a <= b,
}


def _match_groups(rows: List[Row], spec: Any) -> List[Row]:
    """A ``$match`` after ``$group``: the groups whose values pass every comparison."""
    if not isinstance(spec, dict):
        raise _invalid("$match needs {key: condition}")
    tests: List[Tuple[str, str, Any]] = []
    for key, condition in spec.items():
        key = "objectId" if key == "_id" else key
        ops = condition if isinstance(condition, dict) and condition and all(
            isinstance(k, str) and k.startswith("$") for k in condition) else {"$eq": condition}
        for op, operand in ops.items():
            if op not in _COMPARISONS or isinstance(operand, (dict, list)):
                raise _invalid(f"a $match after $group compares values with {', '.join(_COMPARISONS)}")
            tests.append((key, op, operand))
    try:
        return [r for r in rows if all(_COMPARISONS[op](_read(r, key), operand) for key, op, operand in tests)]
    except TypeError:
        raise _invalid("a $match after $group compares values of one type") from None


def _sort(rows: List[Row], spec: Any) -> List[Row]:
    if not isinstance(spec, dict) or not spec:
        raise _invalid("$sort needs {key: 1 or -1}")
    for key, direction in reversed(list(spec.items())):
        key = "objectId" if key == "_id" else key
        present = [r for r in rows if _read(r, key) is not None]
        missing = [r for r in rows if _read(r, key) is None]
        present.sort(key=lambda r: _read(r, key), reverse=direction == -1)
        rows = missing + present if direction != -1 else present + missing
    return rows


def _count(rows: List[Row], name: Any) -> List[Row]:
    if not isinstance(name, str) or not name:
        raise _invalid("$count needs a name")
    return [{name: len(rows)}]


def _project(rows: List[Row], spec: Any) -> List[Row]:
    if not isinstance(spec, dict):
        raise _invalid("$project needs {key: 1}")
    kept = [("objectId" if k == "_id" else k) for k, v in spec.items() if v in (1, True)]
    return [{k: r[k] for k in ["objectId", *kept] if k in r} for r in rows]


def _count_arg(value: Any, stage: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(f"{stage} needs a non-negative integer")
    return value


_STAGES: Dict[str, Callable[[List[Row], Any], List[Row]]] = {
    "$group": _group,
    "$sort": _sort,
    "$skip": lambda rows, n: rows[_count_arg(n, "$skip"):],
    "$limit": lambda rows, n: rows[:_count_arg(n, "$limit")],
    "$project": _project,
    "$count": _count,
}


def _stages(pipeline: Any) -> List[Tuple[str, Any]]:
    if isinstance(pipeline, dict):  # Parse also takes one object of stages
        pipeline = [{name: spec} for name, spec in pipeline.items()]
    if not isinstance(pipeline, list):
        raise _invalid("pipeline must be a list of stages")
    stages: List[Tuple[str, Any]] = []
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            raise _invalid("each stage is one {$stage: spec}")
        stages.extend(stage.items())
    return stages


@route("GET", r"aggregate/([^/]+)")
def _aggregate(ctx: Context) -> Any:
    ctx.require_master()
    class_name = ctx.args[0]
    where = ctx.json_param("where") or {}
    distinct = ctx.params.get("distinct")
    if distinct:
        return {"results": _distinct_in_sql(ctx, class_name, where, distinct)}
    stages = _stages(ctx.json_param("pipeline", []))
    matches = [where] if where else []
    while stages and stages[0][0] == "$match":  # run in SQL, with the caller's ACL view
        matches.append(stages.pop(0)[1])
    where = {"$and": matches} if len(matches) > 1 else (matches or [{}])[0]
    counted = None
    if stages and stages[0][0] == "$group":
        counted = _counts_by_key(ctx, class_name, where, stages[0][1])
        if counted is None:
            counted = _group_in_sql(ctx, class_name, where, stages[0][1])
    if counted is not None:
        rows, stages, grouped = counted, stages[1:], True
    else:
        rows, _ = query(ctx, class_name, where, limit=INT64_MAX)
        grouped = False
    for name, spec in stages:
        if name == "$match" and grouped:
            rows = _match_groups(rows, spec)
            continue
        if name not in _STAGES:
            raise _invalid(f"the embedded backend does not run {name}" + (" after other stages"
                                                                          if name == "$match" else ""))
        rows = _STAGES[name](rows, spec)
        grouped = grouped or name == "$group"
    return {"results": rows}
