"""Who may read what, in one place: the rules every read path of the embedded backend applies.

A read of a class (find, get, count, CQL, scan, ``include``, the inner query of ``$inQuery``/``$select``,
the owner of ``$relatedTo``, batch items) passes the class's class-level permissions and the object
ACLs of the rows it reads (``permissions.permit``, ``QueryCompiler.acl``); this module adds what the
caller may *see* of a row: **protected fields**, as Parse Server's ``protectedFields``.

``protectedFields`` maps principals (``*``, ``authenticated``, a user id, ``role:<name>``) to the fields
hidden from them; a caller matching several entries has hidden only what every matching entry hides
(a role listed with ``[]`` sees everything). The class's own setting (``classLevelPermissions
.protectedFields`` through the schema API) wins over the server's (``leanorm serve --protected-fields``),
which wins over the default: ``_User``'s ``email``, ``mobilePhoneNumber`` and ``authData`` are hidden from
everyone but the user itself. A field hidden from a caller can not be queried or sorted on by it either
(error 119), dotted paths included, so a ``where`` is never an oracle for what the caller cannot read.

Principals and ids: a client may choose an object's id only where the server allows it
(``allow_custom_object_id``) and only in the form ``[A-Za-z0-9]{1,64}``, so a user's id can never read as
``*`` or ``role:...`` in an ACL. Role names follow Parse: ``[0-9A-Za-z_\\- ]+``, unique, and never renamed.
"""
from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ...protocol.ids import OBJECT_ID
from .permissions import check_protected_fields, class_permissions, permit
from ..routing import Context
from ..answers import ProtocolError
from ..budget import Budget
from ..storage.store import table
from ..storage.interface import Connection

__all__ = ["ReadPolicy", "DEFAULT_PROTECTED_FIELDS", "OBJECT_ID", "ROLE_NAME", "check_protected_fields",
           "client_object_id", "check_role_write", "check_user_write", "check_delegated_fields"]

ROLE_NAME = re.compile(r"[0-9A-Za-z_\- ]+\Z")
#: hidden from every caller but the user itself (and the master key) unless configured otherwise
DEFAULT_PROTECTED_FIELDS: Dict[str, Dict[str, List[str]]] = {
    "_User": {"*": ["email", "mobilePhoneNumber", "authData"]}}
#: never queryable without the master key, whatever protectedFields say (they are credentials)
SECRET_FIELDS = ("ACL", "password", "sessionToken", "authData")
#: hidden from everyone but the user itself, whatever protectedFields say (as on Parse Server): an
#: anonymous account's id there is its whole credential
ALWAYS_HIDDEN = {"_User": frozenset({"authData"})}
#: _User fields only the backend (or the master key) sets: they record what a code proved
SERVER_OWNED = {"email": "emailVerified", "mobilePhoneNumber": "mobilePhoneVerified"}
#: what only the master key sets in a write: the id, the timestamps (and hook control, the ``__`` keys)
MASTER_SET_FIELDS = ("objectId", "createdAt", "updatedAt")


