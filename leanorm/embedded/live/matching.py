"""Whether an object matches a subscription's ``where``: the query compiler decides, in SQL.

The ``where`` is compiled by the same ``storage.query_compiler`` every find uses, and evaluated against
the object as a one-row table of the class's columns (``objectId``, ``createdAt``, ``updatedAt``,
``acl``, ``data``: the stored row, rebuilt from the change). So a live query selects exactly what a find
with that ``where`` would select, operator for operator (``$regex`` by RE2, ``$text``, geo, dates,
pointers, ``$inQuery`` against the current data), and there is no second implementation of the query
language to drift from the first: a Python matcher would be one more owner of query semantics.

The price is one SQLite statement per change for all the subscriptions of its class whose ``where``
reads nothing but the object (they are compiled together, their conditions the columns of one
``SELECT``); a ``where`` with a sub-query (``$inQuery``, ``$select``, ``$relatedTo``...) reads other
rows as its subscriber may read them, so it is compiled with that subscriber's rights, alone.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

from ..access.authz import ReadPolicy
from ..answers import ProtocolError
from ..budget import Budget, interrupted
from ..caller import Caller
from ..storage.interface import Connection, Store
from ..storage.query_compiler import QueryCompiler, reads_other_rows
from ..storage.values import canonical

__all__ = ["Conditions", "queried_fields", "row_of", "COLUMNS_PER_STATEMENT"]

log = logging.getLogger("leanorm.embedded")
#: conditions evaluated by one statement (SQLite allows 2,000 result columns)
COLUMNS_PER_STATEMENT = 200
_OWN_KEYS = ("objectId", "createdAt", "updatedAt", "ACL")
_ROW = "(SELECT :lq_id AS objectId, :lq_created AS createdAt, :lq_updated AS updatedAt, :lq_acl AS acl, " \
       ":lq_data AS data) AS t0"


def queried_fields(where: Any) -> FrozenSet[str]:
    """The fields of the object itself a ``where`` reads (the roots of its keys, inside ``$or``, ``$and``
    and ``$nor`` too): what a find with it asks the caller may see."""
    found: Set[str] = set()
    if isinstance(where, dict):
        for key, value in where.items():
            if key in ("$or", "$and", "$nor") and isinstance(value, list):
                for branch in value:
                    found |= queried_fields(branch)
            elif not key.startswith("$"):
                found.add(key.split(".")[0])
    return frozenset(found)


def row_of(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The statement parameters of an object's row, as ``endpoints.objects.write`` stored it."""
    acl = obj.get("ACL")
    return {"lq_id": obj["objectId"], "lq_created": obj.get("createdAt"), "lq_updated": obj.get("updatedAt"),
            "lq_acl": None if acl is None else canonical(acl),
            "lq_data": canonical({k: v for k, v in obj.items() if k not in _OWN_KEYS})}


class Conditions:
    """The ``where`` conditions to test one class's changes against, compiled once (plain ones are kept
    while the subscriptions and the class's schema stay the same; those with sub-queries, for one batch
    of changes); :meth:`test` answers, per condition, whether an object matches."""

    def __init__(self, store: Store, conn: Connection, class_name: str) -> None:
        self.store, self.conn, self.class_name = store, conn, class_name
        # conditions that read only the object do not depend on who asks: compiled with no rights
        self._shared = QueryCompiler(store, conn, Caller(master=True), "parse")
        self._plain: List[Tuple[int, str]] = []
        self._own: List[Tuple[int, str, Dict[str, Any]]] = []  # (index, sql, its compiler's parameters)
        self._count = 0
        #: the conditions whose statement was interrupted at the reader's deadline (:func:`budget.deadline`)
        self.interrupted: Set[int] = set()

    def add(self, where: Dict[str, Any], policy: Optional[ReadPolicy] = None) -> int:
        """Compile ``where`` (as ``policy``'s caller reads, needed when it has sub-queries); its index in
        :meth:`test`'s answer. A ``where`` that no longer compiles (a field's type changed since the
        subscription) matches nothing. Its cost was charged when it was subscribed to, with the other
        subscriptions held with it (:func:`.clients.check_subscription`), so here each ``where`` is
        charged to a budget of its own: not to one shared by every subscription of the class, nor to
        the policy's, which every subscription reading as the same caller (every anonymous one) shares
        in a batch of changes (17 subscribers' ``$regex`` went over it, and the batch failed)."""
        index, self._count = self._count, self._count + 1
        try:
            if policy is not None and reads_other_rows(where):
                compiler = QueryCompiler(self.store, self.conn, policy.ctx.caller, "parse", policy, Budget())
                self._own.append((index, compiler.where(self.class_name, "t0", where), compiler.params))
            else:
                self._shared.budget = Budget()
                self._plain.append((index, self._shared.where(self.class_name, "t0", where)))
        except ProtocolError:
            self._own.append((index, "0", {}))
        return index

    def test(self, conn: Connection, obj: Optional[Dict[str, Any]]) -> List[bool]:
        """For each condition added, whether ``obj`` (an object as stored; None: no object) matches it
        (read on ``conn``, the reader's connection for this batch)."""
        answers = [False] * self._count
        if obj is None or not self._count:
            return answers
        row = row_of(obj)
        statements = [(self._plain[i:i + COLUMNS_PER_STATEMENT], self._shared.params)
                      for i in range(0, len(self._plain), COLUMNS_PER_STATEMENT)]
        statements += [([(index, sql)], params) for index, sql, params in self._own]
        for conditions, params in statements:
            # each condition's truth as it is (1/0 on SQLite, a boolean on PostgreSQL; NULL: no match)
            columns = ", ".join(f"({sql})" for _, sql in conditions)
            try:
                found = conn.execute(f"SELECT {columns} FROM {_ROW}", {**params, **row}).fetchone()
            except Exception as exc:  # noqa: BLE001 - e.g. a $regex the stored value cannot take: no match
                if interrupted(exc):
                    self.interrupted.update(index for index, _ in conditions)
                    continue
                log.warning("live queries: a where on %s could not be evaluated", self.class_name, exc_info=True)
                continue
            for (index, _), hit in zip(conditions, found):
                answers[index] = bool(hit)
        return answers

