"""Installations: registering and updating a device (``installations`` is ``classes/_Installation``).

Registering an installation whose ``installationId`` or ``deviceToken`` is already stored updates that
installation instead of adding a second one (LeanCloud and Parse Server both keep one object per device).

An installation's ``user`` is whom pushes to a user reach, so a client sets it only to itself (the user
of its session) or removes it: a device saved with another user's pointer received that user's pushes.
"""
from __future__ import annotations

from typing import Any, Dict, List

from . import objects
from ..routing import Context
from ..answers import ProtocolError
from ..storage.store import table

__all__: List[str] = ["register", "update"]

_DEVICE_IDS = ("installationId", "deviceToken")


def _check_user(ctx: Context, body: Dict[str, Any]) -> None:
    """Refuse (119) a client's ``user`` other than itself (or its removal)."""
    if ctx.caller.master or "user" not in body:
        return
    user = body["user"]
    if user is None or (isinstance(user, dict) and user.get("__op") == "Delete"):
        return
    if not (isinstance(user, dict) and user.get("className") == "_User" and ctx.caller.user_id is not None
            and user.get("objectId") == ctx.caller.user_id):
        raise ProtocolError(119, "An installation's user is the logged-in user that saves it (or none).", 403)


def register(ctx: Context) -> Any:
    body = ctx.json_body()
    _check_user(ctx, body)
    ids = {key: body[key] for key in _DEVICE_IDS if body.get(key)}
    if not ids:
        raise ProtocolError(135, "at least one ID field (deviceToken, installationId) must be specified in this "
                                 "operation")
    if not body.get("deviceType"):
        raise ProtocolError(135, "deviceType must be specified in this operation")
    fetch_when_save = objects.write_options(ctx)[1]
    # one transaction, so two registrations of one device at once still make one installation
    with ctx.store.write() as conn:
        known = None
        if ctx.store.has_class(conn, "_Installation"):
            known = conn.execute(f"SELECT objectId FROM {table('_Installation')} WHERE " +
                                 " OR ".join(f"json_extract(data, '$.{key}') = ?" for key in ids) + " LIMIT 1",
                                 tuple(ids.values())).fetchone()
        if known is None:
            return objects.write(ctx, "_Installation", None, body, fetch_when_save=fetch_when_save)
        return objects.write(ctx, "_Installation", known[0], body, fetch_when_save=fetch_when_save)


def update(ctx: Context) -> Any:
    """``PUT classes/_Installation/<id>``: an object like any other, but its ``user`` is the caller's."""
    body = ctx.json_body()
    _check_user(ctx, body)
    where, fetch_when_save = objects.write_options(ctx)
    return objects.write(ctx, "_Installation", ctx.args[0], body, where, fetch_when_save)
