"""Wire values as the store keeps them: validation and normalisation of what clients write, the schema
type of a value, and the atomic operations (``{"__op": ...}``) applied to stored values."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import orjson

from ..answers import ProtocolError
from .store import check_class_name, type_mismatch
from .interface import FieldType

if TYPE_CHECKING:
    from typing_extensions import TypeGuard  # typing.TypeGuard is 3.10+

__all__ = ["MISSING", "now_iso", "normalize_iso", "check_value", "type_of", "apply_op", "apply_fields", "Applied",
           "canonical", "pointer", "relation_targets", "storable_number", "field_path"]

#: the integers a number field holds (MongoDB's and SQLite's 64-bit integers)
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
#: the vertices a stored Polygon may have: a ``$geoIntersects`` walks each row's polygon, in Python
#: (~0.25 us a vertex), so this times the request's row budget bounds what one query may cost
MAX_POLYGON_VERTICES = 1000


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: an operation's result that removes the field (``Delete``)
MISSING: Any = _Missing()


def now_iso() -> str:
    """Now, as the protocol writes dates: UTC, milliseconds, ``Z``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def normalize_iso(text: Any) -> str:
    """An ISO 8601 instant in the one form stored (so dates compare and sort as text)."""
    if not isinstance(text, str):
        raise ProtocolError(111, f"Invalid date: {text!r}.")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ProtocolError(111, f"Invalid date: {text!r}.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def pointer(class_name: str, object_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def canonical(value: Any) -> str:
    """The stored text of a JSON value (sorted keys, compact): equal values give equal text."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        # an integer past 64 bits inside a value a query compares with: orjson cannot spell it, the standard
        # library can, and no stored document holds one (``check_value``), so it matches nothing
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def storable_number(value: Any) -> bool:
    """A number SQLite keeps exactly and JSON can spell: finite, integers within 64 bits."""
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    return math.isfinite(value)


def check_value(value: Any, key: str) -> Any:
    """Validate a value a client writes and return it in stored form (dates normalised, a full
    ``Object`` reduced to its pointer). Wrong shapes are error 111, bad keys in objects 105."""
    if isinstance(value, list):
        return [check_value(v, key) for v in value]
    if not isinstance(value, dict):
        if _number(value) and not storable_number(value):
            raise ProtocolError(111, f"Invalid number in {key!r}: finite, integers within 64 bits.")
        return value
    kind = value.get("__type")
    if kind is None:
        if "__op" in value:
            raise ProtocolError(111, f"An operation is only allowed on a top-level field, not inside {key!r}.")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("$") or "." in k:
                raise ProtocolError(105, f"Invalid key {k!r} inside {key!r}.")
            out[k] = check_value(v, key)
        return out
    if kind == "Date":
        return {"__type": "Date", "iso": normalize_iso(value.get("iso"))}
    if kind in ("Pointer", "Object"):
        class_name, object_id = value.get("className"), value.get("objectId")
        if not isinstance(class_name, str) or not isinstance(object_id, str) or not object_id:
            raise ProtocolError(111, f"Invalid pointer in {key!r}: it needs className and objectId.")
        return pointer(check_class_name(class_name), object_id)
    if kind == "GeoPoint":
        lat, lng = value.get("latitude"), value.get("longitude")
        if not (_number(lat) and _number(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
            raise ProtocolError(111, f"Invalid GeoPoint in {key!r}: latitude in [-90, 90], longitude in "
                                     "[-180, 180].")
        return {"__type": "GeoPoint", "latitude": float(lat), "longitude": float(lng)}
    if kind == "Polygon":
        return polygon_value(value, key)
    if kind == "Bytes":
        try:
            base64.b64decode(value.get("base64", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ProtocolError(111, f"Invalid Bytes in {key!r}: base64 expected.") from None
        return {"__type": "Bytes", "base64": value["base64"]}
    if kind == "File":
        if not isinstance(value.get("name") or value.get("objectId") or value.get("id"), str):
            raise ProtocolError(111, f"Invalid File in {key!r}: it needs a name or an objectId.")
        return dict(value)
    if kind == "Relation":
        return {"__type": "Relation", "className": check_class_name(value.get("className"))}
    raise ProtocolError(111, f"Unknown __type {kind!r} in {key!r}.")


def polygon_value(value: Dict[str, Any], key: str) -> Dict[str, Any]:
    """A Polygon value as it is stored: its points checked, as floats, closed."""
    return {"__type": "Polygon", "coordinates": _polygon_coordinates(value.get("coordinates"), key)}


def _polygon_coordinates(coordinates: Any, key: str) -> List[List[float]]:
    """A Polygon's ``[[latitude, longitude], ...]``, checked and closed (the last point repeats the first,
    as Parse Server stores it). Fewer than three points is error 107, as on Parse."""
    if not isinstance(coordinates, list) or len(coordinates) < 3:
        raise ProtocolError(107, f"Invalid Polygon in {key!r}: it needs at least 3 [latitude, longitude] points.")
    if len(coordinates) > MAX_POLYGON_VERTICES:
        raise ProtocolError(107, f"Invalid Polygon in {key!r}: at most {MAX_POLYGON_VERTICES} points.")
    points = []
    for point in coordinates:
        if not (isinstance(point, list) and len(point) == 2 and all(_number(v) for v in point)
                and -90 <= point[0] <= 90 and -180 <= point[1] <= 180):
            raise ProtocolError(111, f"Invalid Polygon in {key!r}: each point is [latitude, longitude] within "
                                     "[-90, 90] and [-180, 180].")
        points.append([float(point[0]), float(point[1])])  # one spelling per number: equality compares text
    if points[0] != points[-1]:
        points.append(list(points[0]))
    return points


def type_of(value: Any) -> Optional[FieldType]:
    """The schema type of a stored value (``None`` for null, which fits every type)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("Boolean", None)
    if _number(value):
        return ("Number", None)
    if isinstance(value, str):
        return ("String", None)
    if isinstance(value, list):
        return ("Array", None)
    kind = value.get("__type")
    if kind in ("Pointer", "Relation"):
        return (kind, value["className"])
    if kind in ("Date", "GeoPoint", "Polygon", "Bytes", "File"):
        return (kind, None)
    return ("Object", None)


