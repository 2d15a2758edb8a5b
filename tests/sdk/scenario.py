"""The official ``leancloud`` SDK 3.0.2 driving ``leanorm serve``: run inside the SDK's own virtualenv.

``test_official_sdk.py`` starts the server, then runs ``python scenario.py APP_ID APP_KEY MASTER_KEY`` with
``LEANCLOUD_API_SERVER`` pointing at it; ``steps.py`` runs the steps and prints their results, which the
test asserts.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

import leancloud
from leancloud import GeoPoint, Object, Query, User
from steps import Steps, error_code

Todo = Object.extend("SdkTodo")
Tag = Object.extend("SdkTag")
Author = Object.extend("SdkAuthor")

step = Steps()
WHEN = dt.datetime(2024, 5, 17, 8, 30, 15, 250000, tzinfo=dt.timezone.utc)


def titles(objs: List[Object]) -> List[str]:
    return [o.get("title") for o in objs]


saved: Dict[str, Any] = {}


# -- objects CRUD -------------------------------------------------------------------------------------------
@step
def crud_create() -> Any:
    author = Author(name="Ada")
    author.save()
    todo = Todo(title="write tests", priority=3, done=False, due=WHEN, tags=["a", "b"],
                meta={"lang": "en", "level": 2}, where=GeoPoint(39.9, 116.4), author=author)
    todo.save()
    saved["author"], saved["todo"] = author, todo
    return {"id": todo.id, "author_id": author.id, "has_created_at": todo.created_at is not None}


@step
def crud_fetch() -> Any:
    todo = Query(Todo).get(saved["todo"].id)
    where = todo.get("where")
    return {"title": todo.get("title"), "priority": todo.get("priority"), "done": todo.get("done"),
            "due": todo.get("due").isoformat(), "tags": todo.get("tags"), "meta": todo.get("meta"),
            "where": [where.latitude, where.longitude], "author_id": todo.get("author").id,
            "created_at": todo.created_at.isoformat(), "updated_at": todo.updated_at.isoformat()}


@step
def crud_update() -> Any:
    todo = saved["todo"]
    todo.set("title", "write more tests")
    todo.unset("meta")
    todo.save()
    fetched = Query(Todo).get(todo.id)
    return {"title": fetched.get("title"), "has_meta": fetched.has("meta")}


@step
def crud_fetch_when_save() -> Any:
    todo = saved["todo"]
    todo.set("note", "fresh")
    todo.save(fetch_when_save=True)
    return {"note": todo.get("note"), "title": todo.get("title")}


@step
def crud_conditional_save() -> Any:
    """``save(where=...)``: applied when the condition holds, error 305 when it does not."""
    todo = saved["todo"]
    todo.set("note", "guarded")
    todo.save(where=Query(Todo).equal_to("priority", 3))
    todo.set("note", "refused")
    code = error_code(lambda: todo.save(where=Query(Todo).equal_to("priority", 99)))
    return {"note": Query(Todo).get(todo.id).get("note"), "refused_code": code}


@step
def crud_unsaved_child() -> Any:
    """Saving an object that points at a new object: the SDK saves the child first, through batch."""
    todo = Todo(title="with child", author=Author(name="Grace"))
    todo.save()
    fetched = Query(Todo).include("author").get(todo.id)
    return {"author_name": fetched.get("author").get("name")}


@step
def crud_destroy() -> Any:
    doomed = Todo(title="doomed")
    doomed.save()
    doomed.destroy()
    # LeanCloud answers a missing object with {}: the SDK's is_existed() tells
    return {"exists": Todo.create_without_data(doomed.id).is_existed()}


# -- atomic operations ----------------------------------------------------------------------------------
@step
def atomic_ops() -> Any:
    counter = Todo(title="counter", count=10, labels=["x"])
    counter.save()
    saved["counter"] = counter
    counter.increment("count", 5)
    counter.add("labels", "y")
    counter.save()
    answered = {"count": counter.get("count"), "labels": counter.get("labels")}
    counter.increment("count", -2)
    counter.add_unique("labels", "x")
    counter.save()
    counter.add_unique("labels", "z")
    counter.save()
    counter.remove("labels", "y")
    counter.save()
    fetched = Query(Todo).get(counter.id)
    return {"answered": answered, "count": fetched.get("count"), "labels": fetched.get("labels")}


@step
def atomic_concurrent_increments() -> Any:
    """Two SDK objects for one row, each incrementing: the server adds, neither overwrites."""
    first = Todo.create_without_data(saved["counter"].id)
    second = Todo.create_without_data(saved["counter"].id)
    first.increment("count", 100)
    second.increment("count", 1000)
    first.save()
    second.save()
    return {"count": Query(Todo).get(saved["counter"].id).get("count")}


@step
def atomic_bit_ops() -> Any:
    flags = Todo(title="flags", mask=0b1100)
    flags.save()
    flags.bit_and("mask", 0b0110)
    flags.save()
    flags.bit_or("mask", 0b0001)
    flags.save()
    flags.bit_xor("mask", 0b1111)
    flags.save()
    return {"answered": flags.get("mask"), "stored": Query(Todo).get(flags.id).get("mask")}


# -- queries ------------------------------------------------------------------------------------------------
@step
def query_setup() -> Any:
    items = [Todo(title=f"q{i}", rank=i, group="even" if i % 2 == 0 else "odd", author=saved["author"])
             for i in range(10)]
    Object.save_all(items)
    return {"saved": sum(1 for o in items if o.id)}


def ranked() -> Query:
    return Query(Todo).exists("rank")


@step
def query_equal_to() -> Any:
    return sorted(titles(ranked().equal_to("group", "even").find()))


@step
def query_greater_than() -> Any:
    return titles(ranked().greater_than("rank", 6).ascending("rank").find())


@step
def query_contained_in() -> Any:
    return titles(ranked().contained_in("rank", [1, 4, 7]).ascending("rank").find())


@step
def query_matched() -> Any:
    return {"plain": titles(Query(Todo).matched("title", "^q[0-2]$").ascending("rank").find()),
            "ignore_case": titles(Query(Todo).matched("title", "^Q9", ignore_case=True).find())}


@step
def query_order() -> Any:
    return {"descending": titles(ranked().descending("rank").limit(3).find()),
            "two_keys": titles(ranked().ascending("group").add_descending("rank").limit(6).find())}


@step
def query_limit_skip() -> Any:
    return titles(ranked().ascending("rank").skip(2).limit(3).find())


@step
def query_count() -> Any:
    return {"all": ranked().count(), "odd": ranked().equal_to("group", "odd").count()}


@step
def query_first() -> Any:
    first = ranked().descending("rank").first()
    missing = error_code(lambda: ranked().equal_to("rank", 1000).first())
    return {"title": first.get("title"), "missing_code": missing}


@step
def query_include() -> Any:
    todo = ranked().equal_to("rank", 5).include("author").first()
    return {"author_name": todo.get("author").get("name")}


@step
def query_select() -> Any:
    todo = ranked().equal_to("rank", 5).select("title").first()
    return {"title": todo.get("title"), "has_rank": todo.has("rank")}


@step
def query_compound() -> Any:
    low = ranked().less_than("rank", 2)
    high = ranked().greater_than_or_equal_to("rank", 8)
    either = Query.or_(low, high).ascending("rank")
    both = Query.and_(ranked().greater_than("rank", 2), ranked().less_than("rank", 5)).ascending("rank")
    return {"or": titles(either.find()), "and": titles(both.find())}


@step
def query_matches_query() -> Any:
    authors = Query(Author).equal_to("name", "Ada")
    return len(ranked().matches_query("author", authors).find())


@step
def query_more_operators() -> Any:
    return {"not_equal": ranked().not_equal_to("group", "even").count(),
            "does_not_exist": Query(Todo).does_not_exist("rank").equal_to("title", "counter").count(),
            "startswith": titles(Query(Todo).startswith("title", "write").find()),
            "contains_all": titles(Query(Todo).contains_all("labels", ["x", "z"]).find()),
            "size": titles(Query(Todo).size_equal_to("tags", 2).find()),
            "date": titles(Query(Todo).greater_than("due", WHEN - dt.timedelta(days=1)).find())}


@step
def query_geo() -> Any:
    here = GeoPoint(39.91, 116.41)
    return {"near": titles(Query(Todo).near("where", here).find()),
            "within_km": titles(Query(Todo).within_kilometers("where", here, 5).find()),
            "too_far": titles(Query(Todo).within_kilometers("where", GeoPoint(0, 0), 5).find()),
            "box": titles(Query(Todo).within_geo_box("where", GeoPoint(39, 116), GeoPoint(40, 117)).find())}


@step
def query_scan() -> Any:
    """The scan endpoint needs the master key; it pages with a cursor."""
    leancloud.use_master_key(True)
    try:
        return sorted(titles(ranked().scan(batch_size=3)))
    finally:
        leancloud.use_master_key(False)


# -- batch --------------------------------------------------------------------------------------------------
@step
def batch_save_and_destroy() -> Any:
    batch = [Todo(title=f"batch{i}", batch=True) for i in range(5)]
    Object.save_all(batch)
    ids = [o.id for o in batch]
    created = Query(Todo).equal_to("batch", True).count()
    for obj in batch:
        obj.increment("hits")
    Object.save_all(batch)
    hits = sorted(o.get("hits") for o in Query(Todo).equal_to("batch", True).find())
    Object.destroy_all(batch[:3])
    left = sorted(o.id for o in Query(Todo).equal_to("batch", True).find())
    return {"ids": len(set(i for i in ids if i)), "created": created, "hits": hits,
            "left_are_last_two": left == sorted(ids[3:])}


# -- relations ----------------------------------------------------------------------------------------------
@step
def relations() -> Any:
    tags = [Tag(name=n) for n in ("red", "green", "blue")]
    Object.save_all(tags)
    todo = Todo(title="tagged")
    todo.save()
    relation = todo.relation("labelled")
    relation.add(*tags)
    todo.save()
    saved["tagged"] = todo
    before = sorted(t.get("name") for t in todo.relation("labelled").query.find())
    relation = todo.relation("labelled")
    relation.remove(tags[1])
    todo.save()
    fetched = Query(Todo).get(todo.id)
    after = sorted(t.get("name") for t in fetched.relation("labelled").query.find())
    reverse = Query(Todo).equal_to("labelled", tags[0]).find()
    return {"before": before, "after": after, "reverse": [o.id == todo.id for o in reverse]}


# -- users --------------------------------------------------------------------------------------------------
@step
def users_sign_up() -> Any:
    user = User()
    user.set("email", "ada@example.com")
    user.set("nickname", "ada")
    user.sign_up("ada", "s3cret!")
    saved["user"] = user
    current = User.get_current()
    return {"id": bool(user.id), "token": bool(user.get_session_token()), "is_current": current.id == user.id,
            "password_dropped": user.get("password") is None,
            "taken_code": error_code(lambda: User().sign_up("ada", "other"))}


@step
def users_current_save() -> Any:
    """The current user's session token travels with the save, so its own ACL lets it write."""
    user = User.get_current()
    user.set("nickname", "countess")
    user.save()
    return Query(User).get(user.id).get("nickname")


