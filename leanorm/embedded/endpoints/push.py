"""``POST push``: a notification to the installations it targets (see ``installations`` for those).

Nothing leaves the machine on a push: the backend records it and resolves its target installations at
once, so a test can see who would have received what. In the LeanCloud dialect the record is a
``_Notification``: besides the push's own keys (``data``, ``where`` as the JSON text of the query,
``channels``, ``cql``, ``prod``, ``push_time``, ``expiration_time``, ``expiration_interval``,
``flow_control``) it holds ``status`` (``done``, or ``scheduled`` when ``push_time`` is in the future),
``devices`` and ``successes`` (how many installations it targets) and ``installationIds`` (which ones, an
embedded-only key); the answer is its objectId. In the Parse dialect it is a ``_PushStatus`` in Parse
Server's shape (``query`` and ``payload`` as JSON text, ``source``, ``status``, ``numSent``, ``pushTime``,
``installationIds``), whose id the answer carries in ``X-Parse-Push-Status-Id``. A query is kept as text
because a stored object has no ``$`` keys. Either record's ACL is empty: only the master key reads it.

Like LeanCloud with "prevent clients from sending push notifications" ticked (and like Parse Server),
pushing needs the master key unless the server sets ``client_push``.
"""
from __future__ import annotations

from typing import Any, Dict, List

from . import cql, objects, reads
from ..routing import Context, route
from ..answers import ProtocolError
from ..storage.values import canonical, normalize_iso, now_iso

__all__ = ["STATUS_HEADER"]

#: the header of a Parse push's answer naming its ``_PushStatus`` record (what ``Parse.Push.send`` returns)
STATUS_HEADER = "X-Parse-Push-Status-Id"

#: an installation with ``valid: false`` receives nothing (LeanCloud's switch for a device)
_RECEIVING = {"valid": {"$ne": False}}
_BIG_LIMIT = 2 ** 62


def _date(body: Dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    return {"__type": "Date", "iso": normalize_iso(value.get("iso") if isinstance(value, dict) else value)}


def _whole_number(body: Dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise ProtocolError(107, f"{key} must be a positive integer.")
    return value


def _target(body: Dict[str, Any]) -> Dict[str, Any]:
    """The ``where`` over ``_Installation`` that ``channels``, ``where`` and ``cql`` describe together."""
    parts: List[Dict[str, Any]] = [_RECEIVING]
    channels = body.get("channels")
    if channels is not None:
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            raise ProtocolError(107, "channels must be a non-empty list of strings.")
        parts.append({"channels": {"$in": channels}})
    where = body.get("where")
    if where is not None:
        if not isinstance(where, dict):
            raise ProtocolError(107, "where must be a JSON object.")
        parts.append(where)
    statement = body.get("cql")
    if statement is not None:
        if where is not None:
            raise ProtocolError(107, "where and cql cannot both be set.")
        if not isinstance(statement, str):
            raise ProtocolError(107, "cql must be a string.")
        parsed = cql.parse(statement)
        if parsed["class_name"] != "_Installation":
            raise ProtocolError(107, "A push's cql must select from _Installation.")
        if parsed["where"]:
            parts.append(parsed["where"])
    return {"$and": parts}


@route("POST", r"push")
def _push(ctx: Context) -> Any:
    if not ctx.caller.master and not ctx.settings.client_push:
        raise ProtocolError(119, "Push from clients is disabled: use the master key.", 403)
    body = ctx.json_body()
    if not isinstance(body.get("data"), dict):
        raise ProtocolError(107, "A push needs data, a JSON object.")
    if body.get("expiration_time") is not None and body.get("expiration_interval") is not None:
        raise ProtocolError(107, "expiration_time and expiration_interval cannot both be set.")
    if body.get("prod") not in (None, "dev", "prod"):
        raise ProtocolError(107, "prod must be \"dev\" or \"prod\".")
    push_time = _date(body, "push_time")
    where = body.get("where")
    record: Dict[str, Any] = {
        "data": body["data"], "prod": body.get("prod") or "prod", "push_time": push_time,
        "expiration_time": _date(body, "expiration_time"),
        "expiration_interval": _whole_number(body, "expiration_interval"),
        "flow_control": _whole_number(body, "flow_control"),
        "where": None if where is None else canonical(where), "channels": body.get("channels"),
        "cql": body.get("cql"),
    }
    master = ctx.as_master()
    targets, _ = reads.query(master, "_Installation", _target(body), "createdAt", _BIG_LIMIT,
                               keys="objectId")
    ids = [row["objectId"] for row in targets]
    scheduled = push_time is not None and push_time["iso"] > now_iso()
    if ctx.dialect == "parse":
        return _push_status(ctx, record, ids, scheduled)
    record.update(status="scheduled" if scheduled else "done", devices=len(ids), successes=len(ids),
                  installationIds=ids, ACL={})
    return objects.write(master, "_Notification", None, {k: v for k, v in record.items() if v is not None})


def _push_status(ctx: Context, record: Dict[str, Any], ids: List[str], scheduled: bool) -> Any:
    """The Parse dialect's record of a push, a ``_PushStatus`` as Parse Server writes it, and its answer."""
    query = record["where"] or canonical({"channels": {"$in": record["channels"]}} if record["channels"] else {})
    status = {"pushTime": (record["push_time"] or {"iso": now_iso()})["iso"], "query": query,
              "payload": canonical(record["data"]), "source": "rest",
              "status": "scheduled" if scheduled else "succeeded", "numSent": len(ids), "numFailed": 0,
              "installationIds": ids, "ACL": {}}
    if record["expiration_interval"] is not None:
        status["expiration_interval"] = record["expiration_interval"]
    _, made = objects.write(ctx.as_master(), "_PushStatus", None, status)
    ctx.response_headers[STATUS_HEADER] = made["objectId"]
    return {"result": True}
