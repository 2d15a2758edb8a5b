"""Users crossing backends: what their write carries, and hiding the legacy hash on Parse Server.

A LeanCloud export holds each user's ``password`` hash and ``salt``. The write an import sends keeps
the pair as the master-only :data:`leanorm.legacy_password.FIELD` and a random password: the embedded
backend stores the legacy hash as the user's credential (and never the random one); Parse Server, which
takes no foreign hash, stores the random password and the field, which the legacy-login function
(:mod:`leanorm.engine.legacy_login`) checks at the user's first login. A user read over REST (migrate,
export) carries no hash at all: it gets a random password and must reset it.
"""
from __future__ import annotations

import secrets
from typing import Any, Dict

from .. import legacy_password
from ..auth_context import using_master
from ..client import Client
from ..errors import LeanCloudError

__all__ = ["user_body", "has_legacy_password", "hide_legacy_passwords"]

#: fields of an exported user that are credentials, not data
CREDENTIAL_KEYS = ("password", "salt", "sessionToken", "_hashed_password", "bcryptPassword")


def has_legacy_password(row: Dict[str, Any]) -> bool:
    """Whether an exported ``_User`` row carries LeanCloud's hash and salt."""
    return isinstance(row.get("password"), str) and bool(row["password"]) and isinstance(row.get("salt"), str)


def user_body(row: Dict[str, Any], body: Dict[str, Any]) -> Dict[str, Any]:
    """``body`` (a user's write) without credentials, with a random password and, when the exported
    ``row`` had one, the legacy hash."""
    out = {k: v for k, v in body.items() if k not in CREDENTIAL_KEYS}
    out["password"] = secrets.token_urlsafe(32)
    if has_legacy_password(row):
        out[legacy_password.FIELD] = legacy_password.record(row["password"], row["salt"])
    return out


def hide_legacy_passwords(client: Client) -> None:
    """On Parse Server: declare the legacy field on ``_User`` and add it to the class's protected fields
    for every caller (the master key still reads it). Nothing to do elsewhere: the embedded backend
    never stores it in a document."""
    if client.dialect.name != "parse":
        return
    with using_master():
        try:
            schema = client.request("GET", "schemas/_User")
        except LeanCloudError as exc:
            if exc.code == 103:  # no _User yet: the embedded backend in Parse's dialect (Parse Server always
                return           # has one), which keeps the legacy hash as a credential, never in a document
            raise
        if legacy_password.FIELD not in schema.get("fields", {}):
            try:
                client.request("PUT", "schemas/_User",
                               body={"fields": {legacy_password.FIELD: {"type": "Object"}}})
            except LeanCloudError as exc:
                if exc.code != 255:  # 255: another import declared it meanwhile
                    raise
        permissions = dict(schema.get("classLevelPermissions") or {})
        protected = {k: list(v) for k, v in (permissions.get("protectedFields") or {}).items()}
        if legacy_password.FIELD in protected.get("*", []):
            return
        protected["*"] = [*protected.get("*", []), legacy_password.FIELD]
        permissions["protectedFields"] = protected
        client.request("PUT", "schemas/_User", body={"classLevelPermissions": permissions})
