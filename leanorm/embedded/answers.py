"""What the embedded server answers: the protocol's error (:class:`ProtocolError`), a response
(:class:`EmbeddedResponse`), and the one JSON codec (:func:`dumps`, :func:`loads`) for answers and stored
documents alike. The bottom of the server: every layer above raises and encodes through it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict

import orjson

from .limits import check_json

__all__ = ["ProtocolError", "EmbeddedResponse", "dumps", "loads"]


class ProtocolError(Exception):
    """An answer in LeanCloud's error shape: ``{"code": code, "error": message}`` with HTTP ``status``."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_json(self) -> Dict[str, Any]:
        return {"code": self.code, "error": self.message}


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: Any) -> Any:
    """Strict JSON: ``NaN``/``Infinity`` are refused (they would be stored as text SQLite cannot read back),
    and so are numbers beyond a double's range (``1e999``, a 400-digit integer), nesting deeper than
    ``limits.MAX_JSON_DEPTH`` and lone UTF-16 surrogates (which no answer could encode); all raise
    ``ValueError``."""
    try:
        return check_json(json.loads(raw, parse_constant=_not_json))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value: Any) -> str:
    """Compact JSON, the one form the server writes (stored documents and answers alike)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # an integer past 64 bits, which orjson cannot spell, in a request's value re-encoded on its way (a
        # ``where`` handed on to another query): the standard library spells any integer, and what reads it
        # next refuses it as it would over HTTP. Stored documents never hold one (``values.check_value``).
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class EmbeddedResponse:
    """What :meth:`EmbeddedServer.handle` answers: HTTP status, headers and a JSON body (bytes)."""

    status: int
    body: bytes
    headers: Dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json; charset=utf-8"})
