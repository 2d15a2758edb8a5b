"""Class schemas and class-level permissions.

Class-level permissions (CLP) are Parse Server's form: ``{operation: {principal: True}}`` with the
operations ``get find count create update delete addField`` and the principals ``"*"``, a user id,
``"role:<name>"`` or ``"requiresAuthentication"``. An operation left out stays open. They are set with
the master key on Parse Server and on the embedded backend; LeanCloud sets them in its console only.

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

__all__ = ["set_class_permissions", "class_permissions", "schema"]

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
    """Set the class-level permissions of a model's class (master key; creates the class if needed).
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