def _need_list(current: Any, key: str, op: str) -> List[Any]:
    if current is None or current is MISSING:
        return []
    if not isinstance(current, list):
        raise ProtocolError(111, f"{op} needs {key!r} to be an array.")
    return list(current)


def _objects(op: Dict[str, Any], key: str) -> List[Any]:
    objects = op.get("objects")
    if not isinstance(objects, list):
        raise ProtocolError(111, f"{op.get('__op')} on {key!r} needs a list in 'objects'.")
    return [check_value(v, key) for v in objects]


def apply_op(current: Any, op: Dict[str, Any], key: str, bit_ops: bool = True) -> Any:
    """The value of ``key`` after applying ``op`` to ``current`` (``MISSING`` when absent)."""
    name = op.get("__op")
    if name in ("Increment", "Decrement"):
        amount = op.get("amount", 1)
        if not _number(amount):
            raise ProtocolError(111, f"{name} on {key!r} needs a numeric amount.")
        base = 0 if current is None or current is MISSING else current
        if not _number(base):
            raise ProtocolError(111, f"{name} needs {key!r} to be a number.")
        return check_value(base + amount if name == "Increment" else base - amount, key)
    if name == "Add":
        return _need_list(current, key, name) + _objects(op, key)
    if name == "AddUnique":
        items = _need_list(current, key, name)
        seen = {canonical(v) for v in items}
        for value in _objects(op, key):
            if canonical(value) not in seen:
                seen.add(canonical(value))
                items.append(value)
        return items
    if name == "Remove":
        gone = {canonical(v) for v in _objects(op, key)}
        return [v for v in _need_list(current, key, name) if canonical(v) not in gone]
    if name == "Delete":
        return MISSING
    if name in ("BitAnd", "BitOr", "BitXor") and bit_ops:
        value = op.get("value")
        base = 0 if current is None or current is MISSING else current
        if not isinstance(value, int) or isinstance(value, bool) or not isinstance(base, int) or isinstance(base, bool):
            raise ProtocolError(111, f"{name} on {key!r} needs integers.")
        return check_value({"BitAnd": base & value, "BitOr": base | value, "BitXor": base ^ value}[name], key)
    raise ProtocolError(111, f"Unknown operation {name!r} on {key!r}.")


def relation_targets(op: Dict[str, Any], key: str) -> Tuple[str, List[str]]:
    """The target class and objectIds of an ``AddRelation``/``RemoveRelation``."""
    objects = op.get("objects")
    if not isinstance(objects, list) or not objects:
        raise ProtocolError(111, f"{op.get('__op')} on {key!r} needs a non-empty list of pointers.")
    targets = [check_value(o, key) for o in objects]
    classes = {t.get("className") if isinstance(t, dict) else None for t in targets}
    class_name = classes.pop() if len(classes) == 1 else None
    if class_name is None or any(t.get("__type") != "Pointer" for t in targets):
        raise ProtocolError(111, f"{op.get('__op')} on {key!r} needs pointers of one class.")
    return class_name, [t["objectId"] for t in targets]


