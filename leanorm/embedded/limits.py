"""Bounds on what one request may ask of the embedded backend: how deeply its JSON and its ``where``
nest, and which strings can be stored at all.

Without them a few kilobytes of input reach a recursion limit (Python's JSON encoder, SQLite's parser
stack) and answer 500, or a lone UTF-16 surrogate reaches SQLite, which cannot encode it.
"""
from __future__ import annotations

import math
import sqlite3
import sys
from typing import Any, List, Tuple

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_NUMBER", "MAX_WHERE_DEPTH", "check_json", "check_where_depth", "too_complex"]

#: the deepest JSON a request may carry (MongoDB's document nesting limit, which LeanCloud inherits)
MAX_JSON_DEPTH = 100
#: the largest number a request's JSON may hold (the largest finite double): a client's JSON means no more
MAX_JSON_NUMBER = int(sys.float_info.max)
#: the deepest nesting of ``$and``/``$or``/``$nor`` and sub-queries in one ``where``, each counted by
#: the depth of SQL it compiles to (:data:`_WEIGHTS`): SQLite's parser overflowed past 43 levels of
#: ``$and``, 7 of ``$nor`` inside ``$nor``, 6 of ``$inQuery``
MAX_WHERE_DEPTH = 16
_WEIGHTS = {"$and": 1, "$or": 1, "$nor": 2}
#: operators whose value holds another query (``{"where": ..., "className": ...}`` or ``{"query": ...}``)
_SUBQUERIES = ("$inQuery", "$notInQuery", "$select", "$dontSelect")
_SUBQUERY_WEIGHT = 3


def check_json(value: Any) -> Any:
    """``value`` (parsed JSON) if it nests at most :data:`MAX_JSON_DEPTH` deep, every string and key in it
    is storable Unicode and every number a finite double can hold; else ``ValueError`` (the protocol's
    error 107, JSON the server will not take)."""
    stack: List[Tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
            continue
        if isinstance(item, (int, float)):
            _check_number(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_string(key)
                stack.append((inner, depth + 1))
        else:
            stack.extend((inner, depth + 1) for inner in item)
    return value


def _check_number(number: float) -> None:
    # ``1e999`` parses as infinity and a 400-digit integer as itself: no client's JSON means either (a
    # JavaScript client reads both as Infinity), and any check that turns one into a float overflowed (500)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError("a number beyond the range of a double is not JSON a client sends")
    elif not -MAX_JSON_NUMBER <= number <= MAX_JSON_NUMBER:
        raise ValueError("a number beyond the range of a double is not JSON a client sends")


def _check_string(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a lone UTF-16 surrogate is not text") from None


def check_where_depth(where: Any) -> None:
    """``ValueError`` (the protocol's error 102) when ``where`` nests logical operators and sub-queries
    more than :data:`MAX_WHERE_DEPTH` deep. Only the query's structure is walked, not the values it compares."""
    stack: List[Tuple[Any, int]] = [(where, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict):
            continue
        if depth > MAX_WHERE_DEPTH:
            raise ValueError(f"where nested more than {MAX_WHERE_DEPTH} levels deep")
        for key, condition in item.items():
            if key in _WEIGHTS and isinstance(condition, list):
                stack.extend((inner, depth + _WEIGHTS[key]) for inner in condition)
            elif isinstance(condition, dict):
                for op in _SUBQUERIES:
                    sub = condition.get(op)
                    if isinstance(sub, dict):
                        query = sub.get("query", sub)
                        if isinstance(query, dict):
                            stack.append((query.get("where"), depth + _SUBQUERY_WEIGHT))


def too_complex(exc: BaseException) -> bool:
    """Whether SQLite refused a statement as too large or too deep to parse: a query the bound above
    let through (its weights are measured, not exact), which is the client's error, not a crash."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        reason in str(exc) for reason in ("parser stack overflow", "too large", "too many terms"))