class ReadPolicy:
    """The read rules for one request's caller; class settings are read once per request.

    :meth:`reveal` is the one read filter: every answer carrying an object's data passes it (query rows,
    objects ``include`` expands, File values expanded into their ``_File`` object, write answers), so
    no path shows more of an object than a ``GET`` of it would."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._hidden: Dict[str, FrozenSet[str]] = {}
        self._allowed: Dict[Tuple[str, str], bool] = {}

    @property
    def master(self) -> bool:
        return self.ctx.caller.master

    @property
    def budget(self) -> Budget:
        """The request's cost budget (what the query compiler charges)."""
        return self.ctx.budget

    def permit(self, class_name: str, operation: str = "find") -> None:
        """Error 119 unless the class-level permissions let the caller run ``operation``."""
        permit(self.ctx, class_name, operation)

    def allowed(self, class_name: str, operation: str = "find") -> bool:
        if (class_name, operation) not in self._allowed:
            try:
                self.permit(class_name, operation)
            except ProtocolError:
                self._allowed[class_name, operation] = False
            else:
                self._allowed[class_name, operation] = True
        return self._allowed[class_name, operation]

    def can_read(self, acl: Optional[Mapping[str, Any]]) -> bool:
        """Whether an object's ACL (``None``: no ACL, public) lets the caller read it."""
        return self.master or acl is None or any(
            isinstance(acl.get(p), dict) and acl[p].get("read") for p in self.ctx.caller.principals)

    def reveal(self, class_name: str, obj: Dict[str, Any], operation: str = "get") -> Optional[Dict[str, Any]]:
        """The read filter: ``obj`` (a stored object, its ``ACL`` included) as the caller may see it.
        ``None`` when the class's permissions for ``operation`` or the object's ACL keep it from the
        caller; else ``obj`` (modified in place) without the fields hidden from the caller."""
        if self.master:
            return obj
        if not self.allowed(class_name, operation) or not self.can_read(obj.get("ACL")):
            return None
        return self.visible(class_name, obj)

    def hidden(self, class_name: str) -> FrozenSet[str]:
        """The top-level fields of ``class_name`` the caller may not see (nor query) in others' objects."""
        if self.master:
            return frozenset()
        if class_name not in self._hidden:
            rules = class_permissions(self.ctx, class_name) or {}
            config: Optional[Mapping[str, List[str]]] = rules.get("protectedFields")
            if config is None:
                config = self.ctx.settings.protected_fields.get(class_name, DEFAULT_PROTECTED_FIELDS.get(class_name, {}))
            caller = self.ctx.caller
            lists = [set(fields) for principal, fields in config.items()
                     if principal in caller.principals or (principal == "authenticated" and caller.user_id)]
            configured = frozenset(set.intersection(*lists)) if lists else frozenset()
            self._hidden[class_name] = configured | ALWAYS_HIDDEN.get(class_name, frozenset())
        return self._hidden[class_name]

    def check_key(self, class_name: str, key: str) -> None:
        """Refuse a condition or sort on ``key`` (a dotted path too) the caller may not see."""
        if self.master:
            return
        root = key.lstrip("-+").split(".")[0]
        if root in SECRET_FIELDS or root in self.hidden(class_name):
            raise ProtocolError(119, f"This user is not allowed to query {root} on class {class_name}.", 403)

    def visible(self, class_name: str, obj: Dict[str, Any]) -> Dict[str, Any]:
        """``obj`` without the fields hidden from the caller (a user sees all of its own ``_User``)."""
        hidden = self.hidden(class_name)
        if hidden and not (class_name == "_User" and obj.get("objectId") == self.ctx.caller.user_id):
            for key in hidden:
                obj.pop(key, None)
        return obj


def client_object_id(ctx: Context, value: Any) -> str:
    """The objectId a create asked for: the master key, or any client where the server allows custom
    ids, may choose one in the form ``[A-Za-z0-9]{1,64}``; error 105 otherwise."""
    if not (ctx.caller.master or ctx.settings.allow_custom_object_id):
        raise ProtocolError(105, "objectId is an invalid field name: this server does not accept "
                                 "client-chosen objectIds (leanorm serve --allow-custom-object-id).")
    if not isinstance(value, str) or not OBJECT_ID.match(value):
        raise ProtocolError(104, "Invalid objectId: 1 to 64 letters and digits.")
    return value


def check_role_write(conn: Connection, ctx: Context, creating: bool, doc: Dict[str, Any],
                     body: Dict[str, Any]) -> None:
    """A role's name: set once on create, a valid name no other role has (exact match); never changed."""
    if not creating:
        if "name" in body and body["name"] != doc.get("name"):
            raise ProtocolError(139, "A role's name can only be set before it has been saved.")
        return
    name = body.get("name")
    if not isinstance(name, str) or not ROLE_NAME.match(name):
        raise ProtocolError(139, "A role's name needs letters, digits, '_', '-' or spaces.")
    if ctx.store.has_class(conn, "_Role") and conn.execute(
            f"SELECT 1 FROM {table('_Role')} WHERE json_extract(data, '$.name') = ?", (name,)).fetchone():
        raise ProtocolError(137, f"A role named {name!r} already exists.")
    if ctx.dialect == "leancloud" and not isinstance(body.get("ACL"), dict):  # LeanCloud refuses it; Parse not
        raise ProtocolError(1, "A role must have an ACL.")


def check_user_write(ctx: Context, stored: Dict[str, Any], body: Dict[str, Any]) -> Dict[str, Any]:
    """A ``_User`` write with the verified flags as the server owns them: a client may not set them
    (error 119), and a changed email or phone number is no longer verified."""
    body = dict(body)
    for address, flag in SERVER_OWNED.items():
        if flag in body and not ctx.caller.master:
            raise ProtocolError(119, f"Clients aren't allowed to set {flag}.", 403)
        if address in body and body[address] != stored.get(address) and flag not in body:
            body[flag] = False
    return body


def check_delegated_fields(ctx: Context, fields: Mapping[str, Any], what: str) -> None:
    """Refuse (105) keys only the master key may set in ``fields``: what a client sends for the backend to
    store with the master key on its behalf (a status's data, a follow's attributes), where the write
    itself would take them (a chosen id or timestamp, ``__ignore_hooks`` skipping the app's hooks)."""
    if ctx.caller.master:
        return
    for key in fields:
        if key in MASTER_SET_FIELDS or key.startswith("__"):
            raise ProtocolError(105, f"Invalid field name in {what}: {key} can not be set by a client.")