@step
def users_logout_and_login() -> Any:
    token = saved["user"].get_session_token()
    User.get_current().logout()
    logged_out = User.get_current() is None
    user = User()
    user.login("ada", "s3cret!")
    wrong = error_code(lambda: User().login("ada", "wrong"))
    saved["token"] = user.get_session_token()
    return {"logged_out": logged_out, "id_same": user.id == saved["user"].id,
            "nickname": user.get("nickname"), "wrong_password_code": wrong,
            "new_token": bool(user.get_session_token()) and user.get_session_token() != token}


@step
def users_become() -> Any:
    User.get_current().logout()
    user = User.become(saved["token"])
    bad = error_code(lambda: User.become("not-a-token"))
    return {"id_same": user.id == saved["user"].id, "username": user.get("username"),
            "is_current": User.get_current().id == user.id, "bad_token_code": bad}


@step
def users_update_password() -> Any:
    user = User.get_current()
    user.update_password("s3cret!", "n3w-secret")
    relogged = User()
    relogged.login("ada", "n3w-secret")
    old = error_code(lambda: User().login("ada", "s3cret!"))
    saved["token"] = relogged.get_session_token()
    return {"id_same": relogged.id == user.id, "old_password_code": old}


@step
def users_refresh_session_token() -> Any:
    user = User.get_current()
    before = user.get_session_token()
    user.refresh_session_token()
    after = user.get_session_token()
    old = error_code(lambda: User.become(before))
    User.become(after)
    return {"changed": bool(after) and after != before, "old_token_code": old}


