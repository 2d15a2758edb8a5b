"""Python values to the protocol's JSON and back.

The protocol tags rich values with ``__type`` (Date, Pointer, Object, GeoPoint, Polygon, Bytes, File,
Relation).
Dates are arrow objects in Python. Pointers need the model registry to become model instances, so the
decoder takes a ``resolve`` callback rather than importing models (this module knows no models).
"""
from __future__ import annotations

import base64
import datetime as _dt
import sys
from typing import Any, Callable, Dict, Optional

import arrow

from .geo import GeoPoint, Polygon

__all__ = ["encode", "decode", "encode_date", "decode_date", "pointer", "PointerResolver"]

#: ``resolve(class_name, object_id, full_data_or_None)`` returns what a Pointer/Object decodes to
PointerResolver = Callable[[str, str, Optional[Dict[str, Any]]], Any]

_UTC = _dt.timezone.utc


def encode_date(value: Any) -> Dict[str, str]:
    """A datetime/date/Arrow as the protocol's Date (UTC, millisecond precision, ``Z``)."""
    if isinstance(value, arrow.Arrow):
        value = value.datetime
    if not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    if value.tzinfo is None:
        # naive datetimes are taken as UTC, as the protocol has no other zone to offer
        value = value.replace(tzinfo=_UTC)
    value = value.astimezone(_UTC)
    return {"__type": "Date", "iso": value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"}


def _arrow_from_utc_probe() -> bool:
    # Arrow's constructor re-validates its arguments and rebuilds the datetime (about 1 µs, most of
    # the cost of reading a Date). An Arrow is its wrapped datetime: when this arrow version keeps it
    # as ``_datetime`` and nothing else, an UTC datetime can be wrapped as it is.
    sample = _dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=_UTC)
    try:
        made = arrow.Arrow.__new__(arrow.Arrow)
        made._datetime = sample
        slow = arrow.Arrow.fromdatetime(sample, _UTC)
        return vars(made) == vars(slow) and made == slow and made.isoformat() == slow.isoformat()
    except Exception:  # pragma: no cover - another arrow layout: take the documented constructor
        return False


_WRAP_UTC = _arrow_from_utc_probe()
_new_arrow = arrow.Arrow.__new__
_Arrow = arrow.Arrow
_fromisoformat = _dt.datetime.fromisoformat


#: Python 3.11's fromisoformat reads the "Z" suffix itself (to timezone.utc); older ones need "+00:00"
_READS_Z = sys.version_info >= (3, 11)


def decode_date(iso: str) -> arrow.Arrow:
    """The ISO string of a protocol Date (or createdAt/updatedAt) as an UTC :class:`arrow.Arrow`."""
    if not _READS_Z and iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    try:
        dt = _fromisoformat(iso)
    except ValueError:
        return arrow.get(iso).to("UTC")
    tz = dt.tzinfo
    if tz is None:
        dt = dt.replace(tzinfo=_UTC)
        tz = _UTC
    if tz is _UTC and _WRAP_UTC:
        made = _new_arrow(_Arrow)
        made._datetime = dt
        return made
    return arrow.Arrow.fromdatetime(dt, tz)


def pointer(class_name: str, object_id: str) -> Dict[str, str]:
    """A Pointer on the wire: the object ``object_id`` of the class ``class_name``."""
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def encode(value: Any) -> Any:
    """Encode any supported Python value as wire JSON (recursively for lists and dicts)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    to_wire = getattr(value, "to_wire", None)
    if to_wire is not None:
        return to_wire()
    if isinstance(value, (arrow.Arrow, _dt.datetime, _dt.date)):
        return encode_date(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__type": "Bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode a {type(value).__name__} for the protocol: {value!r}")


def decode(value: Any, resolve: Optional[PointerResolver] = None) -> Any:
    """Decode wire JSON into Python values; unknown ``__type`` values stay as dicts."""
    if isinstance(value, list):
        return [decode(v, resolve) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__type")
    if kind == "Date":
        return decode_date(value["iso"])
    if kind == "GeoPoint":
        return GeoPoint.from_wire(value)
    if kind == "Polygon":
        try:
            return Polygon.from_wire(value)
        except (KeyError, TypeError, ValueError):  # not a polygon after all: kept as sent
            return value
    if kind == "Bytes":
        return base64.b64decode(value["base64"])
    if kind in ("Pointer", "Object") and resolve is not None and "className" in value:
        return resolve(value["className"], value.get("objectId", ""), value if kind == "Object" else None)
    if kind is not None:
        return value
    return {k: decode(v, resolve) for k, v in value.items()}
