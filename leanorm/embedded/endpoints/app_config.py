"""Parse's app configuration (``Parse.Config``): named parameters any client reads with ``GET config``
and only the master key writes with ``PUT config``; a parameter marked ``masterKeyOnly`` is left out
of what other callers read."""
from __future__ import annotations

from typing import Any, List

from ..routing import Context, route
from ..answers import ProtocolError, dumps, loads

__all__: List[str] = []


@route("GET", r"config")
def _get_config(ctx: Context) -> Any:
    with ctx.store.read() as conn:
        rows = conn.execute("SELECT name, value, master_only FROM _config ORDER BY name").fetchall()
    params = {name: loads(value) for name, value, master_only in rows if ctx.caller.master or not master_only}
    if not ctx.caller.master:
        return {"params": params}
    return {"params": params, "masterKeyOnly": {name: bool(master_only) for name, _, master_only in rows}}


@route("PUT", r"config")
def _set_config(ctx: Context) -> Any:
    """``{"params": {name: value or {"__op": "Delete"}}, "masterKeyOnly": {name: bool}}``."""
    ctx.require_master()
    body = ctx.json_body()
    params, master_only = body.get("params") or {}, body.get("masterKeyOnly") or {}
    if not isinstance(params, dict) or not isinstance(master_only, dict):
        raise ProtocolError(107, "config needs params (and masterKeyOnly) as JSON objects.")
    with ctx.store.write() as conn:
        for name, value in params.items():
            if isinstance(value, dict) and value.get("__op") == "Delete":
                conn.execute("DELETE FROM _config WHERE name=?", (name,))
            else:
                conn.execute("INSERT INTO _config VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value="
                             "excluded.value", (name, dumps(value), int(bool(master_only.get(name)))))
        for name, flag in master_only.items():
            conn.execute("UPDATE _config SET master_only=? WHERE name=?", (int(bool(flag)), name))
    return {"result": True}
