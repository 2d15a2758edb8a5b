"""Small WSGI helpers shared by the engine's HTTP layers and middlewares (stdlib only)."""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..protocol.wsgi_input import ChunkedInput

__all__ = ["headers_of", "read_body", "read_json", "json_response", "remote_address", "Headers"]

Headers = List[Tuple[str, str]]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def headers_of(environ: Dict[str, Any]) -> Dict[str, str]:
    """The request headers with lower-case, dash-separated names."""
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = environ[key]
    return out


def read_body(environ: Dict[str, Any]) -> bytes:
    """The request body. Node's http client (Parse webhooks) sends it chunked without a length:
    servers that decode it say so with ``wsgi.input_terminated``; plain ``wsgiref`` does not, so the
    chunks are decoded here."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length)) if int(length) > 0 else b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return ChunkedInput(stream).read()
    return b""


def read_json(environ: Dict[str, Any]) -> Any:
    """The request body as JSON ({} when empty); ValueError when it is not JSON."""
    raw = read_body(environ)
    return json.loads(raw.decode("utf-8")) if raw.strip() else {}


def json_response(start_response: Any, status: int, body: Any,
                  extra_headers: Optional[Headers] = None) -> Iterable[bytes]:
    """Send ``body`` as JSON with ``status``."""
    data = _dumps(body).encode("utf-8")
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {reason}", headers + list(extra_headers or []))
    return [data]


def remote_address(environ: Dict[str, Any]) -> Optional[str]:
    """The caller's address behind LeanEngine's proxy (``X-Real-IP``, ``X-Forwarded-For``) or the socket's."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
    return environ.get("HTTP_X_REAL_IP") or forwarded or environ.get("REMOTE_ADDR")
