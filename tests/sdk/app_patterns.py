"""Patterns of real LeanCloud apps, driven by the official SDK 3.0.2 unchanged against ``leanorm serve``
(run in the SDK's virtualenv by ``test_app_patterns.py``; ``steps.py`` runs and reports the steps).

The server hosts ``app_engine.py``: a ``before_save`` that fills ``slug``, an ``after_save`` that writes an
audit entry as the caller and bumps a counter as master, through leanorm's ORM.
"""
from __future__ import annotations

import io
from typing import Any, Dict, List

import leancloud
import requests
from leancloud import ACL, File, Object, Query, Role, User, cloud
from steps import Steps, error_code

step = Steps()
Post = Object.extend("AppPost")
Audit = Object.extend("AppAudit")
Tag = Object.extend("AppTag")
saved: Dict[str, Any] = {}


class Member(User):
    """The app's ``_User`` with properties over its own keys."""

    class_name = "_User"

    @property
    def nickname(self) -> str:
        return self.get("nickname")

    @nickname.setter
    def nickname(self, value: str) -> None:
        self.set("nickname", value)

    @property
    def display(self) -> str:
        return f"{self.nickname} (@{self.get_username()})"


def sign_up(username: str, nickname: str) -> Member:
    member = Member()
    member.set_username(username)
    member.set_password("pw")
    member.nickname = nickname
    member.sign_up()
    return member


# -- users --------------------------------------------------------------------------------------------------
@step
def user_subclass() -> Any:
    saved["bob"] = sign_up("bob", "Bobby")
    ada = sign_up("ada", "Ada")  # the current user from here on
    saved["ada"] = ada
    again = Member()
    again.login("ada", "pw")
    found = Query(Member).equal_to("username", "ada").first()
    return {"class": type(found).__name__, "display": found.display, "login_nickname": again.nickname,
            "current": User.get_current().id == ada.id}


# -- hooks that write through the ORM ------------------------------------------------------------------------
@step
def hooks_write_through_the_orm() -> Any:
    ada = saved["ada"]
    posts = []
    for votes, title in enumerate(["Hello World", "Second Post", "Third One", "Fourth", "Fifth"]):
        post = Post(title=title, votes=votes, author=ada)
        post.save()
        posts.append(post)
    saved["posts"] = posts
    first = Post.create_without_data(posts[0].id)
    first.fetch()
    audits = Query(Audit).equal_to("action", "created").find()
    return {"slug": first.get("slug"), "audits": len(audits),
            "audit_by": sorted({a.get("by").id for a in audits}) == [ada.id],
            "summary": cloud.run("board_summary")}


# -- pointers -----------------------------------------------------------------------------------------------
@step
def pointer_fetch_and_include() -> Any:
    post = Query(Post).get(saved["posts"][0].id)
    author = post.get("author")
    before = author.get("nickname")
    author.fetch()
    included = Query(Post).include("author").ascending("votes").limit(2).find()
    return {"unfetched": before, "fetched": author.get("nickname"),
            "included": [p.get("author").get("nickname") for p in included],
            "audit_post": Query(Audit).include("post").first().get("post").get("title") is not None}


# -- relations ----------------------------------------------------------------------------------------------
@step
def relations_with_skip_limit_or() -> Any:
    post = saved["posts"][0]
    tags = [Tag(name=n) for n in "abcde"]
    Object.save_all(tags)
    relation = post.relation("tags")
    for tag in tags:
        relation.add(tag)
    post.save()
    names = [t.get("name") for t in relation.query.ascending("name").skip(1).limit(2).find()]
    either = Query.or_(relation.query.equal_to("name", "a"), relation.query.equal_to("name", "e"))
    either_names = sorted(t.get("name") for t in either.find())
    relation.remove(tags[0])
    post.save()
    return {"page": names, "or": either_names,
            "count_after_remove": post.relation("tags").query.count()}


# -- roles --------------------------------------------------------------------------------------------------
@step
def roles_and_membership() -> Any:
    ada, bob = saved["ada"], saved["bob"]
    leancloud.use_master_key(True)
    try:
        acl = ACL()
        acl.set_public_read_access(True)
        admins = Role("Admins", acl)
        admins.get_users().add(ada)
        admins.save()
        empty = Role("Nobody", acl)
        empty.save()
        empty_count = empty.get_users().query.count()
    finally:
        leancloud.use_master_key(False)
    secret = Post(title="admins only")
    secret_acl = ACL()
    secret_acl.set_role_read_access("Admins", True)
    secret_acl.set_role_write_access("Admins", True)
    secret.set_acl(secret_acl)
    secret.save()
    as_ada = Query(Post).equal_to("title", "admins only").count()
    members = [u.get("username") for u in admins.get_users().query.find()]
    bob_user = User()
    bob_user.login("bob", "pw")
    as_bob = Query(Post).equal_to("title", "admins only").count()
    ada_again = User()
    ada_again.login("ada", "pw")
    return {"members": members, "roles_of_ada": [r.get("name") for r in ada_again.get_roles()],
            "ada_sees": as_ada, "bob_sees": as_bob, "empty_role_members": empty_count,
            "bob_is_not_admin": bob.id not in [u.id for u in admins.get_users().query.find()]}


# -- files --------------------------------------------------------------------------------------------------
@step
def files_by_upload_and_by_url() -> Any:
    uploaded = File("notes.txt", io.BytesIO(b"meeting at noon"))
    uploaded.save()
    linked = File.create_with_url("logo.png", "https://example.com/logo.png")
    linked.save()
    post = Post(title="with files", attachment=uploaded, logo=linked)
    post.save()
    read = Query(Post).equal_to("title", "with files").first()
    attachment, logo = read.get("attachment"), read.get("logo")
    fetched = File.create_without_data(linked.id)
    fetched.fetch()
    return {"attachment_id": attachment.id == uploaded.id, "name": attachment.name,
            "bytes": requests.get(attachment.url, timeout=10).text, "size": attachment.size,
            "logo_url": logo.url, "fetched": [fetched.name, fetched.url], "owner": uploaded.owner_id == saved["ada"].id}


# -- CQL ----------------------------------------------------------------------------------------------------
@step
def cql_with_pvalues() -> Any:
    ada = saved["ada"]
    result = Query.do_cloud_query("select * from AppPost where votes > ? and author = pointer('_User', ?) "
                                  "order by votes desc limit 2", 1, ada.id)
    counted = Query.do_cloud_query("select count(*) from AppPost where votes >= ?", 3)
    # one list of pvalues: the SDK encodes it twice (a JSON string holding the array)
    listed = Query.do_cloud_query("select title from AppPost where votes in (?, ?) order by votes", [0, 4])
    return {"titles": [p.get("title") for p in result.results], "count": counted.count,
            "listed": [p.get("title") for p in listed.results],
            "bad_code": error_code(lambda: Query.do_cloud_query("select * from"))}


def ids() -> Dict[str, Any]:
    posts: List[Any] = saved.get("posts", [])
    return {"ada": getattr(saved.get("ada"), "id", None), "posts": [p.id for p in posts]}


if __name__ == "__main__":
    step.main(ids)
