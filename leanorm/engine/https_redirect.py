"""``HttpsRedirectMiddleware``: send plain-HTTP browser requests to the HTTPS URL.

LeanEngine (and most hosts) terminate TLS at a proxy that sets ``X-Forwarded-Proto``; the app itself
sees HTTP. The engine's own paths are never redirected: LeanCloud calls hooks and functions over its
internal network in plain HTTP.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Sequence
from urllib.parse import quote

__all__ = ["HttpsRedirectMiddleware", "ENGINE_PATH_PREFIXES"]

#: the paths LeanCloud and Parse call the engine at
ENGINE_PATH_PREFIXES = ("/1.1/functions/", "/1/functions/", "/1.1/call/", "/1/call/", "/__engine/", "/__parse/")


class HttpsRedirectMiddleware:
    """Redirect requests that did not arrive over HTTPS: ``301`` for GET/HEAD, ``307`` otherwise (so the
    method and body are kept). Paths starting with one of ``exempt_prefixes`` pass through."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *,
                 exempt_prefixes: Sequence[str] = ENGINE_PATH_PREFIXES) -> None:
        self.app = app
        self.exempt_prefixes = tuple(exempt_prefixes)

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        forwarded = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        scheme = forwarded or environ.get("wsgi.url_scheme", "http")
        path = environ.get("PATH_INFO", "")
        if scheme == "https" or path.startswith(self.exempt_prefixes):
            return self.app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        host = host.rsplit(":", 1)[0] if host.endswith((":80", ":8080")) else host
        url = "https://" + host + quote(environ.get("SCRIPT_NAME", "") + path)
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        status = "301 Moved Permanently" if environ.get("REQUEST_METHOD") in ("GET", "HEAD") \
            else "307 Temporary Redirect"
        start_response(status, [("Location", url), ("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", "0")])
        return [b""]
