"""Stored rows as the protocol answers them: the columns every class table has, and their JSON."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import orjson

__all__ = ["ROW", "to_json"]

#: the columns of every class table, in the order ``to_json`` reads them
ROW = "objectId, createdAt, updatedAt, acl, data"


def to_json(row: Tuple[str, str, str, Optional[str], str]) -> Dict[str, Any]:
    """A stored row as the protocol answers it."""
    object_id, created, updated, acl, data = row
    out = orjson.loads(data)
    out["objectId"], out["createdAt"], out["updatedAt"] = object_id, created, updated
    if acl is not None:
        out["ACL"] = orjson.loads(acl)
    return out
