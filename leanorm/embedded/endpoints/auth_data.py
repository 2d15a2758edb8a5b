"""Third-party accounts: signing up, logging in, linking and unlinking with ``authData``.

A user's ``authData`` is ``{platform: {uid|openid|id: ..., ...}}``; one platform account belongs to one
user (208 otherwise). A platform's data counts once its verifier (``verifiers``) or the Engine's
``onAuthData`` accepted it. ``classes.CLASS_HANDLERS`` sends every ``classes/_User`` signup and update
here; those without ``authData`` go on to ``users``.

LeanCloud's options, kept: ``?failOnNotExist=true`` makes a login that finds no user error 211 instead of
a signup; linking a platform to an anonymous user drops ``anonymous`` (the user is no longer anonymous);
and a platform's authData naming a ``unionid`` (with ``platform``, e.g. ``weixin``, and ``main_account``)
logs in the user holding ``_<platform>_unionid: {uid: unionid}`` when no user holds the platform itself,
linking the platform to them: several apps of one WeChat developer account share one user. A
``main_account`` login records the unionid on its user when nobody holds it yet. A unionid is a claim
like any other: it counts only when the platform's verifier vouches for it (``Verifier.checks_unionid``)
or the Engine's ``onAuthData`` accepted it.
"""
from __future__ import annotations

import secrets
from typing import Any, Dict, Optional, Tuple, Union

from ..access import verifiers
from .hooks import ON_AUTH_DATA, Control, auth_data, declared
from ..routing import Context
from ..answers import ProtocolError
from .reads import fetch
from .sessions import logged_in, user_answer
from ..storage.store import json_path, table
from ..storage.values import canonical
from .objects import PlannedWrite, plan, save
from .users import plan_signup, save_signup, set_user_fields, signup, update_user
from ..storage.interface import Connection

__all__ = ["signup_or_link", "update_or_link"]

ANONYMOUS = "anonymous"

#: where a platform's user id sits in its authData (LeanCloud: ``uid``; weixin/qq: ``openid``;
#: ``anonymous``: ``id``)
UID_KEYS = ("uid", "openid", "id")


def _uid(platform: str, data: Any) -> Tuple[str, Union[str, int]]:
    """The key and value of the platform's user id in its authData: a string, or an integer (some
    platforms number their users; it is looked up as the number it is stored as)."""
    if isinstance(data, dict):
        for key in UID_KEYS:
            uid = data.get(key)
            if (isinstance(uid, str) and uid) or (isinstance(uid, int) and not isinstance(uid, bool)):
                return key, uid
    raise ProtocolError(1, f"authData.{platform} needs the platform's user id under one of {', '.join(UID_KEYS)}.")


def _linked_user(ctx: Context, conn: Connection, platform: str, data: Any) -> Optional[str]:
    key, uid = _uid(platform, data)
    if not ctx.store.has_class(conn, "_User"):
        return None
    row = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, "
                       f"{json_path('authData', platform, key)}) = ?", (uid,)).fetchone()
    return row[0] if row else None


def check_links(ctx: Context, conn: Connection, links: Dict[str, Any], user_id: Optional[str]) -> None:
    for platform, data in links.items():
        if data is not None:
            owner = _linked_user(ctx, conn, platform, data)
            if owner is not None and owner != user_id:
                raise ProtocolError(208, "this auth is already used")


