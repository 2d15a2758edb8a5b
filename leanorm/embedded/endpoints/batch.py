"""``POST batch``: several requests in one, each answered on its own.

A batch that only creates, updates and deletes objects of the app's own classes (``bulk_create`` and
``bulk_update`` send those) is one write transaction, each item in a savepoint of its own: the batch pays
one commit instead of one per item, and an item that fails is undone alone and answers its error while
the others are kept. A batch carries at most ``budget.MAX_BATCH_ITEMS`` (100) requests, so one
transaction holds other writers back for 100 items at most. Any other batch runs item by item, each
write committing on its own: signing up or logging in hashes passwords (too long to hold every other
writer back for), and cloud code may call back into this server over HTTP, where it would wait for the
write lock its own batch holds.

With ``"transaction": true`` (as on Parse Server) the batch is all or nothing: one write transaction,
undone whole when any item fails, answered then by an error (the first failing item's code) whose
``results`` give every item's outcome (``{"error": ...}``, or ``{"undone": true}``). Only a batch of object writes of the app's classes without cloud
code can be one transaction (the reasons above); any other is refused whole (error 107), before
anything is written.

A batch's items share one cost budget (the rows they answer together, their queries' branches and
patterns): a batch costs what one request may.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ..budget import Budget
from ..routing import Context, route
from ..answers import ProtocolError

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
    one_transaction = ctx.cloud_code is None and all(_object_write(item) for item in requests_)
    if ctx.json_body().get("transaction") is True:
        if not one_transaction:
            raise ProtocolError(107, "A transactional batch holds only creates, updates and deletes of objects of "
                                     "the app's classes, on a server without cloud code.")
        return _all_or_nothing(ctx, requests_)
    if not one_transaction:
        return [ctx.sub_request(item) for item in requests_]
    answers: List[Dict[str, Any]] = []
    failure: Optional[Exception] = None
    with ctx.store.write():
        for item in requests_:
            try:
                answers.append(ctx.sub_request(item))
            except Exception as exc:  # noqa: BLE001 - a bug in one item: those before it stay written
                failure = exc
                break
    if failure is not None:
        raise failure
    return answers


class _Undone(Exception):
    """Raised inside the transaction to roll it back once an item failed."""


class TransactionUndone(ProtocolError):
    """The answer to an undone transactional batch: the failing item's error, and every item's outcome."""

    def __init__(self, code: int, message: str, results: List[Dict[str, Any]]) -> None:
        super().__init__(code, message)
        self.results = results

    def as_json(self) -> Dict[str, Any]:
        return {**super().as_json(), "results": self.results}


def _all_or_nothing(ctx: Context, requests_: List[Any]) -> List[Dict[str, Any]]:
    answers: List[Dict[str, Any]] = []
    try:
        with ctx.store.write():
            for item in requests_:
                answers.append(ctx.sub_request(item))
            if any("error" in answer for answer in answers):
                raise _Undone()
    except _Undone:
        index, failed = next((i, a["error"]) for i, a in enumerate(answers) if "error" in a)
        # every item ran (each answers its own error); those that had succeeded are undone with the rest
        results = [answer if "error" in answer else {"undone": True} for answer in answers]
        raise TransactionUndone(int(failed.get("code", 1)), f"The transaction was undone: request {index} failed: "
                                f"{failed.get('error', '')}", results) from None
    return answers


def _object_write(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("method", "")).upper() in OBJECT_WRITES and \
        isinstance(item.get("path"), str) and OBJECT_PATH.match(item["path"]) is not None
