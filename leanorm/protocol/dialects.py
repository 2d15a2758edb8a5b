"""The two dialects of one protocol: LeanCloud and Parse Server.

A dialect knows the headers, the path prefix and the capabilities of a backend family. Everything that
differs between LeanCloud and Parse lives here, so that the rest of the code asks
``dialect.supports("scan")`` instead of comparing names.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Dict, FrozenSet, Optional, Tuple

__all__ = ["Dialect", "LeanCloudDialect", "ParseDialect", "dialect_named", "request_sign", "check_request_sign",
           "same_secret", "SIGN_WINDOW"]

#: seconds a signature's timestamp may be away from the server's clock (a replayed signature dies after it)
SIGN_WINDOW = 15 * 60


def same_secret(given: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time comparison of a key a client sent with the configured one; a key that is not
    configured matches nothing. Compared as UTF-8 bytes, so any text a header carries is an answer,
    not an error."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode("utf-8", "surrogatepass"),
                                                                  str(expected).encode("utf-8", "surrogatepass"))


def request_sign(timestamp: str, key: str) -> str:
    """LeanCloud's request signature: ``md5(timestamp + key)`` in hex (``X-LC-Sign: sign,ts[,master]``)."""
    return hashlib.md5((timestamp + key).encode()).hexdigest()


def check_request_sign(sign: str, app_key: Optional[str], master_key: Optional[str],
                       now: Optional[float] = None) -> Tuple[bool, bool]:
    """Whether an ``X-LC-Sign`` value is valid, and whether it claims the master key. A key that is not
    configured validates nothing; neither does a timestamp that is not a number of milliseconds (what
    the SDKs send) or seconds within :data:`SIGN_WINDOW` of ``now`` (the server's clock), so a signature
    seen once cannot be replayed for ever.

    >>> ts = str(int(time.time() * 1000))
    >>> check_request_sign(request_sign(ts, "key") + "," + ts, "key", None)
    (True, False)
    >>> check_request_sign(request_sign("", "key") + ",", "key", None)
    (False, False)
    """
    parts = sign.split(",")
    if len(parts) < 2 or not _fresh(parts[1], time.time() if now is None else now):
        return False, False
    master = len(parts) > 2 and parts[2] == "master"
    key = master_key if master else app_key
    return same_secret(parts[0].lower(), request_sign(parts[1], str(key)) if key else None), master


def _fresh(timestamp: str, now: float) -> bool:
    """Whether a signature's timestamp is digits, read as milliseconds (or as seconds when it is too
    small to be milliseconds of this century), within the window around ``now``."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return False
    seconds = int(timestamp) / 1000 if len(timestamp) > 11 else int(timestamp)
    return abs(seconds - now) <= SIGN_WINDOW

class Dialect:
    """Headers, paths and capabilities of one backend family."""

    name = "abstract"
    #: capabilities this family has; see ``supports``
    capabilities: FrozenSet[str] = frozenset()
    #: the most objects one query page may ask for
    max_limit = 1000
    #: the most requests one batch call may carry
    batch_limit = 50
    #: parameters every read sends (an object's ACL is part of it: LeanCloud returns it only when asked)
    read_params: Dict[str, str] = {}

    def __init__(self, prefix: str) -> None:
        self.prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"

    def path(self, *parts: str) -> str:
        """An API path under this dialect's prefix: ``path("classes", "Post")``."""
        return self.prefix + "/".join(p.strip("/") for p in parts)

    def supports(self, capability: str) -> bool:
        """Whether this family has ``capability`` (``scan``, ``cql``, ``bit_ops``, ``conditional_update``,
        ``size``, ``array_contains_scalar``, ``fetch_when_save``, ``sms``, ``file_objects``: files are
        ``_File`` objects with ids, uploaded through ``fileTokens``)."""
        return capability in self.capabilities

    def auth_headers(self, app_id: str, app_key: str, master_key: Optional[str], use_master: bool,
                     session_token: Optional[str], sign: bool) -> Dict[str, str]:
        """The headers that identify the app and the caller."""
        raise NotImplementedError

    #: endpoint paths that differ between dialects, by leanorm's name for them
    endpoints: Dict[str, str] = {}

    def count_where(self, where: Dict[str, Any]) -> Dict[str, Any]:
        """The ``where`` to send with ``count=1`` so that the count is exact."""
        return where

    def endpoint(self, name: str) -> str:
        """This dialect's path (under the prefix) for the endpoint leanorm calls ``name``."""
        return self.endpoints.get(name, name)


class LeanCloudDialect(Dialect):
    """LeanCloud: ``X-LC-*`` headers, ``/1.1/`` paths, scan, CQL, bit ops, conditional updates."""

    name = "leancloud"
    capabilities = frozenset({"scan", "cql", "bit_ops", "conditional_update", "size",
                              "array_contains_scalar", "fetch_when_save", "sms", "rpc",
                              "user_update_password", "object_equality", "geo_distance_units",
                              "nested_key_operators", "server_time", "friendship", "nin_keeps_missing",
                              "refresh_session_token", "file_objects", "hook_control", "statuses",
                              "leaderboards"})
    endpoints = {"request_email_verify": "requestEmailVerify"}
    read_params = {"returnACL": "true"}

    def __init__(self, prefix: str = "/1.1/") -> None:
        super().__init__(prefix)

    def auth_headers(self, app_id: str, app_key: str, master_key: Optional[str], use_master: bool,
                     session_token: Optional[str], sign: bool) -> Dict[str, str]:
        key = master_key if use_master and master_key else app_key
        suffix = ",master" if use_master and master_key else ""
        headers = {"X-LC-Id": app_id}
        if sign:
            ts = str(int(time.time() * 1000))
            headers["X-LC-Sign"] = request_sign(ts, key) + "," + ts + suffix
        else:
            headers["X-LC-Key"] = key + suffix
        if session_token:
            headers["X-LC-Session"] = session_token
        return headers


class ParseDialect(Dialect):
    """Parse Server: ``X-Parse-*`` headers, the mount path (``/parse/``) as prefix."""

    name = "parse"
    # Parse on PostgreSQL refuses $size and crashes on bit ops and on scalar equality with arrays
    # (measured: docs/parse-server.md): those are compiled differently or refused.
    capabilities = frozenset({"fetch_when_save", "schema_api", "text_search", "contained_by", "polygons", "aggregate",
                              "transactions"})
    endpoints = {"request_email_verify": "verificationEmailRequest"}

    def __init__(self, prefix: str = "/parse/") -> None:
        super().__init__(prefix)

    def auth_headers(self, app_id: str, app_key: str, master_key: Optional[str], use_master: bool,
                     session_token: Optional[str], sign: bool) -> Dict[str, str]:
        headers = {"X-Parse-Application-Id": app_id, "X-Parse-REST-API-Key": app_key}
        if use_master and master_key:
            headers["X-Parse-Master-Key"] = master_key
        if session_token:
            headers["X-Parse-Session-Token"] = session_token
        return headers

    def count_where(self, where: Dict[str, Any]) -> Dict[str, Any]:
        # With an empty where and the master key, Parse on PostgreSQL answers the planner's row estimate
        # (docs/parse-server.md); any condition makes it count for real.
        return where or {"objectId": {"$exists": True}}


def dialect_named(name: str, prefix: Optional[str] = None) -> Dialect:
    """The dialect called ``name`` (``leancloud`` or ``parse``), with an optional path prefix."""
    kinds = {"leancloud": LeanCloudDialect, "parse": ParseDialect}
    try:
        kind = kinds[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; expected one of {sorted(kinds)}") from None
    return kind(prefix) if prefix else kind()