@step
def users_roles() -> Any:
    user = User.get_current()
    acl = leancloud.ACL()
    acl.set_public_read_access(True)
    acl.set_public_write_access(True)
    role = leancloud.Role("Editors", acl)
    role.get_users().add(user)
    role.save()
    return sorted(r.get("name") for r in user.get_roles())


@step
def users_acl() -> Any:
    """An object only its owner may write: the owner's save works, an anonymous save is refused."""
    owner = User.get_current()
    acl = leancloud.ACL()
    acl.set_public_read_access(True)
    acl.set_write_access(owner.id, True)
    private = Todo(title="private")
    private.set_acl(acl)
    private.save()
    saved["private"] = private.id
    owner.logout()
    stranger = Todo.create_without_data(private.id)
    stranger.set("title", "hijacked")
    code = error_code(stranger.save)
    return {"anonymous_write_code": code, "title": Query(Todo).get(private.id).get("title")}


def ids() -> Dict[str, Any]:
    return {"todo": getattr(saved.get("todo"), "id", None), "counter": getattr(saved.get("counter"), "id", None),
            "tagged": getattr(saved.get("tagged"), "id", None), "user": getattr(saved.get("user"), "id", None),
            "private": saved.get("private")}


if __name__ == "__main__":
    step.main(ids)
