"""The ``schemas`` endpoints, in Parse Server's shape (what Parse Dashboard and ``Parse.Schema`` use): the
classes, their typed fields (``required`` and ``defaultValue`` too), ``indexes`` and class-level
permissions; a class is made, given and relieved of columns, and dropped when empty. Fields are also
learnt from writes (``store.learn``); :mod:`.columns` enforces the options on every write.

The Parse dialect always lists ``_User``, ``_Role`` and ``_Session`` with Parse's default columns and never
``_File`` (files are not a class there); the LeanCloud dialect answers ``{className: fields}`` of the
classes holding data, ``_File`` once files were uploaded."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..access.permissions import OPERATIONS, class_permissions, set_class_permissions
from ..routing import Context, route
from ..answers import ProtocolError
from ..storage.store import check_class_name, check_field_name, table
from ..storage.interface import Connection, FieldOptions, FieldType
from ..storage.values import check_value, type_of

__all__: List[str] = []

#: the columns every object has
BASE_FIELDS: Dict[str, Dict[str, str]] = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"},
                                          "updatedAt": {"type": "Date"}, "ACL": {"type": "ACL"}}
#: the columns Parse gives its system classes whatever was written
SYSTEM_FIELDS: Dict[str, Dict[str, Dict[str, str]]] = {
    "_User": {"username": {"type": "String"}, "password": {"type": "String"}, "email": {"type": "String"},
              "emailVerified": {"type": "Boolean"}, "authData": {"type": "Object"}},
    "_Role": {"name": {"type": "String"}, "users": {"type": "Relation", "targetClass": "_User"},
              "roles": {"type": "Relation", "targetClass": "_Role"}},
    "_Session": {"user": {"type": "Pointer", "targetClass": "_User"}, "installationId": {"type": "String"},
                 "sessionToken": {"type": "String"}, "expiresAt": {"type": "Date"},
                 "createdWith": {"type": "Object"}},
}
#: classes a dialect lists even before anything was written to them (the LeanCloud dialect lists the
#: classes that hold data, what the transfer tools copy)
ALWAYS_LISTED = {"parse": ("_User", "_Role", "_Session"), "leancloud": ()}
#: classes a dialect does not list, show nor make (the Parse dialect keeps files outside the classes);
#: their permissions are set all the same (``PUT``: an upload's ``create`` is checked in both dialects)
HIDDEN = {"parse": ("_File",), "leancloud": ()}
#: Parse's class-level permissions of a class nobody restricted: every operation open to everyone
OPEN_PERMISSIONS: Dict[str, Any] = {
    "find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
    "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": []}}
PLAIN_TYPES = ("String", "Number", "Boolean", "Date", "Object", "Array", "GeoPoint", "File", "Bytes", "Polygon")
TARGETED_TYPES = ("Pointer", "Relation")


def _delete_op(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__op") == "Delete"


def _exists(conn: Connection, ctx: Context, class_name: str) -> bool:
    if class_name in HIDDEN[ctx.dialect]:
        return False
    return class_name in ALWAYS_LISTED[ctx.dialect] or ctx.store.has_class(conn, class_name)


def _fields(conn: Connection, ctx: Context, class_name: str) -> Dict[str, Any]:
    fields: Dict[str, Any] = {**BASE_FIELDS, **SYSTEM_FIELDS.get(class_name, {})}
    options = ctx.store.field_options(conn, class_name)
    for name, (ftype, target) in ctx.store.schema(conn, class_name).items():
        fields[name] = {"type": ftype, **({"targetClass": target} if target else {}), **options.get(name, {})}
    return fields


def _answered_permissions(rules: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The class-level permissions as they are enforced, in Parse's full shape. A setting is stored with
    every operation named (``set_class_permissions`` closes what it leaves out, as Parse does); one
    stored by an earlier version may leave some out, which ``permissions.permit`` lets through, so
    they are answered open and a console shows what holds."""
    if rules is None:
        return OPEN_PERMISSIONS
    return {**{op: {"*": True} for op in OPERATIONS}, **rules}