@dataclass
class Applied:
    """A write's fields applied to a stored document: what will be stored, computed by one function for
    the before-hook (which must see it) and for the write itself."""

    #: the document's fields as they will be stored (``Delete`` removed its keys)
    doc: Dict[str, Any]
    #: the document's class (named by errors)
    class_name: str
    #: the keys whose new value an operation computed (the write's answer carries them back)
    computed: List[str] = field(default_factory=list)
    #: per key, the membership changes of a Relation, checked, in order (``AddRelation``/``RemoveRelation``
    #: with their pointers): relation rows live beside the document, not in it
    memberships: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)


def apply_fields(doc: Dict[str, Any], fields: Dict[str, Any], bit_ops: bool, class_name: str) -> Applied:
    """``doc`` (an object of ``class_name``) with ``fields`` (plain values and ``__op`` operations, a
    ``Batch`` applying its ``ops`` in turn) applied and validated, without changing ``doc``. ``bit_ops``:
    whether the dialect has ``BitAnd``/``BitOr``/``BitXor`` (LeanCloud's). The field names were checked
    by the caller."""
    applied = Applied(dict(doc), class_name)
    for key, value in fields.items():
        _apply_field(applied, key, value, bit_ops)
    return applied


def _apply_field(applied: Applied, key: str, value: Any, bit_ops: bool) -> None:
    operation = isinstance(value, dict) and "__op" in value
    if operation and value["__op"] == "Batch":
        ops = value.get("ops")
        if not isinstance(ops, list) or not all(isinstance(o, dict) and "__op" in o for o in ops):
            raise ProtocolError(111, f"Batch on {key!r} needs a list of operations in 'ops'.")
        for inner in ops:
            _apply_field(applied, key, inner, bit_ops)
        return
    if "." in key:
        _apply_at_path(applied, key, value, bit_ops)
        return
    if not operation:
        applied.doc[key] = check_value(value, key)
        return
    op = value["__op"]
    if op in ("AddRelation", "RemoveRelation"):
        if key in applied.computed:
            raise ProtocolError(111, f"{op} on {key!r} cannot follow an operation on its value.")
        target, ids = relation_targets(value, key)
        applied.doc[key] = {"__type": "Relation", "className": target}
        applied.memberships.setdefault(key, []).append(
            {"__op": op, "objects": [pointer(target, object_id) for object_id in ids]})
        return
    if key in applied.memberships:
        raise ProtocolError(111, f"{op} on {key!r} cannot follow a change of its relation's members.")
    result = apply_op(applied.doc.get(key, MISSING), value, key, bit_ops)
    if result is MISSING:
        applied.doc.pop(key, None)
    else:
        applied.doc[key] = result
    if key not in applied.computed:
        applied.computed.append(key)


def field_path(key: str) -> List[str]:
    """The parts of a written key: ``"stats.views"`` names ``views`` inside the Object field ``stats``
    (as in MongoDB's ``$set``/``$inc``). Error 105 for an empty part or one starting with ``$``, which no
    stored object may have as a key (``check_value``)."""
    parts = key.split(".")
    if any(not part or part.startswith("$") for part in parts):
        raise ProtocolError(105, f"Invalid field name: {key!r}.")
    return parts


def _plain_object(value: Any, class_name: str, path: str) -> Dict[str, Any]:
    """A copy of the object a path goes through at ``path`` (an absent or null one is a new, empty
    object); any other value is error 111, as a write of another type to a field is."""
    if value is None or value is MISSING:
        return {}
    if not isinstance(value, dict) or "__type" in value:
        raise type_mismatch(class_name, path, type_of(value), ("Object", None))  # type: ignore[arg-type]
    return dict(value)


def _apply_at_path(applied: Applied, key: str, value: Any, bit_ops: bool) -> None:
    """A value or an operation at a dotted key: the objects along the path are copied (``applied.doc``
    shares its values with the stored document) and made where missing; the leaf is set, computed or
    removed, the rest of the field kept. The top field is what the answer carries back."""
    top, *inner, leaf = field_path(key)
    root = node = _plain_object(applied.doc.get(top, MISSING), applied.class_name, top)
    for depth, part in enumerate(inner, start=2):
        node[part] = _plain_object(node.get(part, MISSING), applied.class_name, ".".join(field_path(key)[:depth]))
        node = node[part]
    if not (isinstance(value, dict) and "__op" in value):
        node[leaf] = check_value(value, key)
    elif value["__op"] in ("AddRelation", "RemoveRelation"):
        raise ProtocolError(111, f"{value['__op']} needs a top-level Relation field, not {key!r}.")
    else:
        result = apply_op(node.get(leaf, MISSING), value, key, bit_ops)
        if result is MISSING:
            node.pop(leaf, None)
        else:
            node[leaf] = result
        if top not in applied.computed:
            applied.computed.append(top)
    applied.doc[top] = root
