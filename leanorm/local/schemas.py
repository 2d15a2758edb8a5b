"""The ``schemas`` endpoints: the classes, their fields as writes taught them, and their permissions."""
from __future__ import annotations

import sqlite3
from typing import Any, Dict, List

from .permissions import class_permissions, set_class_permissions
from .protocol import Context, ProtocolError, route
from .store import check_class_name

__all__: List[str] = []


def _schema_json(conn: sqlite3.Connection, ctx: Context, class_name: str) -> Dict[str, Any]:
    fields: Dict[str, Any] = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"},
                              "updatedAt": {"type": "Date"}, "ACL": {"type": "ACL"}}
    for name, (ftype, target) in ctx.store.schema(conn, class_name).items():
        fields[name] = {"type": ftype, **({"targetClass": target} if target else {})}
    answer: Dict[str, Any] = {"className": class_name, "fields": fields}
    rules = class_permissions(ctx, class_name)
    if rules is not None:
        answer["classLevelPermissions"] = rules
    return answer


@route("GET", r"schemas")
def _schemas(ctx: Context) -> Any:
    ctx.require_master()
    with ctx.store.read() as conn:
        schemas = [_schema_json(conn, ctx, name) for name in ctx.store.class_names(conn)]
    if ctx.dialect == "parse":
        return {"results": schemas}
    return {s["className"]: s["fields"] for s in schemas}


@route("GET", r"schemas/([^/]+)")
def _schema(ctx: Context) -> Any:
    ctx.require_master()
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, check_class_name(ctx.args[0])):
            raise ProtocolError(103, f"Class {ctx.args[0]} does not exist.", 400)
        return _schema_json(conn, ctx, ctx.args[0])


@route("PUT", r"schemas/([^/]+)")
@route("POST", r"schemas/([^/]+)")
def _set_schema(ctx: Context) -> Any:
    """Only ``classLevelPermissions`` can be set: fields are learnt from writes."""
    body = ctx.json_body()
    if "classLevelPermissions" in body:
        set_class_permissions(ctx, ctx.args[0], body["classLevelPermissions"])
    ctx.require_master()
    with ctx.store.write() as conn:
        ctx.store.ensure_class(conn, check_class_name(ctx.args[0]))
        return _schema_json(conn, ctx, ctx.args[0])