def _schema_json(conn: Connection, ctx: Context, class_name: str) -> Dict[str, Any]:
    return {"className": class_name, "fields": _fields(conn, ctx, class_name),
            "classLevelPermissions": _answered_permissions(class_permissions(ctx, class_name)),
            "indexes": {"_id_": {"_id": 1}, **ctx.store.named_indexes(conn, class_name)}}


@route("GET", r"schemas")
def _schemas(ctx: Context) -> Any:
    ctx.require_master()
    with ctx.store.read() as conn:
        names = sorted(set(ctx.store.class_names(conn)) | set(ALWAYS_LISTED[ctx.dialect]))
        schemas = [_schema_json(conn, ctx, name) for name in names if name not in HIDDEN[ctx.dialect]]
    if ctx.dialect == "parse":
        return {"results": schemas}
    return {s["className"]: s["fields"] for s in schemas}


@route("GET", r"schemas/([^/]+)")
def _schema(ctx: Context) -> Any:
    ctx.require_master()
    class_name = check_class_name(ctx.args[0])
    with ctx.store.read() as conn:
        if not _exists(conn, ctx, class_name):
            raise ProtocolError(103, f"Class {class_name} does not exist.", 400)
        return _schema_json(conn, ctx, class_name)


def _class_named(ctx: Context, body: Dict[str, Any]) -> str:
    """The class a schema write is for: the path's, which the body's ``className`` must not contradict."""
    named = ctx.args[0] if ctx.args else body.get("className")
    if not named:
        raise ProtocolError(135, "POST schemas needs a class name.")
    if ctx.args and body.get("className") not in (None, named):
        raise ProtocolError(103, f"Class name mismatch between {body['className']} and {named}.")
    if named in HIDDEN[ctx.dialect] and ctx.method == "POST":
        # not a class to make in this dialect; its permissions still hold on every route (PUT: an upload's
        # ``create`` on _File is checked in both dialects)
        raise ProtocolError(103, f"Invalid class name: {named!r}.")
    return check_class_name(named)


