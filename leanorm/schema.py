"""Class schemas, class-level permissions and indexes.

Class-level permissions (CLP) are Parse Server's form: ``{operation: {principal: True}}`` with the
operations ``get find count create update delete addField`` and the principals ``"*"``, a user id,
``"role:<name>"`` or ``"requiresAuthentication"``. An operation left out is closed (the master key
alone), on Parse Server and on the embedded backend alike. They are set with the master key on both;
LeanCloud sets them in its console only.

>>> import leanorm
>>> client = leanorm.connect("local://:memory:", default=False)
>>> with leanorm.using(client):
...     set_class_permissions("Secret", {"find": {"requiresAuthentication": True}, "delete": {}})
...     class_permissions("Secret")["delete"]
{}
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Type, Union

from .auth_context import using_master
from .client import Client
from .config import get_client
from .errors import LeanCloudError, NotSupported
from .fields import PointerField

__all__ = ["set_class_permissions", "class_permissions", "schema", "create_index"]

ModelOrName = Union[str, Type[Any]]


def _name(model: ModelOrName) -> str:
    return model if isinstance(model, str) else model._meta.class_name


def _require_schema_api(client: Optional[Client]) -> Client:
    client = get_client(client)
    client.require("schema_api", "class-level permissions through the API (set them in the LeanCloud console)")
    return client


def schema(model: ModelOrName, *, client: Optional[Client] = None) -> Dict[str, Any]:
    """The backend's schema of a class: ``{"className", "fields": {name: {"type", ...}}, ...}``."""
    with using_master():
        return get_client(client).request("GET", f"schemas/{_name(model)}")


def set_class_permissions(model: ModelOrName, rules: Dict[str, Dict[str, bool]],
                          protected_fields: Optional[Dict[str, List[str]]] = None, *,
                          client: Optional[Client] = None) -> None:
    """Set the class-level permissions of a model's class (master key; creates the class if needed):
    ``rules`` replaces the class's setting, and an operation it leaves out is closed.
    ``protected_fields`` (``{principal: [field, ...]}``, Parse's ``protectedFields``) hides fields from
    those principals: they neither see nor query them (docs/security.md)."""
    client = _require_schema_api(client)
    name = _name(model)
    permissions: Dict[str, Any] = dict(rules)
    if protected_fields is not None:
        permissions["protectedFields"] = protected_fields
    body = {"className": name, "classLevelPermissions": permissions}
    with using_master():
        try:
            client.request("PUT", f"schemas/{name}", body=body)
        except LeanCloudError as exc:
            if exc.code != 103:  # Parse: the class does not exist yet
                raise
            client.request("POST", f"schemas/{name}", body=body)


def class_permissions(model: ModelOrName, *, client: Optional[Client] = None) -> Optional[Dict[str, Any]]:
    """The class-level permissions of a model's class, in Parse's full shape (a class nobody restricted answers
    every operation open); None when the class does not exist."""
    client = _require_schema_api(client)
    try:
        return schema(model, client=client).get("classLevelPermissions")
    except LeanCloudError as exc:
        if exc.code == 103:
            return None
        raise


def _wire_key(model: ModelOrName, field: str) -> str:
    """The stored key of ``field``: a model's field name becomes its wire name (``db_field``); a dotted
    path keeps its tail (``profile.city``); anything else is taken as the wire key itself."""
    if isinstance(model, str):
        return field
    head, dot, rest = field.partition(".")
    known = model._meta.query_fields.get(head)
    if known is None:
        return field
    return f"{known.db_field}{dot}{rest}"


