"""Column options on writes, as Parse Server applies them: a field declared ``required`` through the
schema API must hold a value, and a field with a ``defaultValue`` gets it on create when the write gives
none. One function, called by :func:`.objects.write` (every create and update goes through it) inside
its transaction, after the before-hooks (as Parse runs them after ``beforeSave``)."""
from __future__ import annotations

from typing import Any, Dict, List

from ..answers import ProtocolError
from .interface import Connection, Store

__all__ = ["apply_column_options"]


def _absent(value: Any) -> bool:
    """What Parse counts as no value for ``required``: missing, null, empty text, or a ``Delete``."""
    return value is None or value == "" or (isinstance(value, dict) and value.get("__op") == "Delete")


def apply_column_options(conn: Connection, store: Store, class_name: str, body: Dict[str, Any],
                         creating: bool) -> List[str]:
    """Fill ``body``'s defaults (create only: a field not written, or written as ``Delete``) and refuse
    a write leaving a required field without a value (142, ``<field> is required``; an update is checked
    on the fields it writes). Returns the fields given their default (the answer echoes them)."""
    options = store.field_options(conn, class_name)
    defaulted = []
    for name, option in options.items():
        value = body.get(name)
        if not creating and name not in body:
            continue
        if creating and "defaultValue" in option and (name not in body or (
                isinstance(value, dict) and value.get("__op") == "Delete")):
            body[name] = option["defaultValue"]
            defaulted.append(name)
        elif option.get("required") and _absent(value):
            raise ProtocolError(142, f"{name} is required")
    return defaulted
