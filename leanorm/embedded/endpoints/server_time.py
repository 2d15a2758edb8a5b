"""``GET date``: the server's clock (the official SDK's ``get_server_time``; needs no app keys)."""
from __future__ import annotations

from typing import Any, List

from ..routing import Context, route
from ..storage.values import now_iso

__all__: List[str] = []


@route("GET", r"date")
def _date(ctx: Context) -> Any:
    return {"__type": "Date", "iso": now_iso()}
