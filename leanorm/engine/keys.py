"""The engine's keys and who a LeanEngine request comes from.

Keys come from the constructor or from the environment LeanEngine sets (``LEANCLOUD_APP_ID``,
``LEANCLOUD_APP_KEY``, ``LEANCLOUD_APP_MASTER_KEY``, ``LEANCLOUD_APP_HOOK_KEY``; Parse's webhook key
from ``LEANORM_PARSE_WEBHOOK_KEY``). A key that is not configured matches nothing: with no hook key,
no hook can be called over HTTP.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..protocol.dialects import check_request_sign, same_secret

__all__ = ["EngineKeys", "Caller", "authenticate"]


@dataclass(frozen=True)
class EngineKeys:
    """The keys an engine checks requests against."""

    app_id: Optional[str] = None
    app_key: Optional[str] = None
    master_key: Optional[str] = None
    hook_key: Optional[str] = None
    parse_webhook_key: Optional[str] = None

    @classmethod
    def resolve(cls, app_id: Optional[str] = None, app_key: Optional[str] = None,
                master_key: Optional[str] = None, hook_key: Optional[str] = None,
                parse_webhook_key: Optional[str] = None) -> "EngineKeys":
        """The given keys, each falling back to its environment variable."""
        env = os.environ.get
        return cls(app_id or env("LEANCLOUD_APP_ID"), app_key or env("LEANCLOUD_APP_KEY"),
                   master_key or env("LEANCLOUD_APP_MASTER_KEY"), hook_key or env("LEANCLOUD_APP_HOOK_KEY"),
                   parse_webhook_key or env("LEANORM_PARSE_WEBHOOK_KEY"))


def matches(given: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time comparison; an unconfigured key matches nothing."""
    return same_secret(given, expected)


@dataclass(frozen=True)
class Caller:
    """What a request proved: the app's key, the master key, the hook key; its session and stage."""

    app: bool
    master: bool
    hook: bool
    session_token: Optional[str]
    prod: bool


def _first(headers: Mapping[str, str], *names: str) -> Optional[str]:
    for name in names:
        value = headers.get(name)
        if value:
            return value
    return None


def authenticate(headers: Mapping[str, str], body: Mapping[str, Any], keys: EngineKeys) -> Caller:
    """Check a request's credentials. ``headers`` has lower-case names; ``body`` is the JSON body, read
    for the ``_ApplicationId``/``_ApplicationKey``/``_MasterKey``/``_SessionToken`` fields browsers send
    in ``text/plain`` requests to avoid a CORS preflight."""
    app_id = _first(headers, "x-lc-id", "x-avoscloud-application-id", "x-uluru-application-id") \
        or body.get("_ApplicationId")
    app_key = _first(headers, "x-lc-key", "x-avoscloud-application-key", "x-uluru-application-key") \
        or body.get("_ApplicationKey")
    master_key = _first(headers, "x-avoscloud-master-key", "x-uluru-master-key") or body.get("_MasterKey")
    token = _first(headers, "x-lc-session", "x-avoscloud-session-token", "x-uluru-session-token") \
        or body.get("_SessionToken")
    if app_key and app_key.endswith(",master"):
        master_key, app_key = app_key[: -len(",master")], None
    master = matches(master_key, keys.master_key)
    app = master or matches(app_key, keys.app_key)
    sign = _first(headers, "x-lc-sign", "x-avoscloud-request-sign")
    if sign and not app:
        valid, master = check_request_sign(sign, keys.app_key, keys.master_key)
        app, master = valid, valid and master
    app = app and matches(app_id, keys.app_id)
    prod = _first(headers, "x-lc-prod", "x-avoscloud-application-production",
                  "x-uluru-application-production") != "0"
    return Caller(app=app, master=app and master, hook=matches(headers.get("x-lc-hook-key"), keys.hook_key),
                  session_token=token or None, prod=prod)
