"""Class-level permissions, in Parse Server's form: ``{"find": {"*": true}, "create": {"role:Admin":
true}, "delete": {}, "get": {"requiresAuthentication": true}, ...}`` per class, set through
``PUT schemas/<Class>`` with the master key. An operation a class's permissions do not name stays open
(a class without permissions is open to every operation); the master key passes every check. Object
ACLs are checked as well, after these. ``protectedFields`` (``{principal: [field, ...]}``) rides along
in the same setting, as on Parse Server (``authz.py`` applies it)."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from .protocol import Context, ProtocolError
from .store import check_class_name

__all__ = ["OPERATIONS", "permit", "class_permissions", "set_class_permissions", "check_protected_fields"]

OPERATIONS = ("get", "find", "count", "create", "update", "delete", "addField")
#: what clients may never do to ``_Installation`` (as on Parse Server): it lists every device's push token
#: and user; a device reads and updates its own installation by id
CLOSED_INSTALLATION_OPERATIONS = ("find", "count", "delete")


def class_permissions(ctx: Context, class_name: str) -> Optional[Dict[str, Any]]:
    """The class's stored setting (``None`` when it has none), read once per request; callers must not
    modify it."""
    if class_name not in ctx.class_permissions:
        with ctx.store.read() as conn:
            row = conn.execute("SELECT permissions FROM _class_permissions WHERE class_name=?",
                               (class_name,)).fetchone()
        ctx.class_permissions[class_name] = json.loads(row[0]) if row else None
    return ctx.class_permissions[class_name]


def permit(ctx: Context, class_name: str, operation: str) -> None:
    """Raise 119 unless the caller may run ``operation`` on ``class_name``."""
    if ctx.caller.master:
        return
    if class_name == "_Installation" and operation in CLOSED_INSTALLATION_OPERATIONS:
        raise ProtocolError(119, f"Clients aren't allowed to perform the {operation} operation on the "
                                 "installation collection.", 403)
    rules = class_permissions(ctx, class_name)
    if rules is None or operation not in rules:
        return
    rule = rules[operation]
    if rule.get("requiresAuthentication") and ctx.caller.user_id:
        return
    if any(rule.get(p) for p in ctx.caller.principals):
        return
    raise ProtocolError(119, f"Permission denied for action {operation} on class {class_name}.", 403)


def check_protected_fields(value: Any) -> Dict[str, Any]:
    """A ``protectedFields`` setting: ``{principal: [field, ...]}``, else error 107."""
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(f, str) for f in v)
            for k, v in value.items()):
        raise ProtocolError(107, "protectedFields needs {principal: [field, ...]}.")
    return value


def set_class_permissions(ctx: Context, class_name: str, rules: Any) -> None:
    ctx.require_master()
    check_class_name(class_name)
    if isinstance(rules, dict) and "protectedFields" in rules:
        check_protected_fields(rules["protectedFields"])
        operations = {k: v for k, v in rules.items() if k != "protectedFields"}
    else:
        operations = rules
    if not isinstance(operations, dict) or not set(operations) <= set(OPERATIONS) or not all(
            isinstance(r, dict) and all(isinstance(v, bool) for v in r.values()) for r in operations.values()):
        raise ProtocolError(107, "classLevelPermissions needs {operation: {principal: true}} with operations "
                                 f"among {', '.join(OPERATIONS)}.")
    with ctx.store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO _class_permissions VALUES (?, ?)", (class_name, json.dumps(rules)))
    ctx.class_permissions.pop(class_name, None)  # this request reads the new setting from now on
