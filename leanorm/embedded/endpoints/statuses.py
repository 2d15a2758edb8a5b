"""LeanCloud's status API: a user publishes a status to the inboxes of the users a query selects.

``POST statuses {"data", "inboxType", "query": {"className", "where", "keys"}, "source"}`` stores the
status as a ``_Status`` object and delivers it to every user the query selects: ``_User`` rows
themselves, or the user a row of another class points to (``_Follower`` through ``keys: "follower"``,
what ``send to followers`` sends). Each delivery is an inbox entry with a ``messageId`` that grows with
every delivery, and is unread until ``resetUnreadCount``.

``GET subscribe/statuses?owner=<user pointer>&inboxType=&sinceId=&maxId=&where=&limit=`` reads an
inbox, newest first (``messageId > sinceId``, ``<= maxId``); ``GET subscribe/statuses/count`` answers
``{"total", "unread"}``; ``POST subscribe/statuses/resetUnreadCount``; ``DELETE subscribe/statuses/inbox``
removes one entry (``messageId``). ``GET statuses`` queries the published statuses; ``GET``/``DELETE
statuses/<id>`` (the publisher or the master key deletes, and the status leaves every inbox).
Inboxes are read by their owner (or with the master key). LeanCloud dialect only.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ..access.authz import check_delegated_fields
from .objects import remove, write
from ..access.permissions import permit_delegated
from ..routing import Context, route
from ..answers import ProtocolError, loads
from .reads import MAX_LIMIT, fetch, int_param, list_answer, page_limit, query
from ..storage.values import pointer

__all__: List[str] = []

STATUS_CLASS = "_Status"
#: class names the SDKs use for users in a status query
_USER_CLASSES = {"_User": "_User", "User": "_User", "users": "_User"}
#: the most users one status is delivered to (the recipients query runs with the master key)
_MAX_RECIPIENTS = 100_000


def _leancloud_only(ctx: Context) -> None:
    if ctx.dialect != "leancloud":
        raise ProtocolError(1, f"Unknown endpoint: {ctx.method} /{ctx.path}.", 404)


def _user_id(value: Any, name: str) -> str:
    """The objectId of a ``_User`` pointer (or Object) given as ``name``; error 107 otherwise."""
    if isinstance(value, dict) and value.get("className") in _USER_CLASSES and isinstance(value.get("objectId"), str):
        return value["objectId"]
    raise ProtocolError(107, f"{name} must be a pointer to a _User.")


def _recipients(ctx: Context, spec: Any) -> List[str]:
    """The user ids the status query selects."""
    if not isinstance(spec, dict) or not isinstance(spec.get("className"), str):
        raise ProtocolError(107, "A status needs a query: {className, where, keys}.")
    class_name: str = _USER_CLASSES.get(spec["className"]) or spec["className"]
    where = spec.get("where") or {}
    if isinstance(where, str):
        where = _json(where, "query.where")
    # a read by the publisher like any other: its rights choose the recipients (as master it was an oracle)
    rows, _ = query(ctx, class_name, where, limit=_MAX_RECIPIENTS)
    if class_name == "_User":
        return [r["objectId"] for r in rows]
    keys = [k.strip() for k in str(spec.get("keys") or "").split(",") if k.strip()]
    ids: List[str] = []
    for row in rows:  # the user each row points to, through the first key the query selects
        for key in keys or list(row):
            value = row.get(key)
            if isinstance(value, dict) and value.get("className") == "_User":
                ids.append(value["objectId"])
                break
    return ids


def _json(raw: str, name: str) -> Any:
    try:
        return loads(raw)
    except ValueError:
        raise ProtocolError(107, f"Malformed json in {name}.") from None


def _readers(inbox_type: str, source_id: str, recipients: List[str]) -> Dict[str, Dict[str, bool]]:
    """Who reads a status: everyone for the public timeline (``default``); for any other inbox (a
    ``private`` message) its publisher and its recipients only, as LeanCloud shows a private status to
    the users it was sent to (it was public, read by any client through ``GET statuses``)."""
    if inbox_type == "default":
        return {"*": {"read": True}}
    return {user_id: {"read": True} for user_id in [source_id, *recipients]}


@route("POST", r"statuses")
def _publish(ctx: Context) -> Any:
    _leancloud_only(ctx)
    body = ctx.json_body()
    data = body.get("data") or {}
    inbox_type = body.get("inboxType") or "default"
    if not isinstance(data, dict) or not isinstance(inbox_type, str):
        raise ProtocolError(107, "A status needs data (an object) and an inboxType (a string).")
    check_delegated_fields(ctx, data, "a status's data")
    if ctx.caller.user_id is not None:
        source = pointer("_User", ctx.caller.user_id)
    elif ctx.caller.master and body.get("source") is not None:
        source = pointer("_User", _user_id(body["source"], "source"))
    else:
        raise ProtocolError(206, "Publishing a status needs a logged-in user (a session token).", 403)
    permit_delegated(ctx, STATUS_CLASS, "create", list(data))
    recipients = list(dict.fromkeys(_recipients(ctx, body.get("query"))))
    master = ctx.as_master()
    with ctx.store.write() as conn:
        _, created = write(master, STATUS_CLASS, None, {**data, "source": source, "inboxType": inbox_type,
                                                        "ACL": _readers(inbox_type, source["objectId"], recipients)})
        conn.executemany("INSERT INTO _status_inbox (owner_id, inbox_type, status_id) VALUES (?, ?, ?)",
                         [(user_id, inbox_type, created["objectId"]) for user_id in recipients])
    return 201, {"objectId": created["objectId"], "createdAt": created["createdAt"]}


@route("GET", r"statuses")
def _published(ctx: Context) -> Any:
    _leancloud_only(ctx)
    return list_answer(ctx, STATUS_CLASS)


@route("GET", r"statuses/([^/]+)")
def _get_status(ctx: Context) -> Any:
    _leancloud_only(ctx)
    return fetch(ctx, STATUS_CLASS, ctx.args[0])


@route("DELETE", r"statuses/([^/]+)")
def _delete_status(ctx: Context) -> Any:
    _leancloud_only(ctx)
    status = fetch(ctx.as_master(), STATUS_CLASS, ctx.args[0])
    source = status.get("source") or {}
    if not ctx.caller.master and source.get("objectId") != ctx.caller.user_id:
        raise ProtocolError(1, "Only the status's publisher (or the master key) deletes it.", 403)
    permit_delegated(ctx, STATUS_CLASS, "delete")
    with ctx.store.write() as conn:
        remove(ctx.as_master(), STATUS_CLASS, ctx.args[0])
        conn.execute("DELETE FROM _status_inbox WHERE status_id=?", (ctx.args[0],))
    return {}


# -- inboxes -----------------------------------------------------------------------------------------------
def _inbox(ctx: Context, params: Dict[str, Any]) -> Tuple[str, str]:
    """(owner id, inbox type) of an inbox request, checked: only the owner (or the master key) reads it."""
    _leancloud_only(ctx)
    owner = params.get("owner")
    if isinstance(owner, str):
        owner = _json(owner, "owner")
    owner_id = _user_id(owner, "owner")
    if not ctx.caller.master and ctx.caller.user_id != owner_id:
        raise ProtocolError(1, "An inbox is read by its owner (or with the master key).", 403)
    inbox_type = params.get("inboxType") or "default"
    return owner_id, str(inbox_type)


@route("GET", r"subscribe/statuses")
def _read_inbox(ctx: Context) -> Any:
    owner_id, inbox_type = _inbox(ctx, ctx.params)
    # bounded like every integer parameter: past 64 bits SQLite cannot bind them (it answered 500)
    since, most = int_param(ctx, "sinceId", 0), int_param(ctx, "maxId", 0)
    sql = "SELECT message_id, status_id FROM _status_inbox WHERE owner_id=? AND inbox_type=? AND message_id > ?"
    args: List[Any] = [owner_id, inbox_type, since]
    if most:
        sql, args = sql + " AND message_id <= ?", args + [most]
    with ctx.store.read() as conn:
        entries = conn.execute(sql + " ORDER BY message_id DESC", args).fetchall()
    limit = page_limit(ctx, int_param(ctx, "limit", 100))
    where = ctx.json_param("where") or {}

    def statuses(ids: List[str]) -> Dict[str, Any]:
        """``{"objectId": {"$in": ids}}`` and the caller's where."""
        return {"$and": [where, {"objectId": {"$in": ids}}]} if where else {"objectId": {"$in": ids}}

    # the caller's own read: its where, include and keys reach no further than its rights; a page of
    # entries at a time, so that a long inbox costs what the answer needs, not its whole length
    results: List[Dict[str, Any]] = []
    for start in range(0, len(entries), MAX_LIMIT):
        if len(results) >= limit:
            break
        page = entries[start:start + MAX_LIMIT]
        rows, _ = query(ctx, STATUS_CLASS, statuses([status_id for _, status_id in page]),
                        limit=len(page), include=ctx.params.get("include"), keys=ctx.params.get("keys"))
        by_id = {r["objectId"]: r for r in rows}
        results += [{**by_id[status_id], "messageId": message_id, "inboxType": inbox_type}
                    for message_id, status_id in page if status_id in by_id]
    answer: Dict[str, Any] = {"results": results[:limit]}
    if ctx.params.get("count") in ("1", "true"):
        _, answer["count"] = query(ctx, STATUS_CLASS, statuses([status_id for _, status_id in entries]),
                                   limit=0, count=True)
    return answer


