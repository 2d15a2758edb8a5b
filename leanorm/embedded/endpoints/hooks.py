"""Server hooks and cloud functions: the embedded backend calls the Engine it was given.

The Engine answers LeanEngine-shaped calls through one in-process entry point,
``engine.dispatch(path, payload, user=..., session_token=..., master=...)`` (see docs/engine.md); this
module decides when to call it. Hook control travels in the body as on LeanCloud: ``__ignore_hooks``
(master key or hook key only) skips the named hooks; ``__before``/``__after`` mark a write a hook itself made, so
the hook does not run again.
"""
from __future__ import annotations

import contextvars
import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Set

from ...errors import LeanCloudError
from ...protocol.markers import verify_marker
from . import file_urls
from ..routing import Context, route
from ..answers import ProtocolError
from .reads import fetch, query
from ..storage.values import canonical

__all__ = ["Control", "before_write", "before_delete", "after", "caller_user", "declared", "user_event",
           "auth_data"]

log = logging.getLogger("leanorm.embedded")


@dataclass
class Control:
    """Which hooks a write skips."""

    ignore: Set[str] = field(default_factory=set)

    @classmethod
    def take(cls, body: Dict[str, Any], ctx: Context, class_name: str) -> "Control":
        """Remove the hook-control keys from ``body`` and return what they ask for. A ``__before`` or
        ``__after`` marker counts only when signed with the master key (a hook's own write)."""
        ignore = body.pop("__ignore_hooks", None) or []
        if ignore and not (ctx.caller.master or ctx.caller.hook):
            raise ProtocolError(119, "__ignore_hooks needs the master key or the hook key.", 403)
        control = cls(set(ignore) if isinstance(ignore, list) else set())
        for marker, names in (("__before", ("beforeSave", "beforeUpdate", "beforeDelete")),
                              ("__after", ("afterSave", "afterUpdate", "afterDelete"))):
            value = body.pop(marker, None)
            if value is not None and _signed(value, marker, class_name, ctx.settings.master_key):
                control.ignore.update(names)
        return control


def caller_user(ctx: Context) -> Optional[Dict[str, Any]]:
    """The calling user's object (with its session token), as hooks and functions receive it."""
    if ctx.caller.user_id is None:
        return None
    rows, _ = query(ctx.as_master(), "_User", {"objectId": ctx.caller.user_id}, limit=1)
    if not rows:
        return None
    return {**rows[0], "sessionToken": ctx.caller.session_token}


#: how deep hooks may call hooks in one request (a hook's write running hooks whose writes run hooks...)
MAX_HOOK_DEPTH = 16
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("leanorm_hook_depth", default=0)


