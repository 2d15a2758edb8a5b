"""Users, sessions and roles.

Who a request acts as lives in contextvars (see :mod:`leanorm.auth_context`): ``with as_user(user):``
sends that user's session token for the block only, in that thread or task only. Logging in never
changes what other threads see.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional, Type, TypeVar

from . import auth_context
from .acl import ACL
from .config import get_client
from .errors import AuthenticationFailed, LeanORMError, ObjectNotFound
from .fields import BooleanField, DictField, StringField
from .models import Model
from .relations import RelationField

__all__ = ["User", "Role", "as_user"]

U = TypeVar("U", bound="User")


@contextlib.contextmanager
def as_user(user: Optional["User"]) -> Iterator[Optional["User"]]:
    """Act as ``user`` (its session token is sent) inside the block; ``None`` acts anonymously."""
    token = user.session_token if user is not None else None
    if user is not None and not token:
        raise LeanORMError(f"{user!r} has no session token: log in, sign up or become() first")
    with auth_context.acting_as(user, token):
        yield user


class User(Model):
    """The ``_User`` class. Subclass it to add fields (keep ``class_name = "_User"`` in Meta)."""

    username = StringField()
    email = StringField()
    mobile_phone_number = StringField(db_field="mobilePhoneNumber")
    email_verified = BooleanField(db_field="emailVerified")
    mobile_phone_verified = BooleanField(db_field="mobilePhoneVerified")
    auth_data = DictField(db_field="authData")

    class Meta:
        class_name = "_User"

    # -- sessions ----------------------------------------------------------------------------------------
    @property
    def session_token(self) -> Optional[str]:
        """The session token (only on the user object a login, signup or become() returned)."""
        return self._data.get("sessionToken")

    def is_authenticated(self) -> bool:
        """Whether this user object carries a session token."""
        return bool(self.session_token)

    def set_password(self, password: str) -> None:
        """Set a new password, sent with the next save (never kept on the instance)."""
        if not isinstance(password, str) or not password:
            raise ValueError("password must be a non-empty string")
        self["password"] = password

    def _collection_path(self) -> str:
        return "users"

    def _saved(self, client: Any, payload: Any, answer: Any, full: bool) -> None:
        payload = {k: v for k, v in payload.items() if k != "password"}
        self._cache.pop("password", None)
        self._changed.discard("password")
        super()._saved(client, payload, answer, full)
        if answer.get("sessionToken"):
            self._data["sessionToken"] = answer["sessionToken"]

    @classmethod
    def _logged_in(cls: Type[U], data: Dict[str, Any]) -> U:
        """A user instance from a login answer, kept in the identity scope of its own session so no
        other caller is ever handed the token."""
        client = get_client()
        with auth_context.acting_as(None, data.get("sessionToken")):
            return cls._from_wire(data, client)

    @classmethod
    def signup(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None,
               email: Optional[str] = None, mobile_phone_number: Optional[str] = None, **fields: Any) -> U:
        """Create a user; the returned user is logged in (has a session token)."""
        user = cls(username=username, email=email, mobile_phone_number=mobile_phone_number, **fields)
        if password is None:
            raise ValueError("signup needs a password")
        user.set_password(password)
        user.save()
        if user.session_token and get_client().identity_map.enabled:
            get_client().identity_map.discard(cls._meta.class_name, user.id)  # type: ignore[arg-type]
            return cls._logged_in(dict(user._data))
        return user

    @classmethod
    def login(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None, *,
              email: Optional[str] = None) -> U:
        """Log in by username or e-mail and password. Raises AuthenticationFailed (210),
        UserNotFound (211)."""
        if password is None or not (username or email):
            raise ValueError("login needs username or email, and password")
        body = {"password": password, **({"username": username} if username else {"email": email})}
        return cls._login(body)

    @classmethod
    def login_with_mobile_phone(cls: Type[U], phone: str, password: str) -> U:
        """Log in with a mobile phone number and password."""
        return cls._login({"mobilePhoneNumber": phone, "password": password})

    @classmethod
    def _login(cls: Type[U], body: Dict[str, Any]) -> U:
        try:
            data = get_client().request("POST", "login", body=body)
        except ObjectNotFound as exc:
            # Parse answers 101 "Invalid username/password." where LeanCloud says 210/211: same meaning,
            # the server's code and message are kept
            raise AuthenticationFailed(exc.code, exc.message, exc.status) from None
        return cls._logged_in(data)

    @classmethod
    def become(cls: Type[U], session_token: str) -> U:
        """The user a session token belongs to (InvalidSession, 209, when it is not valid)."""
        client = get_client()
        with auth_context.acting_as(None, session_token):
            data = client.request("GET", "users/me")
        data.setdefault("sessionToken", session_token)
        return cls._logged_in(data)

    def logout(self) -> None:
        """End this user's session on the server and forget its token."""
        token = self.session_token
        if not token:
            return
        client = self._client or get_client()
        with auth_context.acting_as(None, token):
            client.request("POST", "logout", body={})
        self._data.pop("sessionToken", None)

    # -- passwords --------------------------------------------------------------------------------------
    def update_password(self, old_password: str, new_password: str) -> None:
        """Change the password, checking the old one (LeanCloud and the embedded backend)."""
        client = self._client or get_client()
        client.require("user_update_password", "update_password")
        with as_user(self):
            data = client.request("PUT", f"users/{self.id}/updatePassword",
                                  body={"old_password": old_password, "new_password": new_password})
        if "sessionToken" in data:
            self._data["sessionToken"] = data["sessionToken"]

    @classmethod
    def request_password_reset(cls, email: str) -> None:
        """Send a password-reset e-mail."""
        get_client().request("POST", "requestPasswordReset", body={"email": email})

    @classmethod
    def request_email_verify(cls, email: str) -> None:
        """Send the e-mail verification message again."""
        client = get_client()
        client.request("POST", client.dialect.endpoint("request_email_verify"), body={"email": email})


class Role(Model):
    """The ``_Role`` class: a named group of users and of other roles (whose members inherit it)."""

    name = StringField(required=True, regex=r"^[0-9A-Za-z_\- ]+$")
    users = RelationField(User)
    roles = RelationField("self")

    class Meta:
        class_name = "_Role"
        # the protocol requires an ACL on roles: readable by everyone, writable with the master key
        default_acl = ACL({"*": {"read": True}})
