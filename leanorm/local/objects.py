"""Writing objects: create, update and delete, around the hooks of the Engine.

The functions ``write`` and ``remove`` are the backend's one implementation of each write (reads are
``reads.query`` and ``reads.fetch``); the user, role, file and push code calls them too.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Dict, List, Optional, Tuple

import orjson

from . import authz, hooks
from .columns import apply_column_options
from .permissions import permit
from ..protocol.ids import new_object_id
from .protocol import Caller, Context, ProtocolError
from .rows import ROW
from .store import FieldType, check_class_name, check_field_name, table
from .values import (MISSING, apply_op, canonical, check_value, normalize_iso, now_iso, relation_targets,
                     type_of)
from .query_compiler import QueryCompiler

__all__ = ["write", "remove", "write_options", "can_write"]

RESERVED = {"objectId", "createdAt", "updatedAt", "ACL", "className"}
#: fields no client may store: SDKs take a ``sessionToken`` in any answer as the session to use
CLIENT_RESERVED = {"sessionToken"}



def can_write(caller: Caller, acl: Optional[str]) -> bool:
    if caller.master or acl is None:
        return True
    grants = orjson.loads(acl)
    return any(grants.get(p, {}).get("write") for p in caller.principals)


def _check_acl(value: Any) -> str:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and set(v) <= {"read", "write"}
            and all(isinstance(b, bool) for b in v.values()) for k, v in value.items()):
        raise ProtocolError(123, "Invalid ACL: expected {principal: {read: bool, write: bool}}.")
    return canonical(value)


def _load(conn: sqlite3.Connection, ctx: Context, class_name: str, object_id: str,
          where: Any = None) -> Tuple[Dict[str, Any], Optional[str], str]:
    """The stored document, ACL and createdAt of an object the caller may write (error 101 otherwise,
    which does not reveal whether the object exists; 305 when a ``where`` condition does not match)."""
    if not ctx.store.has_class(conn, class_name):
        raise ProtocolError(101, "Object not found.", 404)
    row = conn.execute(f"SELECT acl, data, createdAt FROM {table(class_name)} WHERE objectId=?",
                       (object_id,)).fetchone()
    if row is None or not can_write(ctx.caller, row[0]):
        raise ProtocolError(101, "Object not found.", 404)
    if where:
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, authz.ReadPolicy(ctx))
        cond = compiler.where(class_name, "t0", where)
        compiler.params["id"] = object_id
        hit = conn.execute(f"SELECT 1 FROM {table(class_name)} AS t0 WHERE t0.objectId = :id AND ({cond})",
                           compiler.params).fetchone()
        if hit is None:
            raise ProtocolError(305, "No effect on updating/deleting a document.")
    return orjson.loads(row[1]), row[0], row[2]


def write(ctx: Context, class_name: str, object_id: Optional[str], body: Dict[str, Any],
          where: Any = None, fetch_when_save: bool = False, new_id: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
    """Create (``object_id`` None) or update one object; returns the status and the protocol answer.
    ``new_id`` is an id the engine itself chose for a new object (a client's ``objectId`` is checked).

    Before hooks run outside the transaction (they may read and write through the engine themselves);
    the write is one transaction; after hooks see the saved object.
    """
    check_class_name(class_name)
    creating = object_id is None
    permit(ctx, class_name, "create" if creating else "update")
    body = dict(body)
    control = hooks.Control.take(body, ctx, class_name)
    hook = "beforeSave" if creating else "beforeUpdate"
    hooked: List[str] = []
    if hooks.declared(ctx, control, class_name, hook):
        stored = {} if object_id is None else _stored(ctx, class_name, object_id)
        sent, body = body, hooks.before_write(ctx, control, class_name, hook, body, stored)
        # what the hook changed goes back in the answer (as Parse does), so the client's copy is right
        hooked = [k for k in body if k not in sent or canonical(body[k]) != canonical(sent[k])]
    body = {k: v for k, v in body.items() if k != "className" and not (k == "objectId" and not creating)}
    if creating:  # checked before anything is written
        asked = body.pop("objectId", None)
        object_id = new_id or (new_object_id() if asked is None else authz.client_object_id(ctx, asked))
    assert object_id is not None  # given for an update, made above for a create
    with ctx.store.write() as conn:
        ctx.store.ensure_class(conn, class_name)
        now = now_iso()
        doc: Dict[str, Any]
        if creating:
            doc, acl, created = {}, None, _kept_timestamp(ctx, body.get("createdAt")) or now
        else:
            doc, acl, created = _load(conn, ctx, class_name, object_id, where)
        if class_name == "_Role":
            authz.check_role_write(conn, ctx, creating, doc, body)
        hooked += apply_column_options(conn, ctx.store, class_name, body, creating)
        # a migration keeps the original (and copying relations later must not move it)
        now = _kept_timestamp(ctx, body.get("updatedAt")) or now
        changed = _apply(conn, ctx, class_name, object_id, doc, body)
        if "ACL" in body:
            acl = None if body["ACL"] is None else _check_acl(body["ACL"])
        data = canonical(doc)
        try:
            if creating:
                conn.execute(f"INSERT INTO {table(class_name)} ({ROW}) VALUES (?, ?, ?, ?, ?)",
                             (object_id, created, now, acl, data))
            else:
                conn.execute(f"UPDATE {table(class_name)} SET updatedAt=?, acl=?, data=? WHERE objectId=?",
                             (now, acl, data, object_id))
        except sqlite3.IntegrityError as exc:
            field = "objectId" if "objectId" in str(exc) else "a unique field"
            raise ProtocolError(137, f"A unique field was given a value that is already taken ({field}).") \
                from None
    saved = {**doc, "objectId": object_id, "createdAt": created, "updatedAt": now}
    if acl is not None:
        saved["ACL"] = orjson.loads(acl)
    hooks.after(ctx, control, class_name, "afterSave" if creating else "afterUpdate", saved)
    if fetch_when_save:
        return (201 if creating else 200), saved
    echoed = {k: doc[k] for k in (*changed, *hooked) if k in doc}
    if creating:
        return 201, {"objectId": object_id, "createdAt": created, **echoed}
    return 200, {"objectId": object_id, "updatedAt": now, **echoed}


def _apply(conn: sqlite3.Connection, ctx: Context, class_name: str, object_id: str, doc: Dict[str, Any],
           body: Dict[str, Any]) -> List[str]:
    """Apply the body's values and operations to ``doc``; learn field types; returns the fields that
    operations computed (their new values go back to the client)."""
    schema = ctx.store.schema(conn, class_name)
    types: Dict[str, FieldType] = {}
    computed = []
    for key, value in body.items():
        if key in RESERVED:
            continue
        if key in CLIENT_RESERVED:
            raise ProtocolError(105, f"Invalid field name: {key} is reserved.")
        check_field_name(key)
        if isinstance(value, dict) and "__op" in value:
            op = value["__op"]
            if op in ("AddRelation", "RemoveRelation"):
                _relation(conn, class_name, object_id, key, value)
                target = relation_targets(value, key)[0]
                value = {"__type": "Relation", "className": target}
            elif op == "Batch":
                ops = value.get("ops")
                if not isinstance(ops, list) or not all(isinstance(o, dict) and "__op" in o for o in ops):
                    raise ProtocolError(111, f"Batch on {key!r} needs a list of operations in 'ops'.")
                for inner in ops:
                    _apply(conn, ctx, class_name, object_id, doc, {key: inner})
                continue
            else:
                value = apply_op(doc.get(key, MISSING), value, key, bit_ops=ctx.dialect == "leancloud")
                computed.append(key)
        else:
            value = check_value(value, key)
        if value is MISSING:
            doc.pop(key, None)
            continue
        doc[key] = value
        ftype = type_of(value)
        if ftype is not None:
            types[key] = ftype
    ctx.store.learn(conn, class_name, schema, types)
    return computed


def _relation(conn: sqlite3.Connection, class_name: str, object_id: str, key: str, op: Dict[str, Any]) -> None:
    target, ids = relation_targets(op, key)
    if op["__op"] == "AddRelation":
        conn.executemany("INSERT OR IGNORE INTO _relations VALUES (?, ?, ?, ?, ?)",
                         [(class_name, object_id, key, target, i) for i in ids])
    else:
        conn.executemany("DELETE FROM _relations WHERE owner_class=? AND owner_id=? AND key=? AND target_id=?",
                         [(class_name, object_id, key, i) for i in ids])


def _kept_timestamp(ctx: Context, value: Any) -> Optional[str]:
    """A createdAt (on create) or updatedAt the master key may set (migrations keep the originals)."""
    if value is None or not ctx.caller.master:
        return None
    return normalize_iso(value.get("iso") if isinstance(value, dict) else value)


def _stored(ctx: Context, class_name: str, object_id: str) -> Dict[str, Any]:
    """The document an update starts from (error 101 when the caller may not write it)."""
    with ctx.store.read() as conn:
        return _load(conn, ctx, class_name, object_id)[0]


def remove(ctx: Context, class_name: str, object_id: str, where: Any = None,
           body: Optional[Dict[str, Any]] = None) -> None:
    """Delete one object the caller may write (with its relation rows), around the delete hooks.
    ``body`` is the DELETE's JSON body: LeanCloud's SDKs send hook control there
    (``__ignore_hooks``, ``__before``/``__after``)."""
    permit(ctx, class_name, "delete")
    control = hooks.Control.take(dict(body or {}), ctx, class_name)
    with ctx.store.read() as conn:
        doc, acl, created = _load(conn, ctx, class_name, object_id, where)
    obj = {**doc, "objectId": object_id, "createdAt": created}
    hooks.before_delete(ctx, control, class_name, obj)
    with ctx.store.write() as conn:
        _load(conn, ctx, class_name, object_id, where)
        conn.execute(f"DELETE FROM {table(class_name)} WHERE objectId=?", (object_id,))
        conn.execute("DELETE FROM _relations WHERE owner_class=? AND owner_id=?", (class_name, object_id))
    hooks.after(ctx, control, class_name, "afterDelete", obj)



def write_options(ctx: Context) -> Tuple[Any, bool]:
    return ctx.json_param("where"), ctx.params.get("fetchWhenSave") in ("true", "1") or \
        ctx.params.get("new") == "true"
