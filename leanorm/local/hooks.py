"""Server hooks and cloud functions: the embedded backend calls the Engine it was given.

The Engine answers LeanEngine-shaped calls through one in-process entry point,
``engine.dispatch(path, payload, user=..., session_token=..., master=...)`` (see docs/engine.md); this
module decides when to call it. Hook control travels in the body as on LeanCloud: ``__ignore_hooks``
(master key only) skips the named hooks; ``__before``/``__after`` mark a write a hook itself made, so
the hook does not run again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Set

from .protocol import Caller, Context, ProtocolError, route

__all__ = ["Control", "before", "after", "caller_user"]

log = logging.getLogger("leanorm.local")


@dataclass
class Control:
    """Which hooks a write skips."""

    ignore: Set[str] = field(default_factory=set)

    @classmethod
    def take(cls, body: Dict[str, Any], caller: Caller) -> "Control":
        """Remove the hook-control keys from ``body`` and return what they ask for."""
        ignore = body.pop("__ignore_hooks", None) or []
        if ignore and not caller.master:
            raise ProtocolError(119, "__ignore_hooks needs the master key.", 403)
        control = cls(set(ignore) if isinstance(ignore, list) else set())
        if body.pop("__before", None):
            control.ignore |= {"beforeSave", "beforeUpdate", "beforeDelete"}
        if body.pop("__after", None):
            control.ignore |= {"afterSave", "afterUpdate", "afterDelete"}
        return control


def caller_user(ctx: Context) -> Optional[Dict[str, Any]]:
    """The calling user's object (with its session token), as hooks and functions receive it."""
    if ctx.caller.user_id is None:
        return None
    from .objects import query
    rows, _ = query(ctx.server.master_context(ctx), "_User", {"objectId": ctx.caller.user_id}, limit=1)
    if not rows:
        return None
    return {**rows[0], "sessionToken": ctx.caller.session_token}


def _call(ctx: Context, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    user = caller_user(ctx)
    return ctx.server.engine.dispatch(path, payload, user=user, session_token=ctx.caller.session_token,
                                      master=ctx.caller.master, prod=ctx.server.prod)


def _declared(ctx: Context, control: Control, class_name: str, hook: str) -> bool:
    engine = ctx.server.engine
    return engine is not None and hook not in control.ignore and engine.has(f"functions/{class_name}/{hook}")


def before(ctx: Context, control: Control, class_name: str, hook: str, obj: Dict[str, Any]) -> Dict[str, Any]:
    """Run ``hook`` (beforeSave, beforeUpdate, beforeDelete); returns the object to write. A hook that
    rejects raises, and nothing is written."""
    if not _declared(ctx, control, class_name, hook):
        return obj
    answer = _call(ctx, f"functions/{class_name}/{hook}", {"object": {**obj, "className": class_name}})
    if hook == "beforeDelete" or not isinstance(answer, dict):
        return obj
    changed = answer.get("object", answer) if "object" in answer and isinstance(answer["object"], dict) else answer
    return {k: v for k, v in changed.items() if k not in ("createdAt", "updatedAt", "__before", "__after")}


def after(ctx: Context, control: Control, class_name: str, hook: str, obj: Dict[str, Any]) -> None:
    """Run an after hook; the write already happened, so a failing hook is logged, not raised."""
    if not _declared(ctx, control, class_name, hook):
        return
    try:
        _call(ctx, f"functions/{class_name}/{hook}", {"object": {**obj, "className": class_name}})
    except Exception:  # noqa: BLE001 - an after hook cannot undo the write; LeanCloud ignores it too
        log.exception("%s hook of %s failed", hook, class_name)


def _function(ctx: Context, kind: str) -> Any:
    name = ctx.args[0]
    engine = ctx.server.engine
    if engine is None or not engine.has(f"{kind}/{name}"):
        raise ProtocolError(141, f"No cloud function named {name!r}: the embedded backend runs the functions "
                                 "of the Engine given to it (LocalServer(engine=...) or "
                                 "`leanorm serve --engine module:engine`).", 404)
    return _call(ctx, f"{kind}/{name}", ctx.json_body())


@route("POST", r"functions/([^/]+)")
def _functions(ctx: Context) -> Any:
    return _function(ctx, "functions")


@route("POST", r"call/([^/]+)")
def _rpc(ctx: Context) -> Any:
    return _function(ctx, "call")
