"""The Parse JS SDK's request envelope, read as Parse Server reads it.

Browsers and Node clients of Parse avoid CORS preflights by sending every request as a ``POST`` with a
``text/plain`` JSON body that carries what would be headers: ``_ApplicationId``, ``_JavaScriptKey``,
``_MasterKey``, ``_SessionToken``, ``_InstallationId``, ``_ContentType``, ``_ClientVersion``, and the real
method as ``_method`` (a query is ``{"_method": "GET", "where": ...}``: its parameters are the body's
other keys). A file is ``{"base64": ..., "fileData": ...}`` inside the same envelope.

:func:`unwrap` turns such a request back into the plain one (method, query parameters, headers, body)
before anything else reads it, so no envelope key ever reaches an endpoint or the database.

The envelope is the one request whose caller is known only from its body: ``admission.admit`` gives it a
small cap of its own (``admission.ENVELOPE_MAX``; for a file, its base64 form under the upload cap), so
what is read and parsed before the keys are checked stays small.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Tuple

from .limits import check_json
from .routing import Body
from .answers import ProtocolError

__all__ = ["unwrap"]

#: envelope keys that stand for a request header (Parse Server takes the app id only from the body
#: when no header names one, and then every other key from the body too)
HEADER_KEYS = {"_ApplicationId": "X-Parse-Application-Id", "_JavaScriptKey": "X-Parse-Javascript-Key",
               "_MasterKey": "X-Parse-Master-Key", "_SessionToken": "X-Parse-Session-Token",
               "_InstallationId": "X-Parse-Installation-Id", "_ContentType": "Content-Type"}
#: envelope keys that carry nothing the embedded backend uses
IGNORED_KEYS = ("_ClientVersion", "_RevocableSession", "_MaintenanceKey", "_context", "_noBody")
FILES_PREFIX = "/parse/files/"
#: objects and arrays a body naming no app in a header may hold: it is parsed before its caller is known,
#: and a parse costs by them (28 MiB of ``[{},{},...]`` took 6 s, a file's 28 MiB of base64 is one string
#: parsed in 40 ms); a browser app's query or object write holds a few hundred
MAX_CONTAINERS = 10_000


def _invalid() -> ProtocolError:
    return ProtocolError(1, "unauthorized", 403)  # Parse Server's answer to a malformed envelope


def _read(body: Body) -> bytes:
    """The whole body (a stream here is held to the request's cap as it is read, see ``admission``)."""
    if body is None or isinstance(body, (bytes, bytearray)):
        return bytes(body or b"")
    return body.read()


def _json_object(raw: bytes) -> Any:
    """The body's JSON, or None. Its caller is not known yet, so it is only parsed here: ``protocol.loads``
    also walks every value it holds (ten times the cost of the parse), which the endpoint's own parse of the
    re-encoded body does once the keys are checked."""
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None


def _encoded(value: Any) -> str:
    # the standard library's encoder spells what the endpoint's strict parse refuses (a lone surrogate,
    # NaN) rather than failing here, and any integer
    return json.dumps(value, separators=(",", ":"))


def unwrap(method: str, path: str, params: Dict[str, str], headers: Dict[str, str],
           body: Body) -> Tuple[str, Dict[str, str], Dict[str, str], Body]:
    """The plain request behind a Parse-dialect request: ``(method, params, headers, body)``.

    A request naming its app in a header is left alone but for ``_method``; a file upload's bytes are
    only read when no header names the app, as that is when they may be an envelope.
    """
    has_app_header = any(k.lower() == "x-parse-application-id" and v for k, v in headers.items())
    is_file = path.startswith(FILES_PREFIX)
    if is_file and has_app_header:
        return method, params, headers, body  # raw file bytes, never an envelope
    raw = _read(body)
    if has_app_header and b'"_method"' not in raw:
        return method, params, headers, raw  # a plain REST request: parsed once, by its endpoint
    if not has_app_header and raw.count(b"{") + raw.count(b"[") > MAX_CONTAINERS:
        raise ProtocolError(1, f"Request body too large: a request carrying its keys in the body holds at most "
                               f"{MAX_CONTAINERS} objects and arrays (send them as headers).", 413)
    envelope = _json_object(raw)
    if not isinstance(envelope, dict):
        return method, params, headers, raw
    changed = False
    if not has_app_header and "_ApplicationId" in envelope:
        headers = dict(headers)
        for key, header in HEADER_KEYS.items():
            value = envelope.pop(key, None)
            if value is None:
                continue
            if not isinstance(value, str):
                raise _invalid()
            try:
                check_json(value)  # a header is text the database can look up
            except ValueError:
                raise _invalid() from None
            headers[header] = value
        for key in IGNORED_KEYS:
            envelope.pop(key, None)
        changed = True
        if is_file:
            return method, params, headers, _file_bytes(envelope)
    override = envelope.pop("_method", None)
    if method == "POST" and isinstance(override, str):
        method, changed = override.upper(), True
        if method in ("GET", "DELETE"):  # its parameters travel as the body's other keys
            params = {**params, **{k: v if isinstance(v, str) else _encoded(v) for k, v in envelope.items()}}
            return method, params, headers, None
    return method, params, headers, (_encoded(envelope).encode("utf-8") if changed else raw)


def _file_bytes(envelope: Dict[str, Any]) -> bytes:
    """The bytes of a file sent as ``{"base64": ...}`` (a data URI's prefix is allowed, as by the SDK)."""
    data = envelope.get("base64")
    if not isinstance(data, str):
        raise _invalid()
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(107, "Invalid base64 file data.") from None
