"""Class-level permissions, in Parse Server's form: ``{"find": {"*": true}, "create": {"role:Admin":
true}, "delete": {}, "get": {"requiresAuthentication": true}, ...}`` per class, set through
``PUT schemas/<Class>`` with the master key. A setting permits only what it names, as Parse Server reads
it: an operation it leaves out is stored closed (a class without a setting is open to every operation,
and ``null`` removes a setting); the master key passes every check. Object
ACLs are checked as well, after these. ``protectedFields`` (``{principal: [field, ...]}``) rides along
in the same setting, as on Parse Server (``authz.py`` applies it).

This module is the one place a write's permission is decided, whatever route it took (``classes/``, its
aliases ``users``/``roles``/``installations``, batch items, uploads, the status and friendship APIs):

- ``permit``: the class's permission for one operation, after the table of system classes clients may
  not write directly (``CLOSED_TO_CLIENTS``);
- ``permit_new_class``: a client's write that would create a class (``EmbeddedServer.client_class_creation``,
  at most ``EmbeddedServer.max_classes`` classes);
- ``permit_new_fields``: a client's write that would add fields (``addField``, at most
  ``EmbeddedServer.max_fields`` per class);
- ``permit_delegated``: a write the backend makes with the master key on a client's behalf, checked as
  the client's.

A setting this server would store without enforcing (Parse's pointer permissions: ``readUserFields``,
``writeUserFields``, ``pointerFields``, ``userField:`` principals) is refused when it is set (107).
"""
from __future__ import annotations

import json
import re
from typing import Any, Collection, Dict, FrozenSet, Optional, Tuple

from ..routing import Context
from ..answers import ProtocolError
from ..storage.store import SYSTEM_CLASSES, check_class_name
from ..storage.interface import Connection

__all__ = ["OPERATIONS", "CLOSED_TO_CLIENTS", "permit", "permit_new_class", "permit_new_fields",
           "permit_delegated", "class_permissions", "set_class_permissions", "check_protected_fields"]

OPERATIONS = ("get", "find", "count", "create", "update", "delete", "addField")
WRITES: FrozenSet[str] = frozenset({"create", "update", "delete", "addField"})
#: system classes, and what clients may not do to them whatever the class's permissions say (the master
#: key may): ``_Installation`` lists every device's push token and user (as on Parse Server; a device
#: reads and updates its own by id); the others are the backend's records, written through their own
#: API (which checks the caller's permissions with ``permit(..., api=True)`` and writes with the master
#: key), so a client can not forge a status "by" someone else, a follow, a session or a push record
CLOSED_TO_CLIENTS: Dict[str, Tuple[FrozenSet[str], str]] = {
    "_Installation": (frozenset({"find", "count", "delete"}), "it lists every device's push token and user"),
    "_Status": (WRITES, "statuses are published and deleted through the statuses API"),
    "_Followee": (WRITES, "follows are written through users/<id>/friendship/<id>"),
    "_Follower": (WRITES, "follows are written through users/<id>/friendship/<id>"),
    "_Session": (WRITES, "sessions are made by logging in and ended by logging out"),
    "_Notification": (WRITES, "pushes are recorded by POST push"),
    "_JobStatus": (frozenset(OPERATIONS), "job statuses are the server's records, read with the master key"),
    "_PushStatus": (frozenset(OPERATIONS), "push statuses are the server's records, read with the master key"),
}
#: the fields a system class has from the start (Parse Server's default columns; LeanCloud's device
#: fields): its own API writes them, so they are not fields a client adds (``addField``)
BUILT_IN_FIELDS: Dict[str, FrozenSet[str]] = {
    "_User": frozenset({"username", "password", "email", "emailVerified", "authData", "mobilePhoneNumber",
                        "mobilePhoneVerified"}),
    "_Role": frozenset({"name", "users", "roles"}),
    "_Installation": frozenset({"installationId", "deviceToken", "channels", "deviceType", "pushType",
                                "GCMSenderId", "timeZone", "localeIdentifier", "badge", "appVersion", "appName",
                                "appIdentifier", "parseVersion", "deviceProfile", "apnsTopic", "apnsTeamId"}),
    "_File": frozenset({"name", "url", "key", "mime_type", "metaData", "provider", "bucket"}),
}
#: Parse's settings for pointer permissions: not implemented here, so refused rather than stored unread
POINTER_PERMISSIONS = ("readUserFields", "writeUserFields")
#: a principal in an operation's rule: everyone, any logged-in user, a role, a user id
RULE_PRINCIPAL = re.compile(r"\*\Z|requiresAuthentication\Z|role:[0-9A-Za-z_\- ]+\Z|[A-Za-z0-9_-]{1,64}\Z")
#: a principal in ``protectedFields``: the same, with ``authenticated`` for any logged-in user
FIELDS_PRINCIPAL = re.compile(r"\*\Z|authenticated\Z|role:[0-9A-Za-z_\- ]+\Z|[A-Za-z0-9_-]{1,64}\Z")