def _call(ctx: Context, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    engine = ctx.cloud_code
    assert engine is not None, "callers ask engine.has() first"
    depth = _depth.get()
    if depth >= MAX_HOOK_DEPTH:  # a hook whose writes trigger it again without end: refuse, don't recurse
        raise ProtocolError(142, f"Hooks nested more than {MAX_HOOK_DEPTH} deep ({path}): a hook's own writes keep "
                                 "triggering hooks. Save the hooked object itself (its marker stops the "
                                 "loop) or skip hooks with __ignore_hooks.", 400)
    ctx.store.settle()  # cloud code acts outside the server: the request can no longer be run again
    user = caller_user(ctx)
    # the objects leave the server for the Engine: their files under this request's address, as in answers
    payload = file_urls.rebase(ctx, copy.deepcopy(payload))
    token = _depth.set(depth + 1)
    try:
        return engine.dispatch(path, payload, user=user, session_token=ctx.caller.session_token,
                               master=ctx.caller.master, prod=ctx.settings.prod)
    except LeanCloudError as exc:  # the hook's or function's own code and message reach the caller
        raise ProtocolError(exc.code, exc.message, exc.status if exc.status and exc.status >= 400 else 400) \
            from None
    finally:
        _depth.reset(token)


def declared(ctx: Context, control: Control, class_name: str, hook: str) -> bool:
    engine = ctx.cloud_code
    return engine is not None and hook not in control.ignore and engine.has(f"functions/{class_name}/{hook}")


def _signed(value: Any, marker: str, class_name: str, master_key: str) -> bool:
    return verify_marker(value, marker, class_name, master_key)


def before_write(ctx: Context, control: Control, class_name: str, hook: str, body: Dict[str, Any],
                 preview: Dict[str, Any]) -> Dict[str, Any]:
    """Run beforeSave/beforeUpdate on ``preview``, the object as it will be stored (``objects`` computes
    it with the code that stores it); returns the body to write. A key the hook changed is written as its
    plain value, every other key keeps the client's operation, so an untouched Increment stays atomic.
    A hook that rejects raises, and nothing is written. The caller checked that the hook is declared."""
    sent = {**preview, "className": class_name}
    if hook == "beforeUpdate":
        sent["_updatedKeys"] = sorted(k for k in body if k not in ("objectId", "ACL"))
    answer = _call(ctx, f"functions/{class_name}/{hook}", {"object": sent})
    if not isinstance(answer, dict):
        return body
    changed = answer["object"] if isinstance(answer.get("object"), dict) else answer
    out = dict(body)
    for key, value in changed.items():
        if key in _NOT_FIELDS:
            continue
        if key not in preview or canonical(value) != canonical(preview[key]):
            out[key] = value
    return out


_NOT_FIELDS = frozenset({"objectId", "createdAt", "updatedAt", "className", "_updatedKeys", "__before", "__after"})


def before_delete(ctx: Context, control: Control, class_name: str, obj: Dict[str, Any]) -> None:
    """Run beforeDelete; a hook that rejects raises, and nothing is deleted."""
    if declared(ctx, control, class_name, "beforeDelete"):
        _call(ctx, f"functions/{class_name}/beforeDelete", {"object": {**obj, "className": class_name}})


def after(ctx: Context, control: Control, class_name: str, hook: str, obj: Dict[str, Any]) -> None:
    """Run an after hook; the write already happened and stays (LeanCloud and Parse answer the write's
    success: an after hook cannot undo it), so a failing hook is logged, not raised."""
    if not declared(ctx, control, class_name, hook):
        return
    try:
        _call(ctx, f"functions/{class_name}/{hook}", {"object": {**obj, "className": class_name}})
    except Exception:  # noqa: BLE001 - an after hook cannot undo the write; LeanCloud ignores it too
        log.exception("%s hook of %s failed", hook, class_name)


def user_event(ctx: Context, path: str, user_id: str, rejects: bool) -> None:
    """Tell the Engine about a user event: ``functions/_User/onLogin`` (its error refuses the login),
    ``functions/onVerified/sms`` or ``/email`` (after the fact: an error is logged)."""
    engine = ctx.cloud_code
    if engine is None or not engine.has(path):
        return
    user = fetch(ctx.as_master(), "_User", user_id)
    try:
        _call(ctx, path, {"object": {**user, "className": "_User"}})
    except ProtocolError:
        if rejects:
            raise
        log.exception("%s failed", path)


ON_AUTH_DATA = "functions/_User/onAuthData"


def auth_data(ctx: Context, links: Dict[str, Any]) -> Any:
    """The authData a signup or login goes on with: what the Engine's ``functions/_User/onAuthData``
    answers for ``{"authData": links}`` (LeanEngine's payload; the answer's ``result``), or ``links``
    when none is declared. Its error refuses the request with the hook's code and message."""
    engine = ctx.cloud_code
    if engine is None or not engine.has(ON_AUTH_DATA):
        return links
    answer = _call(ctx, ON_AUTH_DATA, {"authData": links})
    return answer.get("result") if isinstance(answer, dict) else None


@route("POST", r"(functions|call)/([^/]+)")
def _function(ctx: Context) -> Any:
    """A cloud function (``functions/NAME``) or its rpc form (``call/NAME``), run by the Engine."""
    kind, name = ctx.args
    engine = ctx.cloud_code
    if engine is None or not engine.has(f"{kind}/{name}"):
        if ctx.dialect == "parse":  # the Parse SDKs' own tests compare the message
            raise ProtocolError(141, f'Invalid function: "{name}"')
        raise ProtocolError(141, f"No cloud function named {name!r}: the embedded backend runs the functions "
                                 "of the Engine given to it (EmbeddedServer(engine=...) or "
                                 "`leanorm serve --engine module:engine`).", 404)
    answer = _call(ctx, f"{kind}/{name}", ctx.json_body())
    if ctx.dialect == "parse" and answer == {"result": None}:
        # a function that returns nothing: Parse answers no result at all, which its SDKs read as undefined
        return {}
    return answer