def create_index(model: ModelOrName, field: str, *, unique: bool = False, client: Optional[Client] = None) -> str:
    """Create an index on ``model``'s ``field`` (a model field name, its wire name, or ``a.b`` inside an
    object field) and return its name; creating it again does nothing. LeanCloud keeps indexes in its
    console, not in its data export: recreate them with this (or ``leanorm index``) after an import.

    - the embedded backend (``local://``): an SQLite expression index; ``unique=True`` makes a second object
      with the same value fail with error 137, as LeanCloud's unique index does (error 137 here too when
      existing objects already share a value)
    - Parse Server: the schema API's ``indexes`` (master key; a field its schema lacks is declared first,
      with the model's type); Parse Server creates only plain indexes there, so ``unique=True`` raises
      :class:`~leanorm.errors.NotSupported` (create it in its database)
    - LeanCloud, and ``leanorm serve`` over HTTP: :class:`~leanorm.errors.NotSupported` (the console, or
      ``leanorm index local://app.sqlite3 Class.field`` on the served database file)
    """
    client = get_client(client)
    name, key = _name(model), _wire_key(model, field)
    if client.embedded_server is not None:
        return client.embedded_server.create_index(name, key, unique)
    if client.backend != "parse":
        raise NotSupported("creating indexes through the API", client.backend,
                           "LeanCloud sets indexes in its console; for `leanorm serve`, run "
                           "`leanorm index local://DATABASE Class.field` on the database it serves")
    if unique:
        raise NotSupported("unique indexes", client.backend,
                           "Parse Server's schema API creates plain indexes only; create a unique one in its "
                           "database (MongoDB or PostgreSQL)")
    index = f"{key}_1"
    body: Dict[str, Any] = {"className": name, "indexes": {index: {key: 1}}}
    with using_master():
        known = _schema_fields(client, name)
        if known is None or key.split(".")[0] not in known:
            # Parse indexes only a field its schema has: declare it first, with the model's type
            declared = _parse_field(model, key)
            if declared is None:
                raise NotSupported("an index on a field Parse Server's schema lacks", client.backend,
                                   f"{name}.{key} is not in the class's schema yet: save an object with it first, "
                                   "or pass the model, whose field type is then declared")
            body["fields"] = {key: declared}
        try:
            answer = client.request("POST" if known is None else "PUT", f"schemas/{name}", body=body)
        except LeanCloudError as exc:
            if not (exc.code == 102 and "exists" in exc.message):  # already there: as on the embedded backend
                raise
            return index
    # Parse answers the class's schema: a server that took the request but not the index says so here
    if not isinstance(answer, dict) or index not in (answer.get("indexes") or {}):
        raise NotSupported("indexes through the schema API", client.backend,
                           f"the server answered without the index {index!r}: it ignores schema indexes")
    return index


def _schema_fields(client: Client, class_name: str) -> Optional[Dict[str, Any]]:
    """The fields of a class's schema (master key), None when the class has none yet."""
    try:
        answer = client.request("GET", f"schemas/{class_name}")
    except LeanCloudError as exc:
        if exc.code == 103:
            return None
        raise
    fields = answer.get("fields") if isinstance(answer, dict) else None
    return fields if isinstance(fields, dict) else {}


#: a model field's schema type by its class (or a base class) name; files live in another module
_SCHEMA_TYPES = {"StringField": "String", "IntegerField": "Number", "FloatField": "Number",
                 "BooleanField": "Boolean", "DateTimeField": "Date", "GeoPointField": "GeoPoint",
                 "ListField": "Array", "DictField": "Object", "FileField": "File", "BytesField": "Bytes"}


def _parse_field(model: ModelOrName, key: str) -> Optional[Dict[str, Any]]:
    """The schema entry of ``model``'s field stored as ``key`` (``{"type": ...}``), None when unknown."""
    if isinstance(model, str) or "." in key:
        return None
    field = model._meta.by_db.get(key)
    if field is None:
        return None
    if isinstance(field, PointerField):
        return {"type": "Pointer", "targetClass": field.target._meta.class_name}
    for kind in type(field).__mro__:
        if kind.__name__ in _SCHEMA_TYPES:
            return {"type": _SCHEMA_TYPES[kind.__name__]}
    return None
