"""The legacy-login cloud function: users imported from LeanCloud into Parse Server keep their passwords.

Parse Server refuses a foreign password hash, so ``leanorm import`` gives each imported user an
unguessable random password and keeps LeanCloud's hash and salt in the master-only
``legacyPassword`` field (hidden from every other caller by the class's protected fields).
``register_parse_webhooks`` registers this function as ``leanormLegacyLogin``. Called with
``{username | email, password}``, it checks the password against the legacy hash; on a match it sets
it as the user's real Parse password (master key) and deletes the legacy field, so the caller's next
plain login succeeds and the function is never needed again for that user. Any other case answers 101,
the same as a failed login, so the function tells nobody which users exist.

``leanorm.User.login`` calls it by itself, once, when a login on Parse fails with 101. Other apps call
it when their own login fails with 101, then log in again (JavaScript:
``await Parse.Cloud.run("leanormLegacyLogin", {username, password})``; Android:
``ParseCloud.callFunction``; iOS: ``PFCloud.callFunction``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .. import legacy_password
from ..auth_context import using_master
from ..errors import LeanCloudError

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client

__all__ = ["legacy_login"]

_LOGIN_KEYS = ("username", "email")


def _refused() -> LeanCloudError:
    return LeanCloudError(101, "Invalid username/password.", 404)


def legacy_login(client: "Client", params: Dict[str, Any]) -> Dict[str, Any]:
    """Move one user's legacy password to Parse (see the module); raises 101 when it cannot."""
    password = params.get("password")
    login = next(((key, params[key]) for key in _LOGIN_KEYS
                  if isinstance(params.get(key), str) and params[key]), None)
    if login is None or not isinstance(password, str) or not password:
        raise _refused()
    with using_master():
        found = client.request("GET", "classes/_User", {"where": {login[0]: login[1]}, "limit": 1,
                                                        "keys": legacy_password.FIELD})["results"]
        if not found or not legacy_password.matches(password, found[0].get(legacy_password.FIELD)):
            raise _refused()
        client.request("PUT", f"classes/_User/{found[0]['objectId']}",
                       body={"password": password, legacy_password.FIELD: {"__op": "Delete"}})
    return {"migrated": True}
