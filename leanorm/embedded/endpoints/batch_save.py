"""``POST batch/save``: LeanCloud's save of an object graph, which the Swift and Java SDKs send for every
save.

Each request is a write (``POST`` a new object, ``PUT`` a stored one) whose body carries ``__internalId``
(the client's id for the object; its objectId once it has one) and may carry ``__children``:
``[{className, cid, key}]``, the new objects it points to under ``key``, saved by earlier requests of the
same call (the SDKs send the graph children first). Several requests may write one new object (the
SDK splits operations that cannot travel together): the first creates it, the next update it. The
answer maps each ``__internalId`` to what its writes answered (``objectId``, ``createdAt``, ...).

Every request goes through ``EmbeddedServer.sub_request``, so it is checked and written exactly as the same
request of ``POST batch`` (permissions, hooks, the request's one cost budget, at most
``budget.MAX_BATCH_ITEMS`` requests). Unlike ``batch``, the first failure ends the call with its error.
A call that only writes objects of the app's own classes, on a server without an Engine, is one
transaction and that failure undoes it whole; otherwise (hooks may call back into this server, which
would wait for the lock this call holds) the requests before it stay written.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, List

from .batch import OBJECT_PATH, OBJECT_WRITES
from ..budget import Budget
from ..routing import Context, route
from ..answers import ProtocolError

__all__: List[str] = []


def _pointers(children: Any, created: Dict[str, Dict[str, str]]) -> Dict[str, Any]:
    """The fields ``__children`` names, as pointers to the objects earlier requests created."""
    if not isinstance(children, list):
        raise ProtocolError(107, "__children must be a list of {className, cid, key}.")
    fields = {}
    for child in children:
        if not (isinstance(child, dict) and all(isinstance(child.get(k), str) for k in ("className", "cid", "key"))):
            raise ProtocolError(107, "__children must be a list of {className, cid, key}.")
        target = created.get(child["cid"])
        if target is None or target["className"] != child["className"]:
            raise ProtocolError(107, f"The child {child['cid']} of batch/save must be saved by an earlier request.")
        fields[child["key"]] = {"__type": "Pointer", **target}
    return fields


def _class_of(path: str) -> str:
    """The class a request's path writes (``/1.1/classes/Post``, ``/1.1/users``, ``/1.1/files``: a new
    file of the graph is a ``_File`` child of its parent)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p and p not in ("1.1", "parse")]
    if parts[:1] == ["classes"] and len(parts) >= 2:
        return parts[1]
    aliases = {"users": "_User", "roles": "_Role", "installations": "_Installation", "files": "_File"}
    return aliases.get(parts[0] if parts else "", "")


@route("POST", r"batch/save")
def _batch_save(ctx: Context) -> Any:
    requests_ = ctx.json_body().get("requests")
    if not isinstance(requests_, list):
        raise ProtocolError(107, "batch/save needs {\"requests\": [...]}.")
    Budget.check_batch(len(requests_))
    for item in requests_:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("body"), dict)
                and str(item.get("method", "")).upper() in ("POST", "PUT")):
            raise ProtocolError(107, "Each batch/save request writes one object: {method: POST|PUT, path, body}.")
    atomic = ctx.cloud_code is None and all(
        OBJECT_PATH.match(item["path"]) and str(item["method"]).upper() in OBJECT_WRITES for item in requests_)
    created: Dict[str, Dict[str, str]] = {}  # __internalId -> {className, objectId} of the objects made here
    answers: Dict[str, Dict[str, Any]] = {}
    with ctx.store.write() if atomic else contextlib.nullcontext():
        for item in requests_:
            body = dict(item["body"])
            internal = body.pop("__internalId", None)
            body.update(_pointers(body.pop("__children", None) or [], created))
            method, path = str(item["method"]).upper(), item["path"]
            if method == "POST" and isinstance(internal, str) and internal in created:
                method, path = "PUT", f"{path.rstrip('/')}/{created[internal]['objectId']}"
            answer = ctx.sub_request({**item, "method": method, "path": path, "body": body})
            if "error" in answer:
                raise ProtocolError(answer["error"].get("code", 1), answer["error"].get("error", "batch/save failed."))
            saved = answer["success"]
            key = internal if isinstance(internal, str) else saved.get("objectId")
            if method == "POST" and isinstance(internal, str) and saved.get("objectId"):
                created[internal] = {"className": _class_of(path), "objectId": saved["objectId"]}
            if isinstance(key, str):
                answers[key] = {**answers.get(key, {}), **saved}
    return answers
