"""Parse Server webhooks: the same declarations answering Parse's Cloud Code webhooks.

Parse POSTs ``{"master", "user", "installationId", "ip", "headers", "functionName", "params"}`` for a
function and ``{"triggerName", "object", "original", "user", "master", ...}`` for a trigger, with the
``X-Parse-Webhook-Key`` header, and reads ``{"success": ...}`` or ``{"error": ...}`` from a ``200``
answer (Parse Server 9 ``HooksController``: any other status loses the message). Parse reports a
webhook error to its caller as code 141 with the message; the code chosen by the hook is not kept.

Parse has one ``beforeSave``/``afterSave`` for creates and updates; an update is told apart by
``original`` and runs the ``before_update``/``after_update`` declaration, with ``_updatedKeys`` the
keys whose values differ from ``original``. ``beforeSave`` answers: ``{}`` when the hook changed
nothing (Parse keeps the write as sent), else the object to write (for an update, the updated keys and
the keys the hook changed, as values). ``on_login`` is Parse's ``_User`` ``beforeLogin``;
``on_verified`` and ``on_auth_data`` have no Parse trigger. Parse has no ``__before`` markers: a hook
that saves its own object runs the hook again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set

from .. import legacy_password
from ..auth_context import using_master
from ..config import get_client
from ..errors import LeanCloudError
from .keys import matches
from .legacy_login import legacy_login
from .objects import CONTROL_KEYS
from .wsgi_util import headers_of, json_response, read_json

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from .app import Engine

__all__ = ["WEBHOOK_PREFIX", "handle", "answer", "register"]

#: where the engine answers Parse's webhooks
WEBHOOK_PREFIX = "/__parse/"

#: LeanEngine hook name -> Parse trigger name
_TRIGGERS = {"beforeSave": "beforeSave", "beforeUpdate": "beforeSave", "afterSave": "afterSave",
             "afterUpdate": "afterSave", "beforeDelete": "beforeDelete", "afterDelete": "afterDelete",
             "onLogin": "beforeLogin"}
_SERVER_KEYS = frozenset({"objectId", "createdAt", "updatedAt"})
_MISSING = object()


def handle(engine: "Engine", environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer one Parse webhook request."""
    if not matches(headers_of(environ).get("x-parse-webhook-key"), engine.keys.parse_webhook_key):
        return json_response(start_response, 401, {"error": "Unauthorized: bad X-Parse-Webhook-Key"})
    try:
        body = read_json(environ)
    except ValueError:
        return json_response(start_response, 200, {"error": "Malformed JSON"})
    try:
        return json_response(start_response, 200, answer(engine, body if isinstance(body, dict) else {}))
    except LeanCloudError as exc:
        return json_response(start_response, 200, {"error": exc.message, "code": exc.code})


def answer(engine: "Engine", body: Dict[str, Any]) -> Dict[str, Any]:
    """The webhook answer for one Parse request body (raises LeanCloudError to answer an error)."""
    user = body.get("user") or None
    common: Dict[str, Any] = {"user": user, "session_token": (user or {}).get("sessionToken"),
                              "master": bool(body.get("master")), "remote_address": body.get("ip")}
    trigger = body.get("triggerName")
    if not trigger:
        name = body.get("functionName") or ""
        if name == legacy_password.LOGIN_FUNCTION and engine.parse_client is not None \
                and not engine.has(f"functions/{name}"):
            return {"success": legacy_login(engine.parse_client, body.get("params") or {})}
        result = engine._run(f"functions/{name}", body.get("params") or {}, markers=False, rich_params=True,
                             **common)
        return {"success": result["result"]}
    obj = body.get("object")
    if not isinstance(obj, dict) or not obj.get("className"):
        raise LeanCloudError(107, f"{trigger} webhook without an object")
    original = body.get("original")
    hook = _leanengine_hook(trigger, isinstance(original, dict))
    path = "functions/_User/onLogin" if hook == "onLogin" else f"functions/{obj['className']}/{hook}"
    if not engine.has(path):
        return {}
    updated: Set[str] = _changed_keys(obj, original) if isinstance(original, dict) else set()
    payload = {"object": dict(obj, _updatedKeys=sorted(updated)) if updated else obj, "user": user}
    result = engine._run(path, payload, markers=False, rich_params=True, **common)
    if trigger != "beforeSave":
        return {"success": True}
    changed = {k for k, v in result.items() if obj.get(k, _MISSING) != v}
    changed |= {k for k in obj if k not in result and k not in CONTROL_KEYS and k not in _SERVER_KEYS}
    if not changed:
        return {}
    if hook == "beforeSave":
        return {"success": result}
    return {"success": {k: result.get(k, {"__op": "Delete"}) for k in (updated | changed) - _SERVER_KEYS}}


def _leanengine_hook(trigger: str, updating: bool) -> str:
    if trigger in ("beforeSave", "afterSave") and updating:
        return trigger.replace("Save", "Update")
    if trigger == "beforeLogin":
        return "onLogin"
    if trigger in ("beforeSave", "afterSave", "beforeDelete", "afterDelete"):
        return trigger
    raise LeanCloudError(141, f"leanorm engines do not answer the {trigger} trigger")


def _changed_keys(obj: Dict[str, Any], original: Dict[str, Any]) -> Set[str]:
    keys = (set(obj) | set(original)) - CONTROL_KEYS - _SERVER_KEYS
    return {k for k in keys if obj.get(k, _MISSING) != original.get(k, _MISSING)}


def register(engine: "Engine", url: str, client: Optional["Client"] = None) -> List[Dict[str, str]]:
    """Register every function and trigger of ``engine`` with the Parse Server behind ``client`` (the
    current client by default), pointing at ``url`` (where the engine is served); a hook registered
    before is updated to the new URL. Returns the hooks registered.

    The legacy-login function (:mod:`leanorm.engine.legacy_login`) is registered too, acting on this
    Parse Server through ``client``."""
    client = get_client(client)
    engine.parse_client = client
    base = url.rstrip("/") + WEBHOOK_PREFIX.rstrip("/")
    name = legacy_password.LOGIN_FUNCTION
    hooks: List[Dict[str, str]] = [{"functionName": name, "url": f"{base}/functions/{name}"}]
    triggers: Set[tuple] = set()
    for declaration in engine.declarations:
        if declaration.kind == "function":
            name = declaration.key[len("functions/"):]
            if name == legacy_password.LOGIN_FUNCTION:
                continue  # registered above; the engine's own declaration answers it
            hooks.append({"functionName": name, "url": f"{base}/functions/{name}"})
            continue
        trigger = declaration.key.rsplit("/", 1)[1]
        if trigger in _TRIGGERS and declaration.class_name:
            triggers.add((declaration.class_name, _TRIGGERS[trigger]))
    hooks += [{"className": c, "triggerName": t, "url": f"{base}/triggers/{c}/{t}"} for c, t in sorted(triggers)]
    with using_master():
        for hook in hooks:
            kind, where = (("functions", hook["functionName"]) if "functionName" in hook
                           else ("triggers", f"{hook['className']}/{hook['triggerName']}"))
            try:
                client.request("POST", f"hooks/{kind}", body=hook)
            except LeanCloudError as exc:
                if exc.code != 143:  # 143: already registered
                    raise
                client.request("PUT", f"hooks/{kind}/{where}", body={"url": hook["url"]})
    return hooks