def class_permissions(ctx: Context, class_name: str) -> Optional[Dict[str, Any]]:
    """The class's stored setting (``None`` when it has none), read once per request; callers must not
    modify it."""
    if class_name not in ctx.class_permissions:
        with ctx.store.read() as conn:
            row = conn.execute("SELECT permissions FROM _class_permissions WHERE class_name=?",
                               (class_name,)).fetchone()
        ctx.class_permissions[class_name] = json.loads(row[0]) if row else None
    return ctx.class_permissions[class_name]


def permit(ctx: Context, class_name: str, operation: str, api: bool = False) -> None:
    """Raise 119 unless the caller may run ``operation`` on ``class_name``. ``api``: the class's own
    endpoint asks before writing with the master key on the caller's behalf (``CLOSED_TO_CLIENTS`` is
    about going around that endpoint, so only the class's permissions apply)."""
    if ctx.caller.master:
        return
    closed = CLOSED_TO_CLIENTS.get(class_name)
    if closed is not None and operation in closed[0] and not api:
        raise ProtocolError(119, f"Clients aren't allowed to perform the {operation} operation on the "
                                 f"{class_name} collection: {closed[1]}.", 403)
    rules = class_permissions(ctx, class_name)
    if rules is None or operation not in rules:
        return
    rule = rules[operation]
    if rule.get("requiresAuthentication") and ctx.caller.user_id:
        return
    if any(rule.get(p) for p in ctx.caller.principals):
        return
    raise ProtocolError(119, f"Permission denied for action {operation} on class {class_name}.", 403)


def permit_new_class(ctx: Context, conn: Connection, class_name: str) -> None:
    """Refuse (119) a client's write that would create the class ``class_name``, unless the server lets
    clients create classes (Parse's ``allowClientClassCreation``) and holds fewer than its
    ``max_classes``: every class is a table (with its indexes) that each new SQLite connection reads. The
    protocol's system classes (a first signup makes ``_User``) and the master key are not counted."""
    if ctx.caller.master or class_name in SYSTEM_CLASSES.values():
        return
    if not ctx.settings.client_class_creation:
        raise ProtocolError(119, f"This user is not allowed to access non-existent class: {class_name} (clients "
                                 "create no classes on this server: leanorm serve --client-class-creation).", 403)
    bound = ctx.settings.max_classes
    if len(ctx.store.class_names(conn)) >= bound:
        raise ProtocolError(119, f"Clients can not create the class {class_name}: this server holds {bound} "
                                 "classes, the most clients may create (EmbeddedServer.max_classes).", 403)


def permit_new_fields(ctx: Context, class_name: str, known: Collection[str], new: Collection[str],
                      api: bool = False) -> None:
    """Refuse (119) a client's write that adds the fields ``new`` to a class whose schema has the fields
    ``known``: the class's ``addField`` permission, and at most ``max_fields`` fields per class (each
    one is read by every write of the class). ``api`` as for ``permit``."""
    new = [name for name in new if name not in BUILT_IN_FIELDS.get(class_name, ())]
    if ctx.caller.master or not new:
        return
    permit(ctx, class_name, "addField", api)
    bound = ctx.settings.max_fields
    if len(known) + len(new) > bound:
        raise ProtocolError(119, f"Clients can not add {len(new)} field(s) to {class_name}: a class has at most "
                                 f"{bound} fields clients may add (EmbeddedServer.max_fields).", 403)


