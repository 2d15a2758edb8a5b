"""Friendship, LeanCloud's: following writes a ``_Followee`` row (``user`` follows ``followee``) and its
mirror ``_Follower`` row, both public-read and written only by the backend (``permissions.CLOSED_TO_CLIENTS``),
after the caller's class-level permissions for the write."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Tuple

from ..access.authz import check_delegated_fields
from .objects import remove, write
from ..access.permissions import permit_delegated
from ..routing import Context, route
from ..answers import ProtocolError, dumps
from .reads import fetch, list_answer, query

__all__: List[str] = []

#: the two rows a follow writes (the backend's own: clients write them only through these endpoints)
FRIENDSHIP_CLASSES = ("_Followee", "_Follower")


def _pointer(user_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def _friendship(ctx: Context) -> Tuple[str, str]:
    user_id, target_id = ctx.args
    if user_id == "self" and ctx.caller.user_id:  # the Dart SDK's ``users/self/friendship/<id>``
        user_id = ctx.caller.user_id
    if ctx.caller.user_id != user_id and not ctx.caller.master:
        raise ProtocolError(206, "Only the user can change whom it follows; log in first.", 403)
    return user_id, target_id


def _rows(ctx: Context, user_id: str, target_id: str) -> Iterable[Tuple[str, str]]:
    """(class, objectId) of the _Followee and _Follower rows of ``user_id`` following ``target_id``."""
    master = ctx.as_master()
    for class_name, where in (("_Followee", {"user": _pointer(user_id), "followee": _pointer(target_id)}),
                              ("_Follower", {"user": _pointer(target_id), "follower": _pointer(user_id)})):
        rows, _ = query(master, class_name, where, limit=1000, keys="objectId")
        yield from ((class_name, row["objectId"]) for row in rows)


@route("POST", r"users/([^/]+)/friendship/([^/]+)")
def _follow(ctx: Context) -> Any:
    user_id, target_id = _friendship(ctx)
    if user_id == target_id:
        raise ProtocolError(1, "A user cannot follow itself.")
    given = {} if ctx.body is None else ctx.json_body()  # the official SDK sends the JSON body null
    attributes = {k: v for k, v in given.items() if k not in ("user", "followee", "follower", "ACL")}
    check_delegated_fields(ctx, attributes, "a follow's attributes")
    for class_name in FRIENDSHIP_CLASSES:
        permit_delegated(ctx, class_name, "create", list(attributes))
    master = ctx.as_master()
    fetch(master, "_User", target_id, keys="objectId")  # 101 when there is no such user
    public = {"*": {"read": True}}
    with ctx.store.write():
        if not any(True for _ in _rows(ctx, user_id, target_id)):
            write(master, "_Followee", None, {**attributes, "user": _pointer(user_id),
                                              "followee": _pointer(target_id), "ACL": public})
            write(master, "_Follower", None, {**attributes, "user": _pointer(target_id),
                                              "follower": _pointer(user_id), "ACL": public})
    return {}


@route("DELETE", r"users/([^/]+)/friendship/([^/]+)")
def _unfollow(ctx: Context) -> Any:
    user_id, target_id = _friendship(ctx)
    for class_name in FRIENDSHIP_CLASSES:
        permit_delegated(ctx, class_name, "delete")
    master = ctx.as_master()
    with ctx.store.write():
        for class_name, object_id in list(_rows(ctx, user_id, target_id)):
            remove(master, class_name, object_id)
    return {}


def _friends(ctx: Context, class_name: str, key: str) -> Any:
    where = {"user": _pointer(ctx.args[0])}
    given = ctx.json_param("where")
    params = {**ctx.params, "where": dumps({"$and": [where, given]} if given else where),
              "include": ctx.params.get("include") or key}
    return list_answer(dataclasses.replace(ctx, params=params), class_name)


@route("GET", r"users/([^/]+)/followees")
def _followees(ctx: Context) -> Any:
    return _friends(ctx, "_Followee", "followee")


@route("GET", r"users/([^/]+)/followers")
def _followers(ctx: Context) -> Any:
    return _friends(ctx, "_Follower", "follower")


@route("GET", r"users/([^/]+)/followersAndFollowees")
def _followers_and_followees(ctx: Context) -> Any:
    """Both lists at once (the SDKs' ``getFollowersAndFollowees``): ``followers`` and ``followees``, each
    a page as its own endpoint answers it (the same ``limit``, ``skip``, ``keys``, ``include``), and
    ``followers_count``/``followees_count`` when ``count`` is asked for."""
    answer: Dict[str, Any] = {}
    for plural, class_name, key in (("followers", "_Follower", "follower"), ("followees", "_Followee", "followee")):
        page = _friends(ctx, class_name, key)
        answer[plural] = page["results"]
        if "count" in page:
            answer[f"{plural}_count"] = page["count"]
    return answer