def _field_type(class_name: str, name: str, spec: Any) -> Tuple[FieldType, FieldOptions]:
    """The type and options a field's declaration (``{"type": ..., "targetClass": ..., "required": ...,
    "defaultValue": ...}``) asks for, checked as Parse checks them."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ProtocolError(107, f"invalid JSON: field {name} needs a type.")
    kind, target = spec["type"], spec.get("targetClass")
    if kind in TARGETED_TYPES:
        if not target:
            raise ProtocolError(135, f"type {kind} needs a class name")
        check_class_name(target)
    elif kind not in PLAIN_TYPES:
        raise ProtocolError(111, f"invalid field type: {kind}")
    else:
        target = None
    options: FieldOptions = {}
    if spec.get("required"):
        if kind == "Relation":
            raise ProtocolError(111, f"The 'required' option is not applicable for Relation<{target}>")
        options["required"] = True
    if spec.get("defaultValue") is not None:
        if kind == "Relation":
            raise ProtocolError(111, f"The 'default value' option is not applicable for Relation<{target}>")
        default = check_value(spec["defaultValue"], name)
        got = type_of(default)
        if got != (kind, target):
            raise ProtocolError(111, f"schema mismatch for {class_name}.{name} default value; expected "
                                     f"{_type_name((kind, target))} but got {_type_name(got)}")
        # kept as declared, as Parse keeps it (an open Polygon stays open): a create given the default
        # stores it through the write path, which brings it to its stored form
        options["defaultValue"] = spec["defaultValue"]
    return (kind, target), options


def _type_name(ftype: Optional[FieldType]) -> str:
    if ftype is None:
        return "null"
    return ftype[0] + (f"<{ftype[1]}>" if ftype[1] else "")


def _change_fields(conn: Connection, ctx: Context, class_name: str, fields: Any) -> None:
    """Add the declared fields and delete those marked ``{"__op": "Delete"}`` (with their data)."""
    if not isinstance(fields, dict):
        raise ProtocolError(107, "fields needs {name: {type: ...}}.")
    known = ctx.store.schema(conn, class_name)
    fixed = {**BASE_FIELDS, **SYSTEM_FIELDS.get(class_name, {})}
    for name, spec in fields.items():
        if _delete_op(spec):
            if name not in known:
                raise ProtocolError(255, f"Field {name} does not exist, cannot delete.")
            ctx.store.drop_field(conn, class_name, name)
            continue
        check_field_name(name)
        ftype, options = _field_type(class_name, name, spec)
        if name in fixed:
            raise ProtocolError(136, f"field {name} cannot be added")
        if name in known:
            if known[name] != ftype:
                raise ProtocolError(255, f"Field {name} exists, cannot update.")
            continue
        ctx.store.add_field(conn, class_name, name, ftype, options)
        known[name] = ftype


def _change_indexes(conn: Connection, ctx: Context, class_name: str, indexes: Any) -> None:
    """Create the named indexes (``{name: {field: 1}}``) and drop those marked ``{"__op": "Delete"}``."""
    if not isinstance(indexes, dict):
        raise ProtocolError(107, "indexes needs {name: {field: 1}}.")
    existing = ctx.store.named_indexes(conn, class_name)
    fields = set(_fields(conn, ctx, class_name))
    for name, keys in indexes.items():
        if _delete_op(keys):
            if name not in existing:
                raise ProtocolError(102, f"Index {name} does not exist, cannot delete.")
            ctx.store.drop_named_index(conn, class_name, name)
            continue
        if name in existing:
            raise ProtocolError(102, f"Index {name} exists, cannot update.")
        if not isinstance(keys, dict) or not keys or not all(v in (1, -1) for v in keys.values()):
            raise ProtocolError(102, f"Index {name} needs {{field: 1 or -1}}.")
        for key in keys:
            if key.split(".")[0] not in fields:
                raise ProtocolError(102, f"Field {key} does not exist, cannot add index.")
        ctx.store.add_named_index(conn, class_name, name, keys)


def _apply(ctx: Context, class_name: str, body: Dict[str, Any]) -> Any:
    """One schema write, in one transaction: fields, then permissions, then indexes."""
    with ctx.store.write() as conn:
        ctx.store.ensure_class(conn, class_name)
        _change_fields(conn, ctx, class_name, body.get("fields") or {})
        if "classLevelPermissions" in body:  # null: back to the default, as on Parse
            set_class_permissions(ctx, class_name, body["classLevelPermissions"])
        _change_indexes(conn, ctx, class_name, body.get("indexes") or {})
        return _schema_json(conn, ctx, class_name)


@route("POST", r"schemas")
@route("POST", r"schemas/([^/]+)")
def _create_schema(ctx: Context) -> Any:
    """A new class (error 103 when it exists)."""
    ctx.require_master()
    body = ctx.json_body()
    class_name = _class_named(ctx, body)
    with ctx.store.read() as conn:
        if _exists(conn, ctx, class_name):
            raise ProtocolError(103, f"Class {class_name} already exists.")
    return _apply(ctx, class_name, body)


@route("PUT", r"schemas/([^/]+)")
def _update_schema(ctx: Context) -> Any:
    """Change a class. A class not made yet is made (leanorm's rule, kept: setting a new class's
    permissions before its first object is how apps and tests close a class; Parse answers 103)."""
    ctx.require_master()
    body = ctx.json_body()
    return _apply(ctx, _class_named(ctx, body), body)


@route("DELETE", r"schemas/([^/]+)")
def _delete_schema(ctx: Context) -> Any:
    """Drop an empty class; a class holding objects is refused with Parse's 255."""
    ctx.require_master()
    class_name = check_class_name(ctx.args[0])
    if class_name in HIDDEN[ctx.dialect]:
        return {}  # not a class in this dialect: as Parse answers a class it does not have
    with ctx.store.write() as conn:
        if ctx.store.has_class(conn, class_name):
            count = conn.execute(f"SELECT count(*) FROM {table(class_name)}").fetchone()[0]
            if count:
                raise ProtocolError(255, f"Class {class_name} is not empty, contains {count} objects, "
                                         "cannot drop schema.")
        ctx.store.drop_class(conn, class_name)
    ctx.class_permissions.pop(class_name, None)
    return {}
