"""``POST batch``: several requests in one, each answered on its own."""
from __future__ import annotations

from typing import Any, List

from .protocol import Context, ProtocolError, route

__all__: List[str] = []


@route("POST", r"batch")
def _batch(ctx: Context) -> Any:
    """Every request of the batch on its own: one failure does not undo the others."""
    requests_ = ctx.json_body().get("requests")
    if not isinstance(requests_, list):
        raise ProtocolError(107, "batch needs {\"requests\": [...]}.")
    return [ctx.server.sub_request(ctx, item) for item in requests_]
