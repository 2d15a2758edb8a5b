"""The indexes of a MongoDB backup: the class settings LeanCloud's data export leaves out.

LeanCloud's console offers two exports. Its data export (JSON, what ``leanorm import`` reads) holds the
objects only: no index, unique or not. Its backup export is a ``mongodump`` of the app's database, and
there each collection's ``<Class>.metadata.json`` lists its indexes (``{"indexes": [{"key": {field: 1},
"name", "unique"}]}``, plain or MongoDB extended JSON). This module reads those, for ``leanorm index
--from-backup``, so an app's unique indexes come across rather than being lost silently.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Tuple, Union

__all__ = ["backup_indexes"]

#: ``(class, field, unique)``: one index to create
Index = Tuple[str, str, bool]

METADATA_SUFFIX = ".metadata.json"
#: a pointer's column in a Parse-style MongoDB collection (``_p_author``): the index is on the pointer field
POINTER_PREFIX = "_p_"


def _number(value: Any) -> Any:
    """A plain number from plain or extended JSON (``{"$numberInt": "1"}``); anything else as it is."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, text), = value.items()
        if kind in ("$numberInt", "$numberLong", "$numberDouble"):
            return float(text)
    return value


def _field(column: str) -> Union[str, None]:
    if column.startswith(POINTER_PREFIX):
        return column[len(POINTER_PREFIX):]
    return None if column.startswith("_") else column  # _id, _rperm, _wperm...: the server's own columns


def backup_indexes(folder: Union[str, Path]) -> Tuple[List[Index], List[str]]:
    """The single-field ascending or descending indexes of every ``*.metadata.json`` under ``folder``,
    and a line for each index left out (compound, text, geo, hashed, or on the server's own columns)."""
    found: List[Index] = []
    skipped: List[str] = []
    for path in sorted(Path(folder).rglob(f"*{METADATA_SUFFIX}")):
        metadata = json.loads(path.read_text(encoding="utf-8"))
        class_name = metadata.get("collectionName") or path.name[: -len(METADATA_SUFFIX)]
        for index in metadata.get("indexes") or []:
            key = index.get("key") or {}
            name = index.get("name", "?")
            if list(key) == ["_id"]:
                continue  # every class has it
            if len(key) != 1:
                skipped.append(f"{class_name} index {name}: compound indexes are not created ({', '.join(key)})")
                continue
            (column, direction), = key.items()
            field = _field(column)
            if field is None or _number(direction) not in (1, -1):
                skipped.append(f"{class_name} index {name}: on {column} ({_number(direction)}) is not created")
                continue
            found.append((class_name, field, bool(index.get("unique"))))
    return found, skipped
