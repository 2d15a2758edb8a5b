"""Writing objects: create, update and delete, around the hooks of the Engine.

The functions ``write`` and ``remove`` are the backend's one implementation of each write (reads are
``reads.query`` and ``reads.fetch``); the user, role, file and push code calls them too.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import orjson

from ..access import authz
from . import hooks
from ..storage.columns import apply_column_options
from ..access.permissions import permit, permit_new_class, permit_new_fields
from ...protocol.ids import new_object_id
from ..caller import Caller
from ..routing import Context
from ..answers import ProtocolError
from ..storage.rows import ROW
from ..storage.store import check_class_name, check_field_name, table
from ..storage.interface import Connection, FieldType
from ..storage.values import apply_fields, canonical, field_path, normalize_iso, now_iso, relation_targets, type_of
from ..storage.query_compiler import QueryCompiler, reads_other_rows

__all__ = ["write", "plan", "save", "PlannedWrite", "remove", "write_options", "can_write"]

RESERVED = {"objectId", "createdAt", "updatedAt", "ACL", "className"}
#: fields no client may store: SDKs take a ``sessionToken`` in any answer as the session to use
CLIENT_RESERVED = {"sessionToken"}
#: fields a dotted key may not go into: the write handles them whole (an ACL is checked as one, a
#: password and third-party accounts go through their own checks), never a part of them
UNPATHED = RESERVED | CLIENT_RESERVED | {"password", "authData"}
#: a field name Parse Server takes: a letter first, and not ``length`` (which its JavaScript objects have)
PARSE_FIELD_NAME = re.compile(r"(?!length\Z)[A-Za-z][A-Za-z0-9_]*\Z")



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


class Stored(NamedTuple):
    """An object as stored: its fields, ACL (stored text) and timestamps."""

    doc: Dict[str, Any]
    acl: Optional[str]
    created: str
    updated: str


def _load(conn: Connection, ctx: Context, class_name: str, object_id: str,
          where: Any = None) -> Stored:
    """The stored object the caller may write (error 101 otherwise, which does not reveal whether the
    object exists; 305 when a ``where`` condition does not match what the caller may read of it, 119
    when the class's permissions keep it from getting the object)."""
    if not ctx.store.has_class(conn, class_name):
        raise ProtocolError(101, "Object not found.", 404)
    # in a write: the row stays locked until it commits, so what is written is computed from the last
    # committed object (an increment, AddUnique, a where) even beside other writers
    locked = ctx.store.locking_read if conn.in_transaction else ""
    row = conn.execute(f"SELECT acl, data, createdAt, updatedAt FROM {table(class_name)} WHERE objectId=?{locked}",
                       (object_id,)).fetchone()
    if row is None or not can_write(ctx.caller, row[0]):
        if class_name == "_User" and ctx.dialect == "parse" and not ctx.caller.master:
            # Parse's answer to a client, whether the user exists or not
            raise ProtocolError(206, "Permission denied: a user can be changed by itself or the master key.")
        raise ProtocolError(101, "Object not found.", 404)
    if where:  # a condition is a read of the object: the read rules apply to it, or it is an oracle
        policy = authz.ReadPolicy(ctx)
        policy.permit(class_name, "get")
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, policy)
        cond = compiler.readable(class_name, "t0", where)
        compiler.params["id"] = object_id
        hit = conn.execute(f"SELECT 1 FROM {table(class_name)} AS t0 WHERE t0.objectId = :id AND ({cond})",
                           compiler.params).fetchone()
        if hit is None:
            raise ProtocolError(305, "No effect on updating/deleting a document.")
    return Stored(orjson.loads(row[1]), row[0], row[2], row[3])


