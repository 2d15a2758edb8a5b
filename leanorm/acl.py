"""Access control lists: who may read and write one object.

>>> acl = ACL()
>>> acl.set_public_read_access(True)
>>> acl.set_role_write_access("admin", True)
>>> acl.to_wire()
{'*': {'read': True}, 'role:admin': {'write': True}}
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

__all__ = ["ACL"]

PUBLIC = "*"


def _user_key(user: Union[str, Any]) -> str:
    key = user if isinstance(user, str) else getattr(user, "id", None)
    if not key:
        raise ValueError(f"{user!r} has no id: save the user first")
    return key


def _role_key(role: Union[str, Any]) -> str:
    name = role if isinstance(role, str) else getattr(role, "name", None)
    if not name:
        raise ValueError(f"{role!r} has no name")
    return "role:" + name


class ACL:
    """Read/write permissions per user (by id or instance), per role (by name or instance) and public."""

    def __init__(self, permissions: Optional[Dict[str, Dict[str, bool]]] = None) -> None:
        self._perms: Dict[str, Dict[str, bool]] = {k: dict(v) for k, v in (permissions or {}).items()}

    def _set(self, key: str, access: str, allowed: bool) -> None:
        entry = self._perms.setdefault(key, {})
        if allowed:
            entry[access] = True
        else:
            entry.pop(access, None)
            if not entry:
                del self._perms[key]

    def _get(self, key: str, access: str) -> bool:
        return bool(self._perms.get(key, {}).get(access, False))

    def set_public_read_access(self, allowed: bool) -> None:
        """Let everyone (or no one by default) read."""
        self._set(PUBLIC, "read", allowed)

    def set_public_write_access(self, allowed: bool) -> None:
        """Let everyone write."""
        self._set(PUBLIC, "write", allowed)

    def get_public_read_access(self) -> bool:
        return self._get(PUBLIC, "read")

    def get_public_write_access(self) -> bool:
        return self._get(PUBLIC, "write")

    def set_read_access(self, user: Union[str, Any], allowed: bool) -> None:
        """Let one user (id or instance) read."""
        self._set(_user_key(user), "read", allowed)

    def set_write_access(self, user: Union[str, Any], allowed: bool) -> None:
        """Let one user (id or instance) write."""
        self._set(_user_key(user), "write", allowed)

    def get_read_access(self, user: Union[str, Any]) -> bool:
        return self._get(_user_key(user), "read")

    def get_write_access(self, user: Union[str, Any]) -> bool:
        return self._get(_user_key(user), "write")

    def set_role_read_access(self, role: Union[str, Any], allowed: bool) -> None:
        """Let the members of a role (name or instance, inherited roles included) read."""
        self._set(_role_key(role), "read", allowed)

    def set_role_write_access(self, role: Union[str, Any], allowed: bool) -> None:
        """Let the members of a role write."""
        self._set(_role_key(role), "write", allowed)

    def get_role_read_access(self, role: Union[str, Any]) -> bool:
        return self._get(_role_key(role), "read")

    def get_role_write_access(self, role: Union[str, Any]) -> bool:
        return self._get(_role_key(role), "write")

    def to_wire(self) -> Dict[str, Dict[str, bool]]:
        """The protocol's JSON form."""
        return {k: dict(v) for k, v in self._perms.items()}

    @classmethod
    def from_wire(cls, data: Optional[Dict[str, Dict[str, bool]]]) -> "ACL":
        return cls(data or {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ACL) and self._perms == other._perms

    def __repr__(self) -> str:
        return f"ACL({self._perms!r})"
