"""The ``classes/<class>[/<id>]`` endpoints (``users``, ``roles`` and ``installations`` are other names
of their classes), ``scan/classes/<class>`` and ``purge/<class>``.

Every class is listed, read, written and deleted the same way except where ``CLASS_HANDLERS`` names a
handler of its own: a user's signup and update (passwords, sessions, third-party accounts) and delete (its
sessions), an installation's registration (one per device) and update (its user), a ``_File``'s writes
(its key) and delete (its bytes), the ``_Session`` objects (the sessions table: listed, and kept by the
master key for an imported token). That table is the one place where a request's class chooses its
handler; which system classes clients may write at all is ``permissions.CLOSED_TO_CLIENTS``'s.
"""
from __future__ import annotations

import base64
import dataclasses
from typing import Any, Dict, Tuple

import orjson

from . import auth_data, hosted_files, installations, sessions, users
from .objects import remove, write, write_options
from ..routing import Context, Handler, route
from ..answers import ProtocolError
from .session_objects import delete_session, refuse_session_write, sessions_answer
from .reads import DEFAULT_LIMIT, MAX_LIMIT, fetch, int_param, list_answer, query, without_unasked
from ..storage.store import check_class_name, check_field_name, table
from ..storage.query_compiler import SYSTEM_RELATIONS

__all__ = ["CLASS_HANDLERS"]

#: ``(method, class)``: the handler of ``classes/<class>`` (GET, POST) or ``classes/<class>/<id>`` (GET, PUT,
#: DELETE) for the classes whose requests do more than store an object; it sees ``ctx.args`` without the class
CLASS_HANDLERS: Dict[Tuple[str, str], Handler] = {
    ("POST", "_User"): auth_data.signup_or_link,
    ("PUT", "_User"): auth_data.update_or_link,
    ("DELETE", "_User"): users.delete_user,
    ("POST", "_Installation"): installations.register,
    ("PUT", "_Installation"): installations.update,
    ("POST", "_File"): hosted_files.create_file_object,
    ("PUT", "_File"): hosted_files.update_file_object,
    ("DELETE", "_File"): hosted_files.delete_file_object,
    ("GET", "_Session"): sessions_answer,
    ("POST", "_Session"): sessions.keep_session,
    ("PUT", "_Session"): refuse_session_write,
    ("DELETE", "_Session"): delete_session,
}


def _by_class(generic: Handler) -> Handler:
    """``generic`` for every class but those ``CLASS_HANDLERS`` has a handler of the method for."""
    def handler(ctx: Context) -> Any:
        own = CLASS_HANDLERS.get((ctx.method, ctx.args[0]))
        if own is None:
            return generic(ctx)
        return own(dataclasses.replace(ctx, args=ctx.args[1:]))
    return handler


@route("GET", r"classes/([^/]+)")
@_by_class
def _list(ctx: Context) -> Any:
    redirect = ctx.params.get("redirectClassNameForKey")
    if not redirect:
        return list_answer(ctx, ctx.args[0])
    # A Relation's query made before its target class is known (what the official SDK sends for a
    # relation it has only added to): the rows are those of the key's target class, named in the answer.
    with ctx.store.read() as conn:
        ftype, target = ctx.store.schema(conn, check_class_name(ctx.args[0])).get(redirect, (None, None))
    if ftype is None:  # a key never written: _Role's own relations have known targets, others no members
        ftype, target = "Relation", SYSTEM_RELATIONS.get((ctx.args[0], redirect))
        if target is None:
            empty: Dict[str, Any] = {"results": [], "className": ctx.args[0]}
            return {**empty, "count": 0} if ctx.params.get("count") in ("1", "true") else empty
    if ftype != "Relation" or target is None:
        raise ProtocolError(102, f"Invalid query: {redirect!r} is not a Relation of {ctx.args[0]}.")
    answer = list_answer(ctx, target)
    if ctx.dialect == "parse":  # Parse names the class on each result (its SDK builds the objects from it)
        return {**answer, "results": [{**row, "className": target} for row in answer["results"]]}
    return {**answer, "className": target}


@route("POST", r"classes/([^/]+)")
@_by_class
def _create(ctx: Context) -> Any:
    where, fetch_when_save = write_options(ctx)
    return write(ctx, ctx.args[0], None, ctx.json_body(), fetch_when_save=fetch_when_save)


