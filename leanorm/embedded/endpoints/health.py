"""``GET health``: whether the server answers (Parse Server's probe for SDKs and load balancers; needs no
app keys and reads nothing)."""
from __future__ import annotations

from typing import Any, List

from ..routing import Context, route

__all__: List[str] = []


@route("GET", r"health")
def _health(ctx: Context) -> Any:
    return {"status": "ok"}
