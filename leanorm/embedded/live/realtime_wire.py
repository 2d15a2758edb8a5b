"""LeanCloud realtime's frames: the ``GenericCommand`` of its protobuf (proto2) schema, as far as
LiveQuery uses it, encoded and decoded by field number (docs/embedded.md, "LeanCloud LiveQuery").

A command is a dict of the fields it carries (``cmd``, ``op``, ``appId``, ``peerId``, ``i``,
``installationId``, ``service``, ``dataMessage``, ``errorMessage``, ``ackMessage``); a field the schema
has but this server does not read is skipped when decoding. Only protobuf's wire rules are implemented
here: varints, and length-delimited strings and messages (the fields below use nothing else), and
64/32-bit fields are skipped.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

__all__ = ["WireError", "encode", "decode", "CMD", "CMD_NAMES"]

#: ``CommandType`` values LiveQuery uses (the schema has more: IM's)
CMD = {"session": 0, "conv": 1, "direct": 2, "ack": 3, "error": 7, "login": 8, "data": 9, "echo": 14,
       "loggedin": 15, "logout": 16, "loggedout": 17, "goaway": 21}
CMD_NAMES = {number: name for name, number in CMD.items()}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

# field name -> (number, kind); kind: "int", "str", "bool", a message's field table, or a list of one
_DATA_ITEM = {"data": (1, "str")}
_DATA = {"ids": (1, ["str"]), "msg": (2, [_DATA_ITEM]), "offline": (3, "bool")}
_ERROR = {"code": (1, "int"), "reason": (2, "str"), "appCode": (3, "int"), "detail": (4, "str")}
_ACK = {"code": (1, "int"), "reason": (2, "str"), "ids": (10, ["str"])}
_COMMAND: Dict[str, Tuple[int, Any]] = {
    "cmd": (1, "int"), "op": (2, "int"), "appId": (3, "str"), "peerId": (4, "str"), "i": (5, "int"),
    "installationId": (6, "str"), "service": (8, "int"), "serverTs": (9, "int"), "clientTs": (10, "int"),
    "dataMessage": (101, _DATA), "errorMessage": (103, _ERROR), "ackMessage": (105, _ACK)}


class WireError(ValueError):
    """Bytes that are not a command of the schema."""


def _varint(value: int) -> bytes:
    if value < 0:  # int32/int64 negatives take ten bytes, two's complement
        value += 1 << 64
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, kind: Any, value: Any) -> bytes:
    if isinstance(kind, list):
        return b"".join(_field(number, kind[0], item) for item in value)
    if kind in ("int", "bool"):
        return _varint(number << 3 | _VARINT) + _varint(int(value))
    data = value.encode() if kind == "str" else _message(kind, value)
    return _varint(number << 3 | _BYTES) + _varint(len(data)) + data


def _message(table: Dict[str, Tuple[int, Any]], values: Dict[str, Any]) -> bytes:
    return b"".join(_field(*table[name], value) for name, value in values.items() if value is not None)


def encode(command: Dict[str, Any]) -> bytes:
    """The bytes of a ``GenericCommand`` (``cmd`` first: a frame always starts with it)."""
    return _message(_COMMAND, command)


def _read_varint(data: bytes, at: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise WireError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _parse(table: Dict[str, Tuple[int, Any]], data: bytes) -> Dict[str, Any]:
    by_number = {number: (name, kind) for name, (number, kind) in table.items()}
    out: Dict[str, Any] = {}
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value: Any
            value, at = _read_varint(data, at)
            if value >= 1 << 63:
                value -= 1 << 64
        elif wire == _BYTES:
            size, at = _read_varint(data, at)
            if at + size > len(data):
                raise WireError("truncated field")
            value, at = data[at:at + size], at + size
        elif wire in (_FIXED64, _FIXED32):
            at += 8 if wire == _FIXED64 else 4
            continue
        else:
            raise WireError(f"wire type {wire} is not read")
        if number not in by_number:
            continue
        name, kind = by_number[number]
        item_kind = kind[0] if isinstance(kind, list) else kind
        if item_kind == "str":
            if not isinstance(value, bytes):
                raise WireError(f"{name} is not a string")
            try:
                value = value.decode()
            except UnicodeDecodeError:
                raise WireError(f"{name} is not UTF-8") from None
        elif item_kind in ("int", "bool"):
            if not isinstance(value, int):
                raise WireError(f"{name} is not a number")
            value = bool(value) if item_kind == "bool" else value
        else:
            if not isinstance(value, bytes):
                raise WireError(f"{name} is not a message")
            value = _parse(item_kind, value)
        if isinstance(kind, list):
            items: List[Any] = out.setdefault(name, [])
            items.append(value)
        else:
            out[name] = value
    return out


def decode(data: bytes) -> Dict[str, Any]:
    """The fields of a ``GenericCommand`` this server reads; :class:`WireError` for bytes that are not one."""
    if not isinstance(data, (bytes, bytearray)):
        raise WireError("a command is bytes")
    return _parse(_COMMAND, bytes(data))
