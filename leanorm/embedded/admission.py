"""Who is calling, and how many bytes it may send, known from a request's line and headers alone.

Every request passes :func:`admit` before a byte of its body is read: ``leanorm serve`` calls it before
receiving the body, the WSGI entry (``EmbeddedServer.__call__``) before reading ``wsgi.input``, and
``EmbeddedServer.handle`` for in-process calls. A caller without the app's keys, or an upload to an address
this server never gave out, is refused there, its body unread and unparsed; any other request learns the
most bytes its body may have (its route's cap), so a longer one is refused by its Content-Length, or cut
off as soon as a chunked one passes the cap.

The one request whose keys travel in its body is the Parse JS SDK's envelope (``_ApplicationId`` in a
``text/plain`` JSON body, :mod:`.envelope`): it is read under a small cap of its own before it is parsed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

from ..protocol.dialects import check_request_sign, same_secret
from .endpoints import hosted_files
from .answers import ProtocolError
from .settings import DEFAULT_MAX_UPLOAD

if TYPE_CHECKING:  # pragma: no cover
    from .routing import Services

__all__ = ["Headers", "MAX_BODY", "ENVELOPE_MAX", "DEFAULT_MAX_UPLOAD", "UNCAPPED_UPLOADS", "FORM_OVERHEAD", "PREFIXES", "PUBLIC",
           "OPERATIONS", "ADMITTED", "admit", "dialect_of", "keys", "too_large"]

MiB = 1024 * 1024
#: a JSON API body, keys checked
MAX_BODY = 64 * MiB
#: a body read before its caller is known (the Parse JS SDK's envelope, a request anyone may send, one
#: nothing reads): big enough for any query or object write of a browser app, small enough that reading
#: and parsing one costs milliseconds whatever it holds
ENVELOPE_MAX = 1 * MiB
#: an upload's bytes: Parse Server's default ``maxUploadSize`` (LeanCloud caps its REST upload at 10 MB,
#: its SDKs' direct uploads at far more, so the larger of the two breaks fewer apps moving over)
#: the cap of an app that is its own only client (``leanorm.connect("local://...")``): none to speak of
UNCAPPED_UPLOADS = 2 ** 62
#: what a multipart upload form adds around the file's bytes (boundaries, part headers)
FORM_OVERHEAD = 64 * 1024
PREFIXES = (("/1.1/", "leancloud"), ("/parse/", "parse"))
#: requests answered without app keys: the official SDK's ``get_server_time`` sends none; ``health`` is what
#: a load balancer or Parse's SDKs probe (it reads nothing)
PUBLIC = {("GET", "date"), ("GET", "health")}
#: an operator's paths, answered without keys (``/health``, ``/ready``; ``leanorm serve``'s ``/metrics``
#: guards itself): they take no body at all
OPERATIONS = frozenset({"/health", "/ready", "/metrics"})
#: the WSGI environ key by which ``leanorm serve`` hands on a request it admitted: its body's limit
ADMITTED = "leanorm.body_limit"


class Headers:
    """Case-insensitive view of request headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._h = {k.lower(): v for k, v in headers.items()}

    def get(self, *names: str) -> Optional[str]:
        for name in names:
            value = self._h.get(name.lower())
            if value:
                return value
        return None


def dialect_of(path: str) -> Optional[str]:
    """``leancloud`` under ``/1.1/``, ``parse`` under ``/parse/``, else None."""
    for prefix, dialect in PREFIXES:
        if path.startswith(prefix):
            return dialect
    return None


def keys(server: "Services", dialect: str, headers: Headers) -> bool:
    """Check the app id and key (or request signature, or master key) a request's headers carry; returns
    whether the master key was used. A caller without them is 401."""
    unauthorized = ProtocolError(401, "Unauthorized.", 401)
    if dialect == "parse":
        if headers.get("X-Parse-Application-Id") != server.settings.app_id:
            raise unauthorized
        master_key = headers.get("X-Parse-Master-Key")
        if master_key is not None:
            if not same_secret(master_key, server.settings.master_key):
                raise unauthorized
            return True
        # Parse Server's rule for an app with no client keys: the application id alone (docs/security.md)
        if server.settings.client_key_required and \
                headers.get("X-Parse-REST-API-Key", "X-Parse-Javascript-Key", "X-Parse-Client-Key") != server.settings.app_key:
            raise unauthorized
        return False
    if headers.get("X-LC-Id", "X-Avoscloud-Application-Id") != server.settings.app_id:
        raise unauthorized
    sign = headers.get("X-LC-Sign", "X-Avoscloud-Request-Sign")
    if sign:
        valid, master = check_request_sign(sign, server.settings.app_key, server.settings.master_key)
        if not valid:
            raise ProtocolError(401, "Unauthorized: bad request signature.", 401)
        return master
    key, _, suffix = (headers.get("X-LC-Key", "X-Avoscloud-Application-Key") or "").partition(",")
    master = suffix == "master"
    if not same_secret(key, server.settings.master_key if master else server.settings.app_key):
        raise unauthorized
    return master


def too_large(limit: int) -> ProtocolError:
    """A body longer than its route takes (413), refused unread when its Content-Length says so."""
    return ProtocolError(1, f"Request body too large: this request takes at most {limit} bytes.", 413)


def base64_size(size: int) -> int:
    """The length of ``size`` bytes in base64."""
    return (size + 2) // 3 * 4


def admit(server: "Services", method: str, path: str, headers: Mapping[str, str]) -> int:
    """The most bytes the body of ``method path`` may have, known from its headers alone; raises
    :class:`ProtocolError` for a caller refused before its body is read (401 without the app's keys, 403
    for an upload address that is unknown, expired or used). A request whose body nothing reads (a CORS
    preflight, a download, a path outside the API, left to the handler to answer) is read under the small
    cap of a request anyone may send, so that the connection can go on to its next request."""
    method = method.upper()
    if path in OPERATIONS:
        return 0
    view = Headers(headers)
    if path.startswith(hosted_files.UPLOAD_PREFIX):
        if method not in ("PUT", "POST"):
            return ENVELOPE_MAX
        if not hosted_files.upload_address_open(server, path[len(hosted_files.UPLOAD_PREFIX):].strip("/")):
            raise hosted_files.closed_address()
        # a PUT carries the bytes, a POST a multipart form around them
        return server.settings.max_upload_size + (FORM_OVERHEAD if method == "POST" else 0)
    dialect = dialect_of(path)
    if dialect is None or method == "OPTIONS":  # a download, a CORS preflight, a path outside the API
        return ENVELOPE_MAX
    below = path.split("/", 2)[2].strip("/")
    if (method, below) in PUBLIC:
        return ENVELOPE_MAX
    uploads_file = method == "POST" and below.startswith("files/")
    if dialect == "parse" and not view.get("X-Parse-Application-Id"):
        # the Parse JS SDK's envelope: the keys are in the body, read under a cap of its own (a file
        # travels there as base64)
        return base64_size(server.settings.max_upload_size) + ENVELOPE_MAX if uploads_file else ENVELOPE_MAX
    keys(server, dialect, view)
    if uploads_file:  # Parse's raw bytes; LeanCloud's ``{"base64": ...}`` or an external file's url
        return server.settings.max_upload_size if dialect == "parse" else base64_size(server.settings.max_upload_size) + ENVELOPE_MAX
    return MAX_BODY