@route("GET", r"subscribe/statuses/count")
def _count(ctx: Context) -> Any:
    owner_id, inbox_type = _inbox(ctx, ctx.params)
    with ctx.store.read() as conn:
        total, unread = conn.execute("SELECT COUNT(*), COALESCE(SUM(unread), 0) FROM _status_inbox "
                                     "WHERE owner_id=? AND inbox_type=?", (owner_id, inbox_type)).fetchone()
    return {"total": total, "unread": unread}


@route("POST", r"subscribe/statuses/resetUnreadCount")
def _reset_unread(ctx: Context) -> Any:
    params = {**ctx.params, **(ctx.json_body() if ctx.body is not None else {})}
    owner_id, inbox_type = _inbox(ctx, params)
    with ctx.store.write() as conn:
        conn.execute("UPDATE _status_inbox SET unread=0 WHERE owner_id=? AND inbox_type=?", (owner_id, inbox_type))
    return {}


@route("DELETE", r"subscribe/statuses/inbox")
def _delete_entry(ctx: Context) -> Any:
    owner_id, inbox_type = _inbox(ctx, ctx.params)
    message_id = int_param(ctx, "messageId", 0)
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _status_inbox WHERE owner_id=? AND inbox_type=? AND message_id=?",
                     (owner_id, inbox_type, message_id))
    return {}
