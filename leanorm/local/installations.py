"""Installations: registering a device (``installations`` is ``classes/_Installation``).

Registering an installation whose ``installationId`` or ``deviceToken`` is already stored updates that
installation instead of adding a second one (LeanCloud and Parse Server both keep one object per device).
"""
from __future__ import annotations

from typing import Any, List

from . import objects
from .protocol import Context, ProtocolError
from .store import table

__all__: List[str] = ["register"]

_DEVICE_IDS = ("installationId", "deviceToken")


def register(ctx: Context) -> Any:
    body = ctx.json_body()
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
