"""Run one declared function or hook for one LeanEngine request: the single entry point.

Everything comes through :func:`run` — the WSGI layer after parsing HTTP, the Parse webhook layer after
translating Parse's request, and the embedded backend in-process around its writes. It finds the
declaration, builds the caller and the objects, runs the code as the caller (contextvars: ``acting_as``)
and shapes the LeanEngine answer. Failures leave as :class:`~leanorm.errors.LeanCloudError`.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Dict, Optional

from ..auth import User
from ..auth_context import acting_as, without_master
from ..cloud import _encode_rpc
from ..errors import HookRejected, LeanCloudError, ScriptError, ValidationError
from ..models import Model
from .context import EngineRequest, running
from .declarations import HOOKS, LIVE_TRIGGERS, METADATA_KEY, Declaration, Declarations, is_rpc, normalize_path
from .live_triggers import HANDLERS as LIVE_HANDLERS
from ..protocol.markers import AFTER, BEFORE, sign_marker
from .objects import answer_object, decode_rich, drop_private, instance_from_wire, model_named

__all__ = ["run"]

logger = logging.getLogger("leanorm.engine")

#: what an unexpected exception in user code answers (details stay in the log and in ``__cause__``)
SCRIPT_FAILED = "Cloud Code script had an error."


def run(declarations: Declarations, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]],
        session_token: Optional[str], master: bool, prod: bool, remote_address: Optional[str],
        master_key: Optional[str], fetch_user: bool, markers: bool, rich_params: bool) -> Dict[str, Any]:
    """Run what ``path`` declares with ``payload``; see :meth:`leanorm.engine.Engine.dispatch`.

    ``markers`` puts ``__before``/``__after`` on hook objects (not for Parse, which stores them as
    fields); ``rich_params`` decodes function parameters into instances (``call/``, and Parse, which has
    no ``call/``).
    """
    key = normalize_path(path)
    if key == METADATA_KEY:
        if not master:
            raise LeanCloudError(401, "Unauthorized: the metadata needs the master key.", 401)
        return {"result": declarations.metadata_names()}
    declaration = declarations.get(key)
    if declaration is None:
        raise ScriptError(141, f"Cloud function or hook not found: {key}", 404)
    if declaration.kind == "job" and not master:  # whatever route it came by (Parse: master key only)
        raise LeanCloudError(119, f"The job {key} runs only with the master key.", 403)
    if declaration.kind not in _PARAMETERISED and user is None:
        user = payload.get("user") or None
    # the caller's master key is reported, not used: an in-process caller inside using_master() (the
    # embedded backend) must not lend it to the code, which sends it only inside its own using_master()
    with without_master():
        caller, token = _caller(user, session_token, fetch_user)
    request = EngineRequest(path=key, payload=payload, user=caller, session_token=token, master=master,
                            prod=prod, remote_address=remote_address)
    rpc = rich_params or is_rpc(path)
    with running(request), without_master(), acting_as(caller, token):
        try:
            if declaration.kind in _PARAMETERISED:
                return _function(declaration, payload, rpc)
            if declaration.kind in LIVE_TRIGGERS:
                return LIVE_HANDLERS[declaration.kind](declaration, payload, caller)
            return _HANDLERS[declaration.kind](declaration, payload, master_key if markers else None)
        except LeanCloudError:
            raise
        except ValidationError as exc:
            raise HookRejected(142, str(exc), 400) from exc
        except Exception as exc:
            logger.exception("%s failed", key)
            raise ScriptError(141, SCRIPT_FAILED, 500) from exc


#: what runs with its payload as keyword parameters: cloud functions and background jobs
_PARAMETERISED = ("function", "job")


def _caller(user: Optional[Dict[str, Any]], token: Optional[str], fetch_user: bool):
    """The calling user as an instance of the ``_User`` model, and its session token."""
    if user:
        token = token or user.get("sessionToken")
        return instance_from_wire(model_named("_User", User), user), token
    if token and fetch_user:
        return model_named("_User", User).become(token), token
    return None, token


def _function(declaration: Declaration, payload: Dict[str, Any], rpc: bool) -> Dict[str, Any]:
    params = drop_private(payload if isinstance(payload, dict) else {})
    if rpc:
        params = {k: decode_rich(v) for k, v in params.items()}
    try:
        inspect.signature(declaration.func).bind(**params)
    except TypeError as exc:
        raise ScriptError(141, f"invalid parameters for {declaration.key.split('/', 1)[1]}: {exc}", 400) from None
    return {"result": _encode_rpc(declaration.func(**params))}


def _hook_object(declaration: Declaration, payload: Dict[str, Any]) -> Dict[str, Any]:
    obj = payload.get("object")
    if not isinstance(obj, dict):
        raise LeanCloudError(107, f"{declaration.key}: the request has no object", 400)
    return obj


def _class_hook(declaration: Declaration, payload: Dict[str, Any], master_key: Optional[str]) -> Dict[str, Any]:
    obj = _hook_object(declaration, payload)
    class_name = declaration.class_name or ""
    instance = instance_from_wire(model_named(class_name, declaration.model), obj)
    marker = BEFORE if declaration.kind.startswith("before") else AFTER
    if master_key is not None:
        # a save of this instance inside the hook carries the marker, so it does not run the hook again
        instance[marker] = obj.get(marker) or sign_marker(marker, class_name, master_key)
    declaration.func(instance)
    if declaration.kind == "before_save":
        return answer_object(instance, is_new=True)
    if declaration.kind == "before_update":
        return answer_object(instance, is_new=False)
    if declaration.kind == "before_delete":
        return {}
    return {"result": "ok"}


def _user_hook(declaration: Declaration, payload: Dict[str, Any], master_key: Optional[str]) -> Dict[str, Any]:
    user: Model = instance_from_wire(model_named("_User", User), _hook_object(declaration, payload))
    declaration.func(user)
    return {"result": "ok"}


def _auth_data_hook(declaration: Declaration, payload: Dict[str, Any], master_key: Optional[str]) -> Dict[str, Any]:
    auth_data = payload.get("authData")
    result = declaration.func(auth_data)
    return {"result": auth_data if result is None else result}


_HANDLERS: Dict[str, Callable[[Declaration, Dict[str, Any], Optional[str]], Dict[str, Any]]] = {
    **{kind: _class_hook for kind in HOOKS},
    "on_login": _user_hook,
    "on_verified": _user_hook,
    "on_auth_data": _auth_data_hook,
}
