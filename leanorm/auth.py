"""Users, sessions and roles.

Who a request acts as lives in contextvars (see :mod:`leanorm.auth_context`): ``with as_user(user):``
sends that user's session token for the block only, in that thread or task only. Logging in never
changes what other threads see.
"""
from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Dict, Iterator, Optional, Type, TypeVar, Union

from . import auth_context, legacy_password, signals
from .acl import ACL
from .aio import run_async
from .client import Client
from .config import get_client
from .errors import AuthenticationFailed, InvalidSession, LeanCloudError, LeanORMError, ObjectNotFound, UserNotFound
from .fields import BooleanField, DictField, PointerField, StringField
from .models import Model
from .query.queryset import QuerySet
from .relations import RelationField

__all__ = ["User", "Role", "Followee", "Follower", "as_user"]

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
    """The ``_User`` class. Subclass it to add fields: the subclass models ``_User`` too (no ``Meta`` needed)."""

    username: StringField[Optional[str]] = StringField()
    email: StringField[Optional[str]] = StringField()
    # sent as given; the embedded backend stores (and a filter must name) it in E.164: docs/users.md
    mobile_phone_number: StringField[Optional[str]] = StringField(db_field="mobilePhoneNumber")
    email_verified: BooleanField[Optional[bool]] = BooleanField(db_field="emailVerified")
    mobile_phone_verified: BooleanField[Optional[bool]] = BooleanField(db_field="mobilePhoneVerified")
    auth_data: DictField[Optional[Dict[str, Any]]] = DictField(db_field="authData")

    class Meta:
        class_name = "_User"

    # -- sessions ----------------------------------------------------------------------------------------
    @property
    def session_token(self) -> Optional[str]:
        """The session token (only on the user object a login, signup or become() returned)."""
        return self._stored("sessionToken")

    def is_authenticated(self) -> bool:
        """Whether this user object carries a session token (it does not ask the server whether the
        session is still valid: :meth:`become` does)."""
        return bool(self.session_token)

    def _as_self(self) -> ContextManager[Any]:
        """Act as this user when it carries a session token; otherwise keep the current context (so
        ``using_master()`` can act on any user)."""
        return as_user(self) if self.session_token else contextlib.nullcontext()

    def set_password(self, password: str) -> None:
        """Set a new password, sent with the next save (never kept on the instance)."""
        if not isinstance(password, str) or not password:
            raise ValueError("password must be a non-empty string")
        self["password"] = password

    def _collection_path(self) -> str:
        return "users"

    def _merge(self, data: Dict[str, Any], partial: bool) -> None:
        # a stored user row never carries the token: reloading the logged-in instance (a query made as
        # that user returns it) must not log it out
        token = self.session_token
        super()._merge(data, partial)
        if token and self._stored("sessionToken") is None:
            self._store("sessionToken", token)

    def refresh(self: U, *, client: Any = None) -> U:
        """Reload this user; a logged-in user reloads itself with its own session (Parse Server keeps
        users private to themselves) and keeps its token."""
        token = self.session_token
        with self._as_self():
            super().refresh(client=client)
        if token and self._stored("sessionToken") is None:
            self._store("sessionToken", token)
        return self

    def _saved(self, client: Any, payload: Any, answer: Any) -> None:
        payload = {k: v for k, v in payload.items() if k != "password"}
        self._discard_change("password")
        super()._saved(client, payload, answer)
        if answer.get("sessionToken"):
            self._store("sessionToken", answer["sessionToken"])

    @classmethod
    def _logged_in(cls: Type[U], data: Dict[str, Any], client: Client) -> U:
        """A user instance from a login answer, kept in the identity scope of its own session so no
        other caller is ever handed the token."""
        with auth_context.acting_as(None, data.get("sessionToken")):
            user = cls._from_wire(data, client)
        signals.logged_in.send(cls, instance=user)
        return user

    @classmethod
    def signup(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None,
               email: Optional[str] = None, mobile_phone_number: Optional[str] = None, *,
               client: Optional[Client] = None, **fields: Any) -> U:
        """Create a user; the returned user is logged in (has a session token)."""
        user = cls(username=username, email=email, mobile_phone_number=mobile_phone_number, **fields)
        if password is None:
            raise ValueError("signup needs a password")
        client = get_client(client)
        user.set_password(password)
        user.save(client=client)
        if not user.session_token:
            return user
        if client.identity_map.enabled:
            client.identity_map.discard(cls._meta.class_name, user.id)  # type: ignore[arg-type]
        return cls._logged_in(user._stored_copy(), client)

    @classmethod
    def login(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None, *,
              email: Optional[str] = None, client: Optional[Client] = None) -> U:
        """Log in by username or e-mail and password. Raises AuthenticationFailed (210),
        UserNotFound (211)."""
        if password is None or not (username or email):
            raise ValueError("login needs username or email, and password")
        body = {"password": password, **({"username": username} if username else {"email": email})}
        return cls._login(body, get_client(client))

    @classmethod
    def login_with_mobile_phone(cls: Type[U], phone: str, password: Optional[str] = None, *,
                                sms_code: Optional[str] = None, client: Optional[Client] = None) -> U:
        """Log in with a mobile phone number and its password, or the code
        :meth:`request_login_sms_code` sent (``sms_code``, SMS backends only)."""
        if (password is None) == (sms_code is None):
            raise ValueError("login_with_mobile_phone needs a password or an sms_code (one of them)")
        client = get_client(client)
        if sms_code is not None:
            client.require("sms", "User.login_with_mobile_phone(sms_code=...)")
            return cls._login({"mobilePhoneNumber": phone, "smsCode": sms_code}, client)
        return cls._login({"mobilePhoneNumber": phone, "password": password}, client)

    @classmethod
    def signup_or_login_with_mobile_phone(cls: Type[U], phone: str, code: str, *,
                                          client: Optional[Client] = None, **fields: Any) -> U:
        """Log in the user with this phone number, or sign one up (username = the number, phone
        verified), with a code from :func:`leanorm.cloud.request_sms_code`. ``fields`` (e.g.
        ``password``) are used only when signing up."""
        client = get_client(client)
        client.require("sms", "User.signup_or_login_with_mobile_phone")
        data = client.request("POST", "usersByMobilePhone",
                              body={**fields, "mobilePhoneNumber": phone, "smsCode": code})
        return cls._logged_in(data, client)

    @classmethod
    def login_with(cls: Type[U], platform: str, auth_data: Dict[str, Any], *,
                   client: Optional[Client] = None) -> U:
        """Log in the user linked to this third-party account, or sign one up (random username).

        ``auth_data`` is what the platform gave, with its user id under ``uid`` (``openid`` for
        weixin/qq, ``id`` for ``anonymous``). Parse Server and the embedded backend accept only the
        providers they are configured to verify (``anonymous`` by default); another is
        :class:`~leanorm.errors.UnsupportedAuthProvider` (252)."""
        client = get_client(client)
        data = client.request("POST", "users", body={"authData": {platform: auth_data}})
        data.pop("authDataResponse", None)  # Parse's provider answer, not a field of the user
        data.setdefault("authData", {platform: auth_data})  # a new user's answer lacks it on Parse
        return cls._logged_in(data, client)

    @classmethod
    def _login(cls: Type[U], body: Dict[str, Any], client: Client) -> U:
        try:
            data = client.request("POST", "login", body=body)
        except ObjectNotFound as exc:
            # Parse answers 101 "Invalid username/password." where LeanCloud says 210/211: same meaning,
            # the server's code and message are kept
            if not cls._moved_legacy_password(body, client):
                raise AuthenticationFailed(exc.code, exc.message, exc.status) from None
            data = client.request("POST", "login", body=body)
        return cls._logged_in(data, client)

    @staticmethod
    def _moved_legacy_password(body: Dict[str, Any], client: Client) -> bool:
        """On Parse Server, after a failed password login: whether the legacy-login function (see
        :mod:`leanorm.engine.legacy_login`) found an imported LeanCloud hash matching the password and
        made it the user's Parse password (so logging in again succeeds)."""
        if client.dialect.name != "parse" or "password" not in body or "mobilePhoneNumber" in body:
            return False
        try:
            client.request("POST", f"functions/{legacy_password.LOGIN_FUNCTION}", body=body)
        except LeanCloudError:  # not a legacy user, a wrong password, or no function registered
            return False
        return True

    @classmethod
    def become(cls: Type[U], session_token: str, *, client: Optional[Client] = None) -> U:
        """The user a session token belongs to (InvalidSession, 209, when it is not valid)."""
        client = get_client(client)
        with auth_context.acting_as(None, session_token):
            try:
                data = client.request("GET", "users/me")
            except UserNotFound as exc:  # LeanCloud answers an unknown token here with 211
                raise InvalidSession(209, "Invalid session token.", exc.status) from exc
        data.setdefault("sessionToken", session_token)
        return cls._logged_in(data, client)

    @classmethod
    def current(cls: Type[U], *, client: Optional[Client] = None) -> Optional[U]:
        """The user the calling code acts as (``as_user`` or its session token), as the server has it
        (``users/me``, :meth:`become`); None when it acts as no user."""
        token = auth_context.session_token()
        return cls.become(token, client=client) if token else None

    # -- async (docs/async.md): the methods of the same names, their sends awaited (leanorm.aio) ------
    @classmethod
    async def asignup(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None,
                      email: Optional[str] = None, mobile_phone_number: Optional[str] = None, *,
                      client: Optional[Client] = None, **fields: Any) -> U:
        """:meth:`signup` from async code."""
        return await run_async(cls.signup, username, password, email, mobile_phone_number, client=client,
                               **fields)

    @classmethod
    async def alogin(cls: Type[U], username: Optional[str] = None, password: Optional[str] = None, *,
                     email: Optional[str] = None, client: Optional[Client] = None) -> U:
        """:meth:`login` from async code."""
        return await run_async(cls.login, username, password, email=email, client=client)

    @classmethod
    async def abecome(cls: Type[U], session_token: str, *, client: Optional[Client] = None) -> U:
        """:meth:`become` from async code."""
        return await run_async(cls.become, session_token, client=client)

    @classmethod
    async def acurrent(cls: Type[U], *, client: Optional[Client] = None) -> Optional[U]:
        """:meth:`current` from async code."""
        return await run_async(cls.current, client=client)

    async def alogout(self) -> None:
        """:meth:`logout` from async code."""
        await run_async(self.logout)

    def logout(self) -> None:
        """End this user's session on the server and forget its token."""
        token = self.session_token
        if not token:
            return
        client = get_client(self._client)
        with auth_context.acting_as(None, token):
            client.request("POST", "logout", body={})
        self._unstore("sessionToken")
        signals.logged_out.send(type(self), instance=self, session_token=token)

    def refresh_session_token(self) -> str:
        """End every session of this user and start a new one (LeanCloud, embedded); returns the
        new token, which this instance now carries."""
        client = get_client(self._client)
        client.require("refresh_session_token", "User.refresh_session_token")
        with self._as_self():
            data = client.request("PUT", f"users/{self.id}/refreshSessionToken", body={})
        self._store("sessionToken", data["sessionToken"])
        signals.logged_in.send(type(self), instance=self)
        return data["sessionToken"]

    # -- third-party accounts ------------------------------------------------------------------------
    def link_with(self, platform: str, auth_data: Dict[str, Any]) -> "User":
        """Link a third-party account to this user (AccountAlreadyLinked, 208, when another user has
        it); log in with it later through :meth:`login_with`."""
        client = get_client(self._client)
        with self._as_self():
            client.request("PUT", f"users/{self.id}", body={"authData": {platform: auth_data}})
        self._store("authData", {**(self._stored("authData") or {}), platform: auth_data})
        return self

    def unlink_from(self, platform: str) -> "User":
        """Remove a linked third-party account from this user."""
        client = get_client(self._client)
        # LeanCloud deletes one platform with an operation on the nested key; Parse takes a null
        body: Dict[str, Any] = ({f"authData.{platform}": {"__op": "Delete"}}
                                if client.supports("nested_key_operators") else {"authData": {platform: None}})
        with self._as_self():
            client.request("PUT", f"users/{self.id}", body=body)
        linked = {k: v for k, v in (self._stored("authData") or {}).items() if k != platform}
        if linked:
            self._store("authData", linked)
        else:
            self._unstore("authData")
        return self

    # -- friendship (LeanCloud's _Followee / _Follower) ------------------------------------------------
    def follow(self, target: Union["User", str], **attributes: Any) -> None:
        """Make this user follow ``target`` (a user or its id); ``attributes`` are stored on the
        ``_Followee``/``_Follower`` rows. Following twice keeps one row."""
        client = get_client(self._client)
        client.require("friendship", "User.follow")
        with self._as_self():
            client.request("POST", f"users/{self.id}/friendship/{_user_id(target)}", body=attributes)

    def unfollow(self, target: Union["User", str]) -> None:
        """Stop following ``target``."""
        client = get_client(self._client)
        client.require("friendship", "User.unfollow")
        with self._as_self():
            client.request("DELETE", f"users/{self.id}/friendship/{_user_id(target)}")

    @classmethod
    def followees(cls, user: Union["User", str], *, client: Optional[Client] = None) -> "QuerySet[Followee]":
        """The users ``user`` follows, as ``Followee`` rows with ``followee`` loaded:
        ``[row.followee for row in User.followees(ann)]``."""
        client = get_client(client)
        client.require("friendship", "User.followees")
        return Followee.objects.using(client).filter(user=_user_stub(user, client)).select_related("followee")

    @classmethod
    def followers(cls, user: Union["User", str], *, client: Optional[Client] = None) -> "QuerySet[Follower]":
        """The users who follow ``user``, as ``Follower`` rows with ``follower`` loaded."""
        client = get_client(client)
        client.require("friendship", "User.followers")
        return Follower.objects.using(client).filter(user=_user_stub(user, client)).select_related("follower")

    # -- passwords --------------------------------------------------------------------------------------
    def update_password(self, old_password: str, new_password: str) -> None:
        """Change the password, checking the old one (LeanCloud and the embedded backend)."""
        client = get_client(self._client)
        client.require("user_update_password", "update_password")
        with as_user(self):
            data = client.request("PUT", f"users/{self.id}/updatePassword",
                                  body={"old_password": old_password, "new_password": new_password})
        if "sessionToken" in data:
            self._store("sessionToken", data["sessionToken"])

    @classmethod
    def request_password_reset(cls, email: str, *, client: Optional[Client] = None) -> None:
        """Send a password-reset e-mail."""
        get_client(client).request("POST", "requestPasswordReset", body={"email": email})

    @classmethod
    def request_email_verify(cls, email: str, *, client: Optional[Client] = None) -> None:
        """Send the e-mail verification message again."""
        client = get_client(client)
        client.request("POST", client.dialect.endpoint("request_email_verify"), body={"email": email})

    @classmethod
    def request_password_reset_by_sms_code(cls, phone: str, *, client: Optional[Client] = None) -> None:
        """Text a password-reset code to the user with this phone number (UserNotFound, 213, when
        there is none); then :meth:`reset_password_by_sms_code`."""
        _sms("requestPasswordResetBySmsCode", "User.request_password_reset_by_sms_code",
             {"mobilePhoneNumber": phone}, client=client)

    @classmethod
    def reset_password_by_sms_code(cls, code: str, new_password: str, phone: str, *,
                                   client: Optional[Client] = None) -> None:
        """Set a new password with the code texted to ``phone`` by :meth:`request_password_reset_by_sms_code`
        (InvalidVerificationCode, 603, when it is wrong, used or expired). The user's sessions end. The
        number is sent with the code: the embedded backend refuses a code alone (it would match any
        user's pending reset)."""
        _sms(f"resetPasswordBySmsCode/{code}", "User.reset_password_by_sms_code",
             {"password": new_password, "mobilePhoneNumber": phone}, method="PUT", client=client)

    # -- mobile phone -------------------------------------------------------------------------------------
    @classmethod
    def request_mobile_phone_verify(cls, phone: str, *, client: Optional[Client] = None) -> None:
        """Text a verification code to the user with this phone number; then
        :meth:`verify_mobile_phone_number`."""
        _sms("requestMobilePhoneVerify", "User.request_mobile_phone_verify", {"mobilePhoneNumber": phone},
             client=client)

    @classmethod
    def verify_mobile_phone_number(cls, code: str, *, client: Optional[Client] = None) -> None:
        """Mark the phone number the code was sent to as verified (``mobile_phone_verified``)."""
        _sms(f"verifyMobilePhone/{code}", "User.verify_mobile_phone_number", {}, client=client)

    @classmethod
    def request_login_sms_code(cls, phone: str, *, client: Optional[Client] = None) -> None:
        """Text a login code to the user with this phone number; then
        ``login_with_mobile_phone(phone, sms_code=code)``."""
        _sms("requestLoginSmsCode", "User.request_login_sms_code", {"mobilePhoneNumber": phone}, client=client)

    @classmethod
    def request_change_phone_number(cls, phone: str, *, client: Optional[Client] = None) -> None:
        """Text a code to a new number for the current user (inside ``as_user``; MobilePhoneTaken,
        214, when another user has it); then :meth:`change_phone_number`."""
        _sms("requestChangePhoneNumber", "User.request_change_phone_number", {"mobilePhoneNumber": phone},
             client=client)

    @classmethod
    def change_phone_number(cls, code: str, phone: str, *, client: Optional[Client] = None) -> None:
        """Set the current user's number to ``phone`` (verified) with the code texted to it."""
        _sms("changePhoneNumber", "User.change_phone_number", {"mobilePhoneNumber": phone, "code": code},
             client=client)


