"""Reading a backend over REST: the classes its schema lists, and a whole class in pages by objectId
cursor (constant cost per page, constant memory), every read retried after a lost connection."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

from ..auth_context import using_master
from ..client import Client
from .importer import SKIPPED_CLASSES
from .retry import retrying

__all__ = ["pages", "class_names", "schemas", "copied_classes"]


def pages(client: Client, class_name: str, page_size: int = 500, after: Optional[str] = None,
          where: Optional[Dict[str, Any]] = None) -> Iterator[List[Dict[str, Any]]]:
    """The objects of ``class_name`` (matching ``where``), page by page in objectId order, from the first
    objectId after ``after`` (master key)."""
    last = after
    while True:
        condition = dict(where or {})
        if last is not None:
            condition["objectId"] = {"$gt": last}
        params: Dict[str, Any] = {"order": "objectId", "limit": page_size, **({"where": condition} if condition else {})}
        with using_master():
            rows = retrying(lambda: client.request("GET", f"classes/{class_name}", params)).get("results", [])
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        last = rows[-1]["objectId"]


def schemas(client: Client) -> Dict[str, Dict[str, Any]]:
    """Each class the backend's schema lists -> its fields (master key)."""
    with using_master():
        answer = retrying(lambda: client.request("GET", "schemas"))
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):  # Parse's shape
        return {c["className"]: c.get("fields", {}) for c in answer["results"]}
    return dict(answer)  # LeanCloud's: {className: {field: {type, ...}}}


def copied_classes(schema: Dict[str, Dict[str, Any]]) -> List[str]:
    """The classes of ``schema`` (as :func:`schemas` answers) whose objects move between backends, sorted:
    the server-owned ones left out."""
    return sorted(n for n in schema if n not in SKIPPED_CLASSES)


def class_names(client: Client) -> List[str]:
    """Every class the backend's schema lists (master key), but the server-owned ones."""
    return copied_classes(schemas(client))