@route("GET", r"classes/([^/]+)/([^/]+)")
@_by_class
def _get(ctx: Context) -> Any:
    try:
        found = fetch(ctx, ctx.args[0], ctx.args[1], ctx.params.get("keys"), ctx.params.get("include"))
    except ProtocolError as exc:
        if exc.code == 101 and ctx.dialect == "leancloud":
            return _missing_on_leancloud(ctx)
        raise
    return without_unasked(ctx, [found])[0]


def _missing_on_leancloud(ctx: Context) -> Any:
    """LeanCloud's answer to a GET of an object the caller cannot find: an empty object (what the SDKs'
    ``is_existed()`` reads); in a batch, ``null``, and error 101 when the class itself does not exist
    (what ``fetchAll`` reports per object). Parse answers error 101 in both."""
    if not ctx.batch_item:
        return {}
    with ctx.store.read() as conn:
        if not ctx.store.has_class(conn, ctx.args[0]):
            raise ProtocolError(101, "Class or object doesn't exists.", 404)
    return None


@route("PUT", r"classes/([^/]+)/([^/]+)")
@_by_class
def _update(ctx: Context) -> Any:
    where, fetch_when_save = write_options(ctx)
    return write(ctx, ctx.args[0], ctx.args[1], ctx.json_body(), where, fetch_when_save)


@route("DELETE", r"classes/([^/]+)/([^/]+)")
@_by_class
def _delete(ctx: Context) -> Any:
    # LeanCloud's destroyAll names every object of a class in one DELETE, their ids comma-joined
    ids = ctx.args[1].split(",") if ctx.dialect == "leancloud" else [ctx.args[1]]
    for object_id in ids:
        remove(ctx, ctx.args[0], object_id, ctx.json_param("where"), ctx.json_body())
    return {}


@route("GET", r"scan/classes/([^/]+)")
def _scan(ctx: Context) -> Any:
    """LeanCloud's scan: objectId order, an opaque cursor, constant cost per page (no skip)."""
    ctx.require_master()
    limit = int_param(ctx, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT or limit == 0:
        raise ProtocolError(102, f"Invalid query: scan limit must be between 1 and {MAX_LIMIT}.")
    scan_key = ctx.params.get("scan_key") or "objectId"
    descending = scan_key.startswith("-")
    key = scan_key.lstrip("-")
    if key != "objectId":
        check_field_name(key)
    where = ctx.json_param("where")
    if ctx.params.get("cursor"):
        try:
            last_value, last_id = orjson.loads(base64.urlsafe_b64decode(ctx.params["cursor"].encode()))
        except (ValueError, UnicodeDecodeError, TypeError):
            raise ProtocolError(102, "Invalid scan cursor.") from None
        beyond = "$lt" if descending else "$gt"
        after = {"$or": [{key: {beyond: last_value}}, {key: last_value, "objectId": {"$gt": last_id}}]} \
            if key != "objectId" else {"objectId": {beyond: last_id}}
        where = {"$and": [where, after]} if where else after
    order = scan_key if key == "objectId" else f"{scan_key},objectId"
    keys = ctx.params.get("keys")
    if keys and key not in keys.split(","):
        keys += f",{key}"  # the cursor is made of it
    rows, _ = query(ctx, ctx.args[0], where, order, limit, keys=keys)
    cursor = None
    if len(rows) == limit:  # the cursor is the last row's scan value and id: pages never overlap
        last = [rows[-1].get(key), rows[-1]["objectId"]]
        cursor = base64.urlsafe_b64encode(orjson.dumps(last)).decode()
    return {"results": without_unasked(ctx, rows), "cursor": cursor}


@route("DELETE", r"purge/([^/]+)")
def _purge(ctx: Context) -> Any:
    ctx.require_master()
    class_name = check_class_name(ctx.args[0])
    with ctx.store.write() as conn:
        if class_name == "_Session":  # sessions live in a table of their own (session_objects)
            conn.execute("DELETE FROM _sessions")
        if ctx.store.has_class(conn, class_name):
            conn.execute(f"DELETE FROM {table(class_name)}")
            conn.execute("DELETE FROM _relations WHERE owner_class=?", (class_name,))
    return {}