def _sms(path: str, feature: str, body: Dict[str, Any], method: str = "POST", *,
         client: Optional[Client] = None) -> None:
    """One request of an SMS-based endpoint, refused with NotSupported where the backend has no SMS."""
    client = get_client(client)
    client.require("sms", feature)
    client.request(method, path, body=body)


def _user_id(user: Union["User", str]) -> str:
    key = user if isinstance(user, str) else user.id
    if not key:
        raise LeanORMError(f"{user!r} has no id: save the user first")
    return key


def _user_stub(user: Union["User", str], client: Client) -> "User":
    return User._stub(user, client) if isinstance(user, str) else user


class Followee(Model):
    """``_Followee``: one row per user ``user`` follows (``followee``)."""

    user: PointerField[Optional[User]] = PointerField(User)
    followee: PointerField[Optional[User]] = PointerField(User)

    class Meta:
        class_name = "_Followee"


class Follower(Model):
    """``_Follower``: one row per user following ``user`` (``follower``)."""

    user: PointerField[Optional[User]] = PointerField(User)
    follower: PointerField[Optional[User]] = PointerField(User)

    class Meta:
        class_name = "_Follower"


class Role(Model):
    """The ``_Role`` class: a named group of users and of other roles (whose members inherit it)."""

    name: StringField[str] = StringField(required=True, regex=r"^[0-9A-Za-z_\- ]+$")
    users: RelationField[User] = RelationField(User)
    roles: RelationField[Role] = RelationField("self")

    class Meta:
        class_name = "_Role"
        # the protocol requires an ACL on roles: readable by everyone, writable with the master key
        default_acl = ACL({"*": {"read": True}})