@dataclasses.dataclass
class PlannedWrite:
    """A write whose before hook has run (:func:`plan`), to be saved in a transaction (:func:`save`) and
    then followed by its after hook (:meth:`finish`)."""

    class_name: str
    object_id: str
    creating: bool
    body: Dict[str, Any]
    control: hooks.Control
    where: Any
    fetch_when_save: bool
    judged: Optional[Stored]  # the stored object the hook's view was computed from
    hooked: List[str]  # the fields the hook changed
    hook: str
    saved: Optional[Dict[str, Any]] = None

    def finish(self, ctx: Context) -> None:
        """Run the after hook on the saved object: after the transaction that saved it, so that it sees it
        committed and holds no lock while it runs (a hook may take seconds, or write through the server)."""
        assert self.saved is not None, "save() first"
        hooks.after(ctx, self.control, self.class_name, "afterSave" if self.creating else "afterUpdate", self.saved)


def write(ctx: Context, class_name: str, object_id: Optional[str], body: Dict[str, Any],
          where: Any = None, fetch_when_save: bool = False, new_id: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
    """Create (``object_id`` None) or update one object; returns the status and the protocol answer.
    ``new_id`` is an id the server itself chose for a new object (a client's ``objectId`` is checked).

    Before hooks run outside the transaction (they may read and write through the server themselves);
    the write is one transaction; after hooks see the saved object. A write that must share a transaction
    with others (a signup's password and session) is :func:`plan`, then :func:`save` inside it, then
    :meth:`PlannedWrite.finish` after it.
    """
    planned = plan(ctx, class_name, object_id, body, where, fetch_when_save, new_id)
    answer = save(ctx, planned)
    planned.finish(ctx)
    return answer


def plan(ctx: Context, class_name: str, object_id: Optional[str], body: Dict[str, Any],
         where: Any = None, fetch_when_save: bool = False, new_id: Optional[str] = None) -> PlannedWrite:
    """A write checked against the class's permissions, with its before hook run (outside any
    transaction: call it before opening one)."""
    check_class_name(class_name)
    creating = object_id is None
    permit(ctx, class_name, "create" if creating else "update")
    body = dict(body)
    control = hooks.Control.take(body, ctx, class_name)
    hook = "beforeSave" if creating else "beforeUpdate"
    hooked: List[str] = []
    judged: Optional[Stored] = None
    if hooks.declared(ctx, control, class_name, hook):
        judged = None if object_id is None else _stored(ctx, class_name, object_id)
        preview = _as_hook_sees(ctx, class_name, judged, object_id, body)
        sent, body = body, hooks.before_write(ctx, control, class_name, hook, body, preview)
        # what the hook changed goes back in the answer (as Parse does), so the client's copy is right
        hooked = [k for k in body if k not in sent or canonical(body[k]) != canonical(sent[k])]
    body = {k: v for k, v in body.items() if k != "className" and not (k == "objectId" and not creating)}
    if creating:  # checked before anything is written
        asked = body.pop("objectId", None)
        object_id = new_id or (new_object_id() if asked is None else authz.client_object_id(ctx, asked))
    assert object_id is not None  # given for an update, made above for a create
    return PlannedWrite(class_name, object_id, creating, body, control, where, fetch_when_save, judged, hooked, hook)


def save(ctx: Context, planned: PlannedWrite) -> Tuple[int, Dict[str, Any]]:
    """Save a planned write in one transaction (the open one, if any); the status and the protocol answer."""
    class_name, creating = planned.class_name, planned.creating
    try:
        saved, changed, defaulted = ctx.store.transact(
            lambda conn: _save(conn, ctx, class_name, planned.object_id, dict(planned.body), creating,
                               planned.where, planned.judged, planned.hook),
            concurrent=_side_by_side(class_name, planned.where))
    except ctx.store.integrity_errors as exc:
        field = "objectId" if "objectId" in str(exc) else "a unique field"
        raise ProtocolError(137, f"A unique field was given a value that is already taken ({field}).") from None
    planned.saved = saved
    return (201 if creating else 200), _answer(ctx, class_name, saved, creating,
                                               None if planned.fetch_when_save else
                                               [*changed, *planned.hooked, *defaulted])


def _side_by_side(class_name: str, where: Any) -> bool:
    """Whether a write of one object of ``class_name`` under the condition ``where`` may run beside other
    writes (``Store.transact``'s ``concurrent``): an app class's may, as what it reads to decide is its
    own row (locked) and the catalogue (whose changes run alone). A system class's may not: its rules read
    other rows (a unique username, email or phone number, a role's name, one installation per device) and
    would race; nor may a condition reading other rows (no lock holds those still until the commit)."""
    return not class_name.startswith("_") and not reads_other_rows(where)


def _save(conn: Connection, ctx: Context, class_name: str, object_id: str, body: Dict[str, Any], creating: bool,
          where: Any, judged: Optional[Stored], hook: str) -> Tuple[Dict[str, Any], List[str], List[str]]:
    """The write's transaction (``body`` its own copy: it is filled with defaults): the object as saved,
    the fields operations computed and the fields given their default. It may run more than once
    (``Store.transact``): nothing here reaches outside the transaction."""
    if not ctx.store.has_class(conn, class_name):
        if not creating:  # an update creates no class (it used to, with an empty table)
            raise ProtocolError(101, "Object not found.", 404)
        permit_new_class(ctx, conn, class_name)
        ctx.store.ensure_class(conn, class_name)
    now = now_iso()
    doc: Dict[str, Any]
    current: Optional[Stored] = None
    if creating:
        doc, acl, created = {}, None, _kept_timestamp(ctx, body.get("createdAt")) or now
    else:
        current = _load(conn, ctx, class_name, object_id, where)
        if judged is not None:
            _check_unchanged(judged, current, hook)
        doc, acl, created = current.doc, current.acl, current.created
    if class_name == "_Role":
        authz.check_role_write(conn, ctx, creating, doc, body)
    defaulted = apply_column_options(conn, ctx.store, class_name, body, creating)
    # a migration keeps the original (and copying relations later must not move it)
    now = _kept_timestamp(ctx, body.get("updatedAt")) or now
    doc, changed = _apply(conn, ctx, class_name, object_id, doc, body)
    if "ACL" in body:
        acl = None if body["ACL"] is None else _check_acl(body["ACL"])
    data = canonical(doc)
    bound = ctx.settings.max_object_size  # Settings.DEFAULT_MAX_OBJECT says why
    if len(data) > bound and not ctx.caller.master:
        raise ProtocolError(1, f"An object is at most {bound} bytes as stored; this one would have "
                               f"{len(data)}.", 413)
    # sent with the commit where the store can (one round trip): a duplicate key is raised there (``write``)
    if creating:
        ctx.store.send(conn, f"INSERT INTO {table(class_name)} ({ROW}) VALUES (?, ?, ?, ?, ?)",
                       (object_id, created, now, acl, data))
    else:
        ctx.store.send(conn, f"UPDATE {table(class_name)} SET updatedAt=?, acl=?, data=? WHERE objectId=?",
                       (now, acl, data, object_id))
    saved = _whole(doc, object_id, created, now, acl)
    # in the write's transaction: the change feed holds exactly the writes that committed
    ctx.store.record_change(conn, class_name, object_id,
                            None if current is None else _whole(current.doc, object_id, current.created,
                                                                current.updated, current.acl), saved)
    return saved, changed, defaulted


def record_login(ctx: Context, conn: Connection, user_id: str) -> None:
    """A login, in the change feed (in the login's write transaction): the user as stored, the same
    before and after. No write leaves an object unchanged (``updatedAt`` moves), so live queries read
    such a change as a login: LeanCloud LiveQuery's ``login`` event for ``_User`` subscriptions."""
    row = conn.execute(f"SELECT acl, data, createdAt, updatedAt FROM {table('_User')} WHERE objectId=?",
                       (user_id,)).fetchone()
    if row is not None:
        user = _whole(orjson.loads(row[1]), user_id, row[2], row[3], row[0])
        ctx.store.record_change(conn, "_User", user_id, user, user)


def _whole(doc: Dict[str, Any], object_id: str, created: str, updated: str, acl: Optional[str]) -> Dict[str, Any]:
    """An object as stored, whole: its fields, id, dates and ACL (what hooks and the change feed see)."""
    obj = {**doc, "objectId": object_id, "createdAt": created, "updatedAt": updated}
    if acl is not None:
        obj["ACL"] = orjson.loads(acl)
    return obj


def _answer(ctx: Context, class_name: str, saved: Dict[str, Any], creating: bool,
            echoed: Optional[List[str]]) -> Dict[str, Any]:
    """A write's answer: the object's id and date, with the whole object (``echoed`` None:
    ``fetchWhenSave``/``new``) or the fields whose stored value the client can not know (``echoed``: what
    operations computed and hooks changed), as the caller's ``GET`` would show them: nothing of an object
    it may not read, none of the fields hidden from it (the read filter, ``authz.ReadPolicy.reveal``)."""
    viewer = ctx
    if creating and class_name == "_User" and not ctx.caller.master:  # a signup: the new user sees itself
        viewer = dataclasses.replace(ctx, caller=Caller(user_id=saved["objectId"],
                                                        principals=("*", saved["objectId"])))
    shown = authz.ReadPolicy(viewer).reveal(class_name, dict(saved), "get") or {}
    dates = ("createdAt", "updatedAt") if echoed is None else ("createdAt",) if creating else ("updatedAt",)
    answer = {"objectId": saved["objectId"], **{k: saved[k] for k in dates}}
    if echoed is None:
        return {**shown, **answer}
    return {**answer, **{k: shown[k] for k in echoed if k in shown}}


def _fields(body: Dict[str, Any], dialect: str) -> Dict[str, Any]:
    """The fields a write body sets (the object's own keys apart), refused (105) where a client may not
    name a field. A dotted key (``stats.views``) sets a value inside the Object field it starts with."""
    fields = {}
    for key, value in body.items():
        if key in RESERVED:
            continue
        if key in CLIENT_RESERVED:
            raise ProtocolError(105, f"Invalid field name: {key} is reserved.")
        top = check_field_name(field_path(key)[0])
        if dialect == "parse" and not PARSE_FIELD_NAME.match(top):
            raise ProtocolError(105, f"Invalid field name: {top}.")
        if top != key and top in UNPATHED:
            raise ProtocolError(105, f"Invalid field name: {key!r}: {top} is written whole, not by a path.")
        fields[key] = value
    return fields


def _apply(conn: Connection, ctx: Context, class_name: str, object_id: str, doc: Dict[str, Any],
           body: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """Apply the body's values and operations to ``doc``, change relation rows, learn field types;
    returns the new document and the fields that operations computed (their new values go back to the
    client)."""
    fields = _fields(body, ctx.dialect)
    applied = apply_fields(doc, fields, bit_ops=ctx.dialect == "leancloud", class_name=class_name)
    schema = ctx.store.schema(conn, class_name)
    types: Dict[str, FieldType] = {}
    for key in {field_path(k)[0] for k in fields}:
        ftype = type_of(applied.doc.get(key))
        if ftype is not None:
            types[key] = ftype
    if ctx.dialect == "parse":
        _one_geopoint(fields, types)
    permit_new_fields(ctx, class_name, schema, [k for k in types if k not in schema])
    for key, ops in applied.memberships.items():
        for op in ops:
            _relation(conn, class_name, object_id, key, op)
    ctx.store.learn(conn, class_name, schema, types)
    return applied.doc, applied.computed


def _one_geopoint(fields: Dict[str, Any], types: Dict[str, FieldType]) -> None:
    """Parse Server refuses an object written with two GeoPoint values (111; MongoDB indexes one per
    document). LeanCloud's recorded answers show a class holding two, so its dialect takes them."""
    written = [key for key in fields if key in types and types[key][0] == "GeoPoint"]
    if len(written) > 1:
        raise ProtocolError(111, "there can only be one geopoint field in a class")


def _relation(conn: Connection, class_name: str, object_id: str, key: str, op: Dict[str, Any]) -> None:
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


def _check_unchanged(judged: Stored, current: Stored, hook: str) -> None:
    """Refuse (305) to write or delete an object that changed since its before-hook read it: the hook
    judged the object as it was, and what is stored must be what it saw."""
    if (canonical(current.doc), current.acl) != (canonical(judged.doc), judged.acl):
        raise ProtocolError(305, f"The object changed while its {hook} hook ran; nothing was written.")


def _stored(ctx: Context, class_name: str, object_id: str) -> Stored:
    """The object an update starts from (error 101 when the caller may not write it)."""
    with ctx.store.read() as conn:
        return _load(conn, ctx, class_name, object_id)


def _as_hook_sees(ctx: Context, class_name: str, stored: Optional[Stored], object_id: Optional[str],
                  body: Dict[str, Any]) -> Dict[str, Any]:
    """The object a before-hook judges: the stored one (none for a create) with the body applied by
    the code that computes what is stored (``_fields``, ``values.apply_fields``), so every operation
    (``Increment``, ``Batch``, ``Delete``...) shows its result, and values their stored form (a Date
    normalised, an ``Object`` reduced to its pointer). A Relation's membership is not a value of the
    object: its key shows the change itself, checked (one ``AddRelation``/``RemoveRelation``, or a
    ``Batch`` of them), as Parse Server's webhooks show a pending operation."""
    applied = apply_fields(stored.doc if stored else {}, _fields(body, ctx.dialect),
                           bit_ops=ctx.dialect == "leancloud", class_name=class_name)
    obj = applied.doc
    for key, ops in applied.memberships.items():
        obj[key] = ops[0] if len(ops) == 1 else {"__op": "Batch", "ops": ops}
    if "ACL" in body:
        acl = None if body["ACL"] is None else _check_acl(body["ACL"])
    else:
        acl = stored.acl if stored else None
    if acl is not None:
        obj["ACL"] = orjson.loads(acl)
    if stored is not None:
        obj.update(objectId=object_id, createdAt=stored.created, updatedAt=stored.updated)
    return obj


def remove(ctx: Context, class_name: str, object_id: str, where: Any = None,
           body: Optional[Dict[str, Any]] = None) -> None:
    """Delete one object the caller may write (with its relation rows), around the delete hooks.
    ``body`` is the DELETE's JSON body: LeanCloud's SDKs send hook control there
    (``__ignore_hooks``, ``__before``/``__after``)."""
    permit(ctx, class_name, "delete")
    control = hooks.Control.take(dict(body or {}), ctx, class_name)
    with ctx.store.read() as conn:
        stored = _load(conn, ctx, class_name, object_id, where)
    obj = _whole(stored.doc, object_id, stored.created, stored.updated, stored.acl)
    judged = hooks.declared(ctx, control, class_name, "beforeDelete")
    hooks.before_delete(ctx, control, class_name, obj)
    def delete(conn: Connection) -> None:  # may run more than once (Store.transact)
        current = _load(conn, ctx, class_name, object_id, where)
        if judged:
            _check_unchanged(stored, current, "beforeDelete")
        conn.execute(f"DELETE FROM {table(class_name)} WHERE objectId=?", (object_id,))
        conn.execute("DELETE FROM _relations WHERE owner_class=? AND owner_id=?", (class_name, object_id))
        ctx.store.record_change(conn, class_name, object_id,
                                _whole(current.doc, object_id, current.created, current.updated, current.acl), None)
    ctx.store.transact(delete, concurrent=_side_by_side(class_name, where))
    hooks.after(ctx, control, class_name, "afterDelete", obj)


def write_options(ctx: Context) -> Tuple[Any, bool]:
    return ctx.json_param("where"), ctx.params.get("fetchWhenSave") in ("true", "1") or \
        ctx.params.get("new") == "true"