def _auth_data(body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    links = body.get("authData")
    if links is None:
        return None
    if not isinstance(links, dict) or not all(isinstance(v, dict) or v is None for v in links.values()):
        raise ProtocolError(107, "authData must be {platform: {...}}.")
    return links


def verified_links(ctx: Context, links: Dict[str, Any]) -> Dict[str, Any]:
    """``links`` once each platform's verifier accepted it (error 252 for a platform without one, or
    whose verifier cannot vouch for the ``unionid`` it names). An Engine's ``onAuthData`` is the app's
    own check, of every platform: what it answers is what counts."""
    if ctx.cloud_code is not None and ctx.cloud_code.has(ON_AUTH_DATA):
        return given_links({"authData": auth_data(ctx, links)})
    ctx.store.settle()  # a verifier asks the platform: the request can no longer be run again
    for platform, data in links.items():
        verifier = ctx.settings.auth_verifiers.get(platform)
        if verifier is None:
            raise verifiers.unsupported(platform)
        if "unionid" in data and not verifier.checks_unionid:
            raise ProtocolError(252, f"The verifier of {platform!r} cannot vouch for a unionid.")
        verifier.verify(platform, data)
    return links


def _union_key(platform: str, data: Dict[str, Any]) -> Optional[Tuple[str, Dict[str, str]]]:
    """The authData entry recording the unionid ``data`` names (``_weixin_unionid: {uid: ...}``), if any."""
    unionid, union_platform = data.get("unionid"), data.get("platform")
    if unionid is None:
        return None
    if not (isinstance(unionid, str) and unionid and isinstance(union_platform, str) and union_platform):
        raise ProtocolError(107, f"authData.{platform} needs unionid and platform as non-empty strings.")
    return f"_{union_platform}_unionid", {"uid": unionid}


def _with_unions(ctx: Context, conn: Connection, links: Dict[str, Any],
                 user_id: Optional[str]) -> Dict[str, Any]:
    """``links`` with the unionid entries they name that ``user_id`` (None: a new user) holds or, for a
    ``main_account``, may take because nobody holds them (one unionid, one user)."""
    stored = {**links}
    for platform, data in links.items():
        union = _union_key(platform, data) if data is not None else None
        if union is None:
            continue
        key, entry = union
        holder = _linked_user(ctx, conn, key, entry)
        if (holder is not None and holder == user_id) or (holder is None and data.get("main_account")):
            stored[key] = entry
    return stored


def _login_links(ctx: Context, conn: Connection,
                 links: Dict[str, Any]) -> Tuple[Optional[str], Dict[str, Any]]:
    """The user these links log in (None: none does) and the links to store on them: a platform's own
    account first, then the holder of a unionid one names."""
    user_id = next((u for u in (_linked_user(ctx, conn, p, d) for p, d in links.items()) if u), None)
    if user_id is None:
        unions = [u for u in (_union_key(p, d) for p, d in links.items()) if u is not None]
        user_id = next((u for u in (_linked_user(ctx, conn, k, e) for k, e in unions) if u), None)
    return user_id, _with_unions(ctx, conn, links, user_id)


def _linked(ctx: Context, user_id: str, links: Dict[str, Any]) -> Dict[str, Any]:
    """The write that adds ``links`` to a user's stored accounts."""
    stored = fetch(ctx.as_master(), "_User", user_id, keys="authData")
    return {"authData": {**(stored.get("authData") or {}), **links}}


def given_links(body: Dict[str, Any]) -> Dict[str, Any]:
    """The platforms ``body``'s authData names (a platform set to null names none)."""
    return {k: v for k, v in (_auth_data(body) or {}).items() if v is not None}


def signup_or_link(ctx: Context) -> Any:
    """A signup carrying ``authData`` logs in the user linked to that account (200) or creates one
    (201); any other signup is the usual one. The Engine's ``onAuthData`` sees the authData first and
    may rewrite it (what it answers is what is looked up and stored) or refuse the request."""
    body = dict(ctx.json_body())
    links = given_links(body)
    if not links:
        return signup(ctx)
    links = verified_links(ctx, links)  # outside the write lock: a verifier calls out, the hook may query
    if not links:
        raise ProtocolError(107, "onAuthData answered no authData to log in with.")
    # a login writes the accounts onto its user: when a hook runs on that write, it is planned (the before
    # hook run) before the write lock is taken, and its after hook runs once the lock is given back
    found: Optional[str] = None
    expected: Optional[Dict[str, Any]] = None
    relinked: Optional[PlannedWrite] = None
    if any(declared(ctx, Control(), "_User", hook) for hook in ("beforeUpdate", "afterUpdate")):
        with ctx.store.read() as conn:
            found, found_links = _login_links(ctx, conn, links)
        if found is not None:
            expected = _linked(ctx, found, found_links)
            relinked = plan(ctx.as_master(), "_User", found, expected)
    with ctx.store.write() as conn:
        user_id, links = _login_links(ctx, conn, links)
        if user_id is not None:
            check_links(ctx, conn, links, user_id)
            update = _linked(ctx, user_id, links)
            if relinked is not None and user_id == found and canonical(update) == canonical(expected):
                save(ctx.as_master(), relinked)
            else:  # no hook, or the accounts changed since: written from what is stored now (hooks in it)
                relinked = None
                set_user_fields(ctx, user_id, update)
            answer = logged_in(ctx, conn, user_id, provider=next(iter(links)))
    if user_id is not None:
        if relinked is not None:
            relinked.finish(ctx.as_master())
        return 200, answer
    if ctx.params.get("failOnNotExist") == "true":
        raise ProtocolError(211, "Could not find user.")
    # a new user: LeanCloud makes up a username, and no password can log in (an unguessable one)
    body["authData"] = links
    body.setdefault("username", secrets.token_hex(12))
    body.setdefault("password", secrets.token_urlsafe(32))
    signing_up = ctx.with_body(body)
    planned = plan_signup(signing_up)  # its hook outside the write lock
    with ctx.store.write() as conn:
        check_links(ctx, conn, links, None)  # again: another request may have linked it meanwhile
        _, created = save_signup(signing_up, conn, planned)
    planned.write.finish(signing_up)
    return 201, user_answer(ctx, created["objectId"], created["sessionToken"])


def update_or_link(ctx: Context) -> Any:
    """Linking (``authData: {platform: {...}}``) merges platforms into the stored ``authData``;
    unlinking takes ``authData: {platform: null}`` (Parse) or ``authData.platform: Delete`` (LeanCloud)."""
    body = dict(ctx.json_body())
    links = _auth_data(body) or {}
    for key in [k for k in body if k.startswith("authData.")]:
        op = body.pop(key)
        if not (isinstance(op, dict) and op.get("__op") == "Delete"):
            raise ProtocolError(107, f"{key} can only be deleted ({{'__op': 'Delete'}}).")
        links[key[len("authData."):]] = None
    if not links:
        return update_user(ctx)
    # linking needs the same proof as logging in; unlinking (null) needs none
    links = {**{k: v for k, v in links.items() if v is None},
             **verified_links(ctx, {k: v for k, v in links.items() if v is not None})}
    user_id = ctx.args[0]
    with ctx.store.write() as conn:
        links = _with_unions(ctx, conn, links, user_id)
        check_links(ctx, conn, links, user_id)
        try:
            stored = fetch(ctx.as_master(), "_User", user_id, keys="authData").get("authData") or {}
        except ProtocolError:
            stored = {}  # the update answers "not found" itself
        merged = {k: v for k, v in {**stored, **links}.items() if v is not None}
        if any(v is not None and k != ANONYMOUS for k, v in links.items()):
            merged.pop(ANONYMOUS, None)  # LeanCloud: a user with a real account is no longer anonymous
        body["authData"] = merged if merged else {"__op": "Delete"}
        return update_user(ctx.with_body(body))
