"""The messages of Parse Server's LiveQuery protocol: what a client may send (checked as Parse Server's
request schema checks it) and what the server answers.

A client sends JSON objects with an ``op``: ``connect`` (application id, keys, session token,
installation id), ``subscribe`` and ``update`` (a ``requestId`` and a ``query``: ``className``, ``where``,
``keys``, ``watch``), ``unsubscribe``. The server answers ``connected``, ``subscribed``, ``unsubscribed``,
the events ``create``/``enter``/``update``/``leave``/``delete``, and ``error``:
``{"op": "error", "code", "error", "reconnect", "requestId"}``, with Parse Server's codes (1: a message
that is not one of these, 2: not connected yet, 4: wrong keys) or the REST API's (119, 102, 209...).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

__all__ = ["LiveError", "check_request", "error", "INVALID_MESSAGE", "NOT_CONNECTED", "BAD_KEYS",
           "EVENTS", "OPERATIONS"]

#: Parse Server's LiveQuery error codes
INVALID_MESSAGE, NOT_CONNECTED, BAD_KEYS = 1, 2, 4
OPERATIONS = ("connect", "subscribe", "update", "unsubscribe")
EVENTS = ("create", "enter", "update", "leave", "delete")

_CONNECT = {"applicationId", "javascriptKey", "masterKey", "clientKey", "windowsKey", "restAPIKey",
            "sessionToken", "installationId"}
#: ``fields`` is the name earlier Parse Servers gave ``keys``
_QUERY_LISTS = ("keys", "fields", "watch", "include")


class LiveError(Exception):
    """A request refused: answered as ``{"op": "error", ...}``; ``reconnect`` tells the SDK whether to
    connect again (Parse Server says yes for a malformed message, no for a refusal)."""

    def __init__(self, code: int, message: str, reconnect: bool = False, request_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reconnect, self.request_id = code, message, reconnect, request_id

    def as_message(self) -> Dict[str, Any]:
        return error(self.code, self.message, self.reconnect, self.request_id)


def error(code: int, message: str, reconnect: bool = False, request_id: Optional[int] = None) -> Dict[str, Any]:
    """An ``error`` message as Parse Server sends it."""
    return {"op": "error", "error": message, "code": code, "reconnect": reconnect, "requestId": request_id}


def _invalid(message: str) -> LiveError:
    # Parse Server answers a message its schema refuses with code 1 and reconnect true; the JS SDK reads
    # "Additional properties not allowed" as "do not send installationId" and reconnects
    return LiveError(INVALID_MESSAGE, message, reconnect=True)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names: Dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def _expect(value: Any, kind: str) -> None:
    if _type_name(value) != kind:
        raise _invalid(f"Invalid type: {_type_name(value)} (expected {kind})")


def _only(obj: Dict[str, Any], allowed: set, required: List[str]) -> None:
    for name in required:
        if name not in obj:
            raise _invalid(f"Missing required property: {name}")
    if not set(obj) <= allowed:
        raise _invalid("Additional properties not allowed")


def _strings(value: Any) -> List[str]:
    _expect(value, "array")
    if not value or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
        raise _invalid("Invalid array: at least one string, each once")
    return list(value)


def check_request(message: Any) -> Dict[str, Any]:
    """``message`` when it is a request of the protocol; :class:`LiveError` (code 1) otherwise, saying
    what is wrong as Parse Server's schema check does."""
    if not isinstance(message, dict):
        raise _invalid(f"Invalid type: {_type_name(message)} (expected object)")
    op = message.get("op")
    if "op" not in message:
        raise _invalid("Missing required property: op")
    if op not in OPERATIONS:
        raise _invalid(f"No enum match for: {op!r}")
    if op == "connect":
        _only(message, _CONNECT | {"op"}, ["applicationId"])
        for name in _CONNECT & set(message):
            _expect(message[name], "string")
        return message
    if op == "unsubscribe":
        _only(message, {"op", "requestId"}, ["requestId"])
        _expect(message["requestId"], "number")
        return message
    _only(message, {"op", "requestId", "query", "sessionToken"}, ["requestId", "query"])
    _expect(message["requestId"], "number")
    if "sessionToken" in message:
        _expect(message["sessionToken"], "string")
    query = message["query"]
    _expect(query, "object")
    _only(query, {"className", "where", *_QUERY_LISTS}, ["where", "className"])
    _expect(query["className"], "string")
    _expect(query["where"], "object")
    for name in _QUERY_LISTS:
        if name in query:
            _strings(query[name])
    return message
