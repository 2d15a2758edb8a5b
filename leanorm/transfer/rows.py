"""An exported or read object turned into the write that recreates it on another backend.

>>> write_body({"objectId": "n1", "text": "hi", "createdAt": "2024-01-02T03:04:05.000Z",
...             "tags": {"__type": "Relation", "className": "Tag"}})
{'objectId': 'n1', 'text': 'hi', 'createdAt': {'__type': 'Date', 'iso': '2024-01-02T03:04:05.000Z'}}
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

__all__ = ["write_body", "relation_fields", "is_relation", "SERVER_KEYS"]

SERVER_KEYS = ("createdAt", "updatedAt")


def is_relation(value: Any) -> bool:
    """Whether ``value`` is a Relation field's value (its members are not in the object)."""
    return isinstance(value, dict) and value.get("__type") == "Relation"


def relation_fields(row: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    """(field, member class) of each Relation value of ``row``."""
    for key, value in row.items():
        if is_relation(value) and isinstance(value.get("className"), str):
            yield key, value["className"]


def write_body(row: Dict[str, Any], keep_timestamps_in: Optional[Tuple[str, str]] = None) -> Dict[str, Any]:
    """The create body for ``row``: its objectId and values, Relation fields left out (their members are
    copied afterwards), createdAt/updatedAt as dates. Servers that allow it under the master key (the
    embedded backend) keep them; Parse Server sets its own, so ``keep_timestamps_in`` can name two fields
    to keep the originals in."""
    body = {k: v for k, v in row.items() if k not in SERVER_KEYS and not is_relation(v)}
    for key, target_key in zip(SERVER_KEYS, keep_timestamps_in or SERVER_KEYS):
        if isinstance(row.get(key), str):
            body[target_key] = {"__type": "Date", "iso": row[key]}
    return body