def permit_delegated(ctx: Context, class_name: str, operation: str, fields: Collection[str] = ()) -> None:
    """The caller's permissions for a write the backend makes on its behalf with the master key (a
    status it publishes, the rows of a follow): ``operation`` on the class, and ``addField`` with the
    field bound for the ``fields`` of its own it sends that the class does not have yet."""
    permit(ctx, class_name, operation, api=True)
    if fields and not ctx.caller.master:
        with ctx.store.read() as conn:
            known = ctx.store.schema(conn, class_name)
        permit_new_fields(ctx, class_name, known, [f for f in fields if f not in known], api=True)


def check_protected_fields(value: Any) -> Dict[str, Any]:
    """A ``protectedFields`` setting: ``{principal: [field, ...]}``, else error 107."""
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(f, str) for f in v)
            for k, v in value.items()):
        raise ProtocolError(107, "protectedFields needs {principal: [field, ...]}.")
    for principal in value:
        if principal.startswith("userField:"):
            raise ProtocolError(107, f"protectedFields: {principal!r} (a pointer permission) is not supported "
                                     "by this server; name users or roles.")
        if not FIELDS_PRINCIPAL.match(principal):
            raise ProtocolError(107, f"protectedFields: {principal!r} is not a principal (*, authenticated, "
                                     "role:<name> or a user id).")
    return value


#: a setting that permits nothing: what an operation a setting leaves out is (Parse's empty permissions)
CLOSED_PERMISSIONS: Dict[str, Any] = {**{op: {} for op in OPERATIONS}, "protectedFields": {}}


def _check_rule(operation: str, rule: Any) -> None:
    """One operation's rule: ``{principal: bool}`` over known principals, else error 107."""
    if not isinstance(rule, dict):
        raise ProtocolError(107, f"classLevelPermissions.{operation} needs {{principal: true}}.")
    for principal, allowed in rule.items():
        if principal == "pointerFields":
            raise ProtocolError(107, f"classLevelPermissions.{operation}.pointerFields (pointer permissions) is "
                                     "not supported by this server; name users or roles.")
        if principal == "authenticated":
            raise ProtocolError(107, f"classLevelPermissions.{operation}: 'authenticated' is for protectedFields;"
                                     " an operation open to logged-in users says requiresAuthentication.")
        if not isinstance(principal, str) or not RULE_PRINCIPAL.match(principal) or not isinstance(allowed, bool):
            raise ProtocolError(107, f"classLevelPermissions.{operation}: {principal!r}: {allowed!r} is not "
                                     "a principal (*, requiresAuthentication, role:<name> or a user id) with "
                                     "true or false.")


def set_class_permissions(ctx: Context, class_name: str, rules: Any) -> None:
    """Store a class's ``classLevelPermissions`` (master key), after refusing (107) anything this server
    would not enforce: an unknown operation, a malformed rule, pointer permissions.

    As Parse Server reads a setting, it permits only what it names: an operation it leaves out is
    stored closed (``{}``: the master key alone), and a value naming no operation (``{}``, a number or
    a boolean: ``Parse.Schema.setCLP(1234)``) closes them all. A string or a list names operations by
    position, none valid (107). ``None`` removes the setting: the class is open again, Parse's default."""
    ctx.require_master()
    check_class_name(class_name)
    if rules is None:
        with ctx.store.write() as conn:
            conn.execute("DELETE FROM _class_permissions WHERE class_name=?", (class_name,))
        ctx.class_permissions.pop(class_name, None)
        return
    if isinstance(rules, (bool, int, float)) or rules == []:
        rules = {}
    if not isinstance(rules, dict):
        raise ProtocolError(107, "classLevelPermissions needs {operation: {principal: true}}.")
    rules = {**CLOSED_PERMISSIONS, **rules}
    for operation, rule in rules.items():
        if operation == "protectedFields":
            check_protected_fields(rule)
        elif operation in POINTER_PERMISSIONS:
            raise ProtocolError(107, f"classLevelPermissions.{operation} (pointer permissions) is not supported "
                                     "by this server; name users or roles.")
        elif operation in OPERATIONS:
            _check_rule(operation, rule)
        else:
            raise ProtocolError(107, f"{operation} is not a valid operation for class level permissions: "
                                     f"operations are {', '.join(OPERATIONS)} and protectedFields.")
    with ctx.store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO _class_permissions VALUES (?, ?)", (class_name, json.dumps(rules)))
    ctx.class_permissions.pop(class_name, None)  # this request reads the new setting from now on
