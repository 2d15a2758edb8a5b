"""``POST batch``: several requests in one, each answered on its own.

A batch that only creates, updates and deletes objects of the app's own classes (``bulk_create`` and
``bulk_update`` send those) is one write transaction, each item in a savepoint of its own: the batch pays
one commit instead of one per item, and an item that fails is undone alone and answers its error while
the others are kept. A batch carries at most ``budget.MAX_BATCH_ITEMS`` (100) requests, so one
transaction holds other writers back for 100 items at most. Any other batch runs item by item, each
write committing on its own: signing up or logging in hashes passwords (too long to hold every other
writer back for), and cloud code may call back into this server over HTTP, where it would wait for the
write lock its own batch holds.

A batch's items share one cost budget (the rows they answer together, their queries' branches and
patterns): a batch costs what one request may.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .budget import Budget
from .protocol import Context, ProtocolError, route

__all__: List[str] = []

#: an item's path that writes one object of an app's class (system classes start with ``_``)
OBJECT_PATH = re.compile(r"(?:/1\.1|/parse)?/?classes/[A-Za-z][A-Za-z0-9_]*(?:/[A-Za-z0-9]+)?/?\Z")
OBJECT_WRITES = {"POST", "PUT", "DELETE"}


@route("POST", r"batch")
def _batch(ctx: Context) -> Any:
    """Every request of the batch on its own: one failure does not undo the others."""
    requests_ = ctx.json_body().get("requests")
    if not isinstance(requests_, list):
        raise ProtocolError(107, "batch needs {\"requests\": [...]}.")
    Budget.check_batch(len(requests_))
    if ctx.server.engine is not None or not all(_object_write(item) for item in requests_):
        return [ctx.server.sub_request(ctx, item) for item in requests_]
    answers: List[Dict[str, Any]] = []
    failure: Optional[Exception] = None
    with ctx.store.write():
        for item in requests_:
            try:
                answers.append(ctx.server.sub_request(ctx, item))
            except Exception as exc:  # noqa: BLE001 - a bug in one item: those before it stay written
                failure = exc
                break
    if failure is not None:
        raise failure
    return answers


def _object_write(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("method", "")).upper() in OBJECT_WRITES and \
        isinstance(item.get("path"), str) and OBJECT_PATH.match(item["path"]) is not None
