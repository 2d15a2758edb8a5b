"""Issue 18, rule "every permission operation enforced on every route" (findings 12, 13, 16, and 18's
"permission operation accepted but never checked").

One table: each class-level permission operation (get, find, count, create, update, delete, addField)
against every route that can perform it — both dialects, batch items, the aliases (``users``, ``roles``,
``installations``), uploads, CQL, relation queries, statuses and follows. Each case prepares what it
needs while the class is open, closes the one operation (``{operation: {}}``: the master key only), and
asserts the attempt is refused (119) and, for writes, that the class's rows are what they were.
"""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from leanorm.cli import build_parser
from leanorm.embedded.serving import ServeOptions
from tests.security.authz_client import outbox_code
from tests.security.raw_http import DIALECTS, OPEN_RULES, Raw, unique
from tests.served import Served, serve, served  # noqa: F401 (fixture)

Answer = Tuple[Optional[int], Any]  # (HTTP status, or None for a batch item; the decoded answer)
State = Dict[str, Any]


# -- the world one case runs in ----------------------------------------------------------------------------
def signup(api: Raw) -> Dict[str, Any]:
    return api.ok("POST", "users", {"username": unique("u"), "password": "pw"})


def pointer(class_name: str, object_id: str) -> Dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def app_class(api: Raw) -> State:
    """A fresh class ``C`` with two public objects, an ``Owner`` relating to the first (``items``) and a
    ``Shelf`` pointing to it; a user."""
    cls = unique("Clp")
    public = {"*": {"read": True, "write": True}}
    first = api.ok("POST", f"classes/{cls}", {"n": 1, "ACL": public}, master=True)["objectId"]
    second = api.ok("POST", f"classes/{cls}", {"n": 2, "ACL": public}, master=True)["objectId"]
    owner_cls, shelf_cls = unique("Owner"), unique("Shelf")
    owner = api.ok("POST", f"classes/{owner_cls}", {"items": {"__op": "AddRelation", "objects": [
        pointer(cls, first)]}}, master=True)["objectId"]
    api.ok("POST", f"classes/{shelf_cls}", {"ref": pointer(cls, first)}, master=True)
    return {"cls": cls, "id": first, "other": second, "owner_cls": owner_cls, "owner": owner,
            "shelf_cls": shelf_cls, "user": signup(api)}


def batch(api: Raw, method: str, path: str, body: Any = None, session: Optional[str] = None) -> Answer:
    """One request as a batch item; its answer as the item's own."""
    item: Dict[str, Any] = {"method": method, "path": api.url(path)[len(api.served.base_url):]}
    if body is not None:
        item["body"] = body
    status, answers = api.call("POST", "batch", {"requests": [item]}, session=session)
    assert status == 200, answers
    only = answers[0]
    return (None, only["error"]) if "error" in only else (None, only["success"])


@dataclasses.dataclass
class Case:
    operation: str
    route: str
    attempt: Callable[[Raw, State], Answer]
    #: the class the operation is closed on (None: the fresh app class of ``app_class``)
    system_class: Optional[str] = None
    prepare: Callable[[Raw], State] = app_class
    dialects: Tuple[str, ...] = DIALECTS

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.route}"


def where_related(state: State) -> Dict[str, Any]:
    return {"$relatedTo": {"object": pointer(state["owner_cls"], state["owner"]), "key": "items"}}


# -- system classes: what each case needs before its class is closed ----------------------------------------
def a_user(api: Raw) -> State:
    user = signup(api)
    return {"cls": "_User", "id": user["objectId"], "user": user}


def an_installation(api: Raw) -> State:
    device = uuid.uuid4().hex
    made = api.ok("POST", "installations", {"installationId": device, "deviceType": "android"})
    return {"cls": "_Installation", "id": made["objectId"], "device": device}


def a_phone(api: Raw) -> State:
    """A code for a number no user has: what an SMS signup sends."""
    number = f"+8613{uuid.uuid4().int % 10 ** 9:09d}"
    api.ok("POST", "requestSmsCode", {"mobilePhoneNumber": number})
    return {"cls": "_User", "number": number, "code": outbox_code(api.served, number, "sms")}


def a_file(api: Raw) -> State:
    user = signup(api)
    made = api.ok("POST", "classes/_File", {"name": "a.txt", "url": "https://example.com/a.txt"},
                  session=user["sessionToken"])
    return {"cls": "_File", "id": made["objectId"], "user": user}


def a_status(api: Raw) -> State:
    user = signup(api)
    made = api.ok("POST", "statuses", {"data": {"message": "hi"}, "query": {"className": "_User",
                  "where": {"objectId": user["objectId"]}}}, session=user["sessionToken"])
    return {"cls": "_Status", "id": made["objectId"], "user": user}


def a_follow(api: Raw) -> State:
    user, other = signup(api), signup(api)
    api.ok("POST", f"users/{user['objectId']}/friendship/{other['objectId']}", session=user["sessionToken"])
    return {"cls": "_Followee", "user": user, "other": other}


def two_users(api: Raw) -> State:
    return {"cls": "_Followee", "user": signup(api), "other": signup(api)}


def session_of(state: State) -> str:
    return state["user"]["sessionToken"]


LC = ("leancloud",)
PARSE = ("parse",)

CASES: List[Case] = [
    # get
    Case("get", "classes", lambda a, s: a.call("GET", f"classes/{s['cls']}/{s['id']}")),
    Case("get", "batch", lambda a, s: batch(a, "GET", f"classes/{s['cls']}/{s['id']}")),
    Case("get", "users", lambda a, s: a.call("GET", f"users/{s['id']}"), "_User", a_user),
    Case("get", "installations", lambda a, s: a.call("GET", f"installations/{s['id']}"), "_Installation",
         an_installation),
    Case("get", "files", lambda a, s: a.call("GET", f"files/{s['id']}"), "_File", a_file, LC),
    Case("get", "statuses", lambda a, s: a.call("GET", f"statuses/{s['id']}"), "_Status", a_status, LC),
    # find
    Case("find", "classes", lambda a, s: a.call("GET", f"classes/{s['cls']}")),
    Case("find", "batch", lambda a, s: batch(a, "GET", f"classes/{s['cls']}")),
    Case("find", "cql", lambda a, s: a.call("GET", "cloudQuery", params={"cql": f"select * from {s['cls']}"}),
         dialects=LC),
    Case("find", "relatedTo", lambda a, s: a.call("GET", f"classes/{s['cls']}",
                                                  params={"where": where_related(s)})),
    Case("find", "relation-redirect", lambda a, s: a.call("GET", f"classes/{s['owner_cls']}",
                                                          params={"redirectClassNameForKey": "items"})),
    Case("find", "inQuery", lambda a, s: a.call("GET", f"classes/{s['shelf_cls']}", params={
        "where": {"ref": {"$inQuery": {"className": s["cls"], "where": {}}}}})),
    Case("find", "users", lambda a, s: a.call("GET", "users"), "_User", a_user),
    Case("find", "statuses", lambda a, s: a.call("GET", "statuses"), "_Status", a_status, LC),
    Case("find", "inbox", lambda a, s: a.call("GET", "subscribe/statuses", params={
        "owner": pointer("_User", s["user"]["objectId"])}, session=session_of(s)), "_Status", a_status, LC),
    Case("find", "followees", lambda a, s: a.call("GET", f"users/{s['user']['objectId']}/followees"),
         "_Followee", a_follow, LC),
    # count
    Case("count", "classes", lambda a, s: a.call("GET", f"classes/{s['cls']}", params={"count": "1", "limit": "0"})),
    Case("count", "batch", lambda a, s: batch(a, "GET", f"classes/{s['cls']}?count=1&limit=0")),
    Case("count", "cql", lambda a, s: a.call("GET", "cloudQuery", params={
        "cql": f"select count(*) from {s['cls']}"}), dialects=LC),
    Case("count", "users", lambda a, s: a.call("GET", "users", params={"count": "1", "limit": "0"}),
         "_User", a_user),
    # create
    Case("create", "classes", lambda a, s: a.call("POST", f"classes/{s['cls']}", {"n": 3})),
    Case("create", "batch", lambda a, s: batch(a, "POST", f"classes/{s['cls']}", {"n": 3})),
    Case("create", "users", lambda a, s: a.call("POST", "users", {"username": unique("u"), "password": "pw"}),
         "_User", a_user),
    Case("create", "batch-users", lambda a, s: batch(a, "POST", "users", {"username": unique("u"),
                                                                          "password": "pw"}), "_User", a_user),
    Case("create", "sms-signup", lambda a, s: a.call("POST", "usersByMobilePhone", {
        "mobilePhoneNumber": s["number"], "smsCode": s["code"]}), "_User", a_phone, LC),
    Case("create", "roles", lambda a, s: a.call("POST", "roles", {"name": unique("r"), "ACL": {}}),
         "_Role", a_user),
    Case("create", "installations", lambda a, s: a.call("POST", "installations", {
        "installationId": uuid.uuid4().hex, "deviceType": "ios"}), "_Installation", an_installation),
    Case("create", "classes-_File", lambda a, s: a.call("POST", "classes/_File", {
        "name": "b.txt", "url": "https://example.com/b.txt"}), "_File", a_file),
    Case("create", "fileTokens", lambda a, s: a.call("POST", "fileTokens", {"name": "b.txt"}), "_File",
         a_file, LC),
    Case("create", "files-base64", lambda a, s: a.call("POST", "files/b.txt", {"base64": "aGk="}), "_File",
         a_file, LC),
    Case("create", "files-url", lambda a, s: a.call("POST", "files", {
        "name": "b.txt", "url": "https://example.com/b.txt"}), "_File", a_file, LC),
    Case("create", "files-upload", lambda a, s: a.call("POST", "files/b.txt", data=b"hi", headers={
        "Content-Type": "text/plain"}), "_File", a_file, PARSE),
    Case("create", "statuses", lambda a, s: a.call("POST", "statuses", {"data": {"message": "x"}, "query": {
        "className": "_User", "where": {"objectId": s["user"]["objectId"]}}}, session=session_of(s)),
         "_Status", a_status, LC),
    Case("create", "follow", lambda a, s: a.call(
        "POST", f"users/{s['user']['objectId']}/friendship/{s['other']['objectId']}", session=session_of(s)),
         "_Followee", two_users, LC),
    # update
    Case("update", "classes", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {"n": 9})),
    Case("update", "batch", lambda a, s: batch(a, "PUT", f"classes/{s['cls']}/{s['id']}", {"n": 9})),
    Case("update", "conditional", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {"n": 9},
                                                      params={"where": {"n": 1}})),
    Case("update", "users", lambda a, s: a.call("PUT", f"users/{s['id']}", {"username": unique("v")},
                                                session=session_of(s)), "_User", a_user),
    Case("update", "installations-again", lambda a, s: a.call("POST", "installations", {
        "installationId": s["device"], "deviceType": "android", "badge": 3}), "_Installation", an_installation),
    Case("update", "installations", lambda a, s: a.call("PUT", f"installations/{s['id']}", {"badge": 3}),
         "_Installation", an_installation),
    Case("update", "classes-_File", lambda a, s: a.call("PUT", f"classes/_File/{s['id']}", {
        "name": "c.txt"}, session=session_of(s)), "_File", a_file),
    # delete
    Case("delete", "classes", lambda a, s: a.call("DELETE", f"classes/{s['cls']}/{s['id']}")),
    Case("delete", "batch", lambda a, s: batch(a, "DELETE", f"classes/{s['cls']}/{s['id']}")),
    Case("delete", "destroyAll", lambda a, s: a.call("DELETE", f"classes/{s['cls']}/{s['id']},{s['other']}"),
         dialects=LC),
    Case("delete", "users", lambda a, s: a.call("DELETE", f"users/{s['id']}", session=session_of(s)),
         "_User", a_user),
    Case("delete", "files", lambda a, s: a.call("DELETE", f"files/{s['id']}", session=session_of(s)),
         "_File", a_file, LC),
    Case("delete", "classes-_File", lambda a, s: a.call("DELETE", f"classes/_File/{s['id']}",
                                                        session=session_of(s)), "_File", a_file),
    Case("delete", "statuses", lambda a, s: a.call("DELETE", f"statuses/{s['id']}", session=session_of(s)),
         "_Status", a_status, LC),
    Case("delete", "unfollow", lambda a, s: a.call(
        "DELETE", f"users/{s['user']['objectId']}/friendship/{s['other']['objectId']}", session=session_of(s)),
         "_Followee", a_follow, LC),
    # addField: a field the class has never had
    Case("addField", "create", lambda a, s: a.call("POST", f"classes/{s['cls']}", {"fresh": 1})),
    Case("addField", "update", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {"fresh": 1})),
    Case("addField", "batch", lambda a, s: batch(a, "POST", f"classes/{s['cls']}", {"fresh": 1})),
    Case("addField", "increment", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {
        "fresh": {"__op": "Increment", "amount": 1}})),
    Case("addField", "batch-op", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {
        "fresh": {"__op": "Batch", "ops": [{"__op": "Increment", "amount": 1}]}})),
    Case("addField", "relation", lambda a, s: a.call("PUT", f"classes/{s['cls']}/{s['id']}", {
        "fresh": {"__op": "AddRelation", "objects": [pointer(s["cls"], s["other"])]}})),
    Case("addField", "users", lambda a, s: a.call("PUT", f"users/{s['id']}", {"nickname": "x"},
                                                  session=session_of(s)), "_User", a_user),
    Case("addField", "signup", lambda a, s: a.call("POST", "users", {"username": unique("u"), "password": "pw",
                                                                     "nickname": "x"}), "_User", a_user),
    Case("addField", "statuses", lambda a, s: a.call("POST", "statuses", {"data": {"mood": "x"}, "query": {
        "className": "_User", "where": {"objectId": s["user"]["objectId"]}}}, session=session_of(s)),
         "_Status", a_status, LC),
]
RUNS = [pytest.param(case, dialect, id=f"{case.id}-{dialect}") for case in CASES for dialect in case.dialects]
WRITES = ("create", "update", "delete", "addField")


def snapshot(api: Raw, class_name: str) -> List[Dict[str, Any]]:
    """Every row of a class as the master key reads it (what a refused write must leave as it was)."""
    return api.rows(class_name, order="objectId")


def set_permissions(api: Raw, class_name: str, rules: Optional[Dict[str, Any]]) -> None:
    """``rules`` over an otherwise open class (a setting closes what it does not name); None: the
    class's default again (no setting)."""
    setting = None if rules is None else {**OPEN_RULES, **rules}
    api.ok("PUT", f"schemas/{class_name}", {"classLevelPermissions": setting}, master=True)


@pytest.mark.parametrize("case, dialect", RUNS)
def test_a_closed_operation_is_refused_on_every_route(served: Served, case: Case, dialect: str) -> None:  # noqa: F811
    api = Raw(served, dialect)
    state = case.prepare(api)
    class_name = case.system_class or state["cls"]
    before = snapshot(api, class_name) if case.operation in WRITES else None
    set_permissions(api, class_name, {case.operation: {}})
    try:
        status, answer = case.attempt(api, state)
    finally:
        set_permissions(api, class_name, None)
    assert isinstance(answer, dict) and answer.get("code") == 119, (status, answer)
    assert status in (None, 403), (status, answer)
    if before is not None:
        assert snapshot(api, class_name) == before


@pytest.mark.parametrize("case, dialect", RUNS)
def test_the_same_routes_work_when_the_operation_is_open_to_the_caller(served: Served, case: Case,  # noqa: F811
                                                                       dialect: str) -> None:
    """The refusals above are the permission's, not the route's: granted to the caller, each succeeds."""
    api = Raw(served, dialect)
    state = case.prepare(api)
    class_name = case.system_class or state["cls"]
    set_permissions(api, class_name, {case.operation: {"*": True}})
    try:
        status, answer = case.attempt(api, state)
    finally:
        set_permissions(api, class_name, None)
    assert status in (None, 200, 201) and "code" not in answer, (status, answer)


# -- finding 12: the backend's own records ------------------------------------------------------------------
BACKEND_WRITTEN = ("_Status", "_Followee", "_Follower", "_Notification")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("class_name", BACKEND_WRITTEN)
def test_backend_records_are_not_written_through_classes(served: Served, class_name: str,  # noqa: F811
                                                         dialect: str) -> None:
    api = Raw(served, dialect)
    user = signup(api)
    row = api.ok("POST", f"classes/{class_name}", {"note": "by the master key", "ACL": {
        "*": {"read": True, "write": True}}}, master=True)["objectId"]
    before = snapshot(api, class_name)
    session = user["sessionToken"]
    attempts = [
        api.call("POST", f"classes/{class_name}", {"user": pointer("_User", user["objectId"])}, session=session),
        api.call("PUT", f"classes/{class_name}/{row}", {"note": "forged"}, session=session),
        api.call("DELETE", f"classes/{class_name}/{row}", session=session),
        batch(api, "POST", f"classes/{class_name}", {"note": "forged"}, session=session),
        batch(api, "PUT", f"classes/{class_name}/{row}", {"note": "forged"}, session=session),
        batch(api, "DELETE", f"classes/{class_name}/{row}", session=session),
    ]
    for status, answer in attempts:
        assert answer.get("code") == 119 and status in (None, 403), (status, answer)
    assert snapshot(api, class_name) == before


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sessions_are_made_by_logging_in_and_ended_by_their_owner(served: Served, dialect: str) -> None:  # noqa: F811
    """``_Session`` rows are the server's sessions: a client opens none for anyone and changes none; it
    ends its own (as on Parse Server), never another user's (which it can not even see)."""
    api = Raw(served, dialect)
    eve, victim = signup(api), signup(api)
    kept = api.ok("POST", "classes/_Session", {"sessionToken": uuid.uuid4().hex,
                                               "user": pointer("_User", victim["objectId"])}, master=True)["objectId"]
    session = eve["sessionToken"]
    opened = api.call("POST", "classes/_Session", {"sessionToken": uuid.uuid4().hex,
                                                   "user": pointer("_User", victim["objectId"])}, session=session)
    changed = api.call("PUT", f"classes/_Session/{kept}", {"expiresAt": None}, session=session)
    ended = api.call("DELETE", f"classes/_Session/{kept}", session=session)
    assert [a[1].get("code") for a in (opened, changed, ended)] == [119, 119, 101], (opened, changed, ended)
    victims = api.ok("GET", "classes/_Session", master=True,
                     params={"where": {"user": pointer("_User", victim["objectId"])}})["results"]
    assert kept in [s["objectId"] for s in victims]
    own = api.ok("GET", "classes/_Session", session=session)["results"]
    assert [s["user"]["objectId"] for s in own] == [eve["objectId"]]
    api.ok("DELETE", f"classes/_Session/{own[0]['objectId']}", session=session)
    assert api.call("GET", "users/me", session=session)[1].get("code") in (209, 211)


def test_a_client_can_not_make_the_victim_follow_it_or_speak_for_it(served: Served) -> None:  # noqa: F811
    api = Raw(served, "leancloud")
    attacker, victim, reader = signup(api), signup(api), signup(api)
    api.ok("POST", f"users/{reader['objectId']}/friendship/{victim['objectId']}", session=reader["sessionToken"])
    forged_follow = api.call("POST", "classes/_Follower", {
        "user": pointer("_User", attacker["objectId"]), "follower": pointer("_User", victim["objectId"])},
        session=attacker["sessionToken"])
    forged_status = api.call("POST", "classes/_Status", {
        "source": pointer("_User", victim["objectId"]), "inboxType": "default", "message": "send me money"},
        session=attacker["sessionToken"])
    assert forged_follow[1].get("code") == 119 and forged_status[1].get("code") == 119
    assert api.ok("GET", f"users/{attacker['objectId']}/followers")["results"] == []
    assert api.ok("GET", "statuses", params={"where": {"source": pointer("_User", victim["objectId"])}})[
        "results"] == []
    # the APIs still write them, for the caller itself
    api.ok("POST", "statuses", {"data": {"message": "mine"}, "query": {"className": "_Follower", "keys": "follower",
           "where": {"user": pointer("_User", victim["objectId"])}}}, session=victim["sessionToken"])
    inbox = api.ok("GET", "subscribe/statuses", params={"owner": pointer("_User", reader["objectId"])},
                   session=reader["sessionToken"])["results"]
    assert [(s["message"], s["source"]["objectId"]) for s in inbox] == [("mine", victim["objectId"])]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_device_is_registered_to_its_own_user_only(served: Served, dialect: str) -> None:  # noqa: F811
    """An installation's ``user`` is whom a push to that user reaches: a device saved with the victim's
    pointer would receive the victim's pushes."""
    api = Raw(served, dialect)
    attacker, victim = signup(api), signup(api)
    as_victim = {"user": pointer("_User", victim["objectId"])}
    device = uuid.uuid4().hex
    attempts = [
        api.call("POST", "installations", {"installationId": device, "deviceType": "ios", **as_victim},
                 session=attacker["sessionToken"]),
        api.call("POST", "installations", {"installationId": device, "deviceType": "ios", **as_victim}),
        batch(api, "POST", "classes/_Installation", {"installationId": device, "deviceType": "ios", **as_victim},
              session=attacker["sessionToken"]),
    ]
    mine = api.ok("POST", "installations", {"installationId": device, "deviceType": "ios",
                                            "user": pointer("_User", attacker["objectId"])},
                  session=attacker["sessionToken"])["objectId"]
    attempts += [
        api.call("PUT", f"installations/{mine}", as_victim, session=attacker["sessionToken"]),
        api.call("PUT", f"classes/_Installation/{mine}", as_victim),
        batch(api, "PUT", f"classes/_Installation/{mine}", as_victim, session=attacker["sessionToken"]),
        api.call("POST", "installations", {"installationId": device, "deviceType": "ios", **as_victim},
                 session=attacker["sessionToken"]),
    ]
    for status, answer in attempts:
        assert answer.get("code") == 119 and status in (None, 403), (status, answer)
    assert api.rows("_Installation", where=as_victim) == []
    api.ok("PUT", f"installations/{mine}", {"user": {"__op": "Delete"}}, session=attacker["sessionToken"])
    api.ok("PUT", f"installations/{mine}", as_victim, master=True)  # the app's server may


# -- what class-level permissions the server takes: enforced, or refused when set ------------------------------
UNENFORCEABLE = {
    "readUserFields": {"readUserFields": ["owner"]},
    "writeUserFields": {"writeUserFields": ["owner"]},
    "pointerFields": {"find": {"pointerFields": ["owner"]}},
    "userField-protected": {"protectedFields": {"userField:owner": ["secret"]}},
    "authenticated-in-operation": {"get": {"authenticated": True}},
    "unknown-operation": {"ACL": {"*": True}},
    "not-a-principal": {"find": {"user:abc": True}},
    "not-a-boolean": {"find": {"*": "yes"}},
    "malformed-protected": {"protectedFields": {"*": "secret"}},
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("setting", sorted(UNENFORCEABLE))
def test_a_permission_the_server_would_not_enforce_is_refused_when_set(served: Served, setting: str,  # noqa: F811
                                                                       dialect: str) -> None:
    api = Raw(served, dialect)
    cls = unique("Settings")
    set_permissions(api, cls, {"find": {"*": True}})
    before = api.ok("GET", f"schemas/{cls}", master=True)["classLevelPermissions"]
    status, answer = api.call("PUT", f"schemas/{cls}", {"classLevelPermissions": UNENFORCEABLE[setting]},
                              master=True)
    assert (status, answer.get("code")) == (400, 107), answer
    assert before["find"] == {"*": True}
    assert api.ok("GET", f"schemas/{cls}", master=True)["classLevelPermissions"] == before  # nothing stored


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_operation_parse_defines_is_accepted(served: Served, dialect: str) -> None:  # noqa: F811
    api = Raw(served, dialect)
    rules = {"get": {"*": True}, "find": {"requiresAuthentication": True}, "count": {"role:Staff": True},
             "create": {"abc123": True}, "update": {}, "delete": {"*": False}, "addField": {},
             "protectedFields": {"*": ["secret"], "authenticated": [], "role:Staff": []}}
    cls = unique("AllOps")
    set_permissions(api, cls, rules)
    assert api.ok("GET", f"schemas/{cls}", master=True)["classLevelPermissions"] == rules


# -- finding 16: class creation ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve --no-client-class-creation`` (its default) over a fresh database."""
    with serve(tmp_path_factory.mktemp("closed") / "app.sqlite3", "--no-client-class-creation") as running:
        yield running


def class_names(api: Raw) -> List[str]:
    answer = api.ok("GET", "schemas", master=True)
    return [s["className"] for s in answer["results"]] if api.dialect == "parse" else list(answer)


def test_leanorm_serve_lets_no_client_create_classes_by_default() -> None:
    assert build_parser().parse_args(["serve"]).client_class_creation is False
    assert ServeOptions().client_class_creation is False
    assert build_parser().parse_args(["serve", "--client-class-creation"]).client_class_creation is True


@pytest.mark.parametrize("dialect", DIALECTS)
def test_clients_create_no_class_without_client_class_creation(closed: Served, dialect: str) -> None:
    api = Raw(closed, dialect)
    user = signup(api)  # system classes are the backend's to create: a first signup makes _User
    fresh = unique("Made")
    attempts = [api.call("POST", f"classes/{fresh}", {"n": 1}),
                api.call("POST", f"classes/{fresh}", {"n": 1}, session=user["sessionToken"]),
                batch(api, "POST", f"classes/{fresh}", {"n": 1}),
                api.call("PUT", f"classes/{fresh}/abc", {"n": 1})]
    for status, answer in attempts[:3]:
        assert answer.get("code") == 119 and status in (None, 403), answer
    assert attempts[3][1].get("code") == 101  # an update of a class that does not exist creates none either
    assert fresh not in class_names(api)
    # the master key creates it (an import, PUT schemas, the operator's migration); clients then use it
    api.ok("PUT", f"schemas/{fresh}", {}, master=True)
    made = api.ok("POST", f"classes/{fresh}", {"n": 1, "more": "fields are not classes"})
    assert api.ok("GET", f"classes/{fresh}/{made['objectId']}")["more"] == "fields are not classes"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_client_adds_at_most_max_fields_to_a_class(served: Served, dialect: str) -> None:  # noqa: F811
    api = Raw(served, dialect)
    wide = unique("Wide")
    too_many = {f"f{i}": i for i in range(1001)}
    status, answer = api.call("POST", f"classes/{wide}", too_many)
    assert (status, answer.get("code")) == (403, 119) and "1000" in answer["error"], answer
    assert wide not in class_names(api)
    made = api.ok("POST", f"classes/{wide}", {f"f{i}": i for i in range(1000)})
    status, answer = api.call("PUT", f"classes/{wide}/{made['objectId']}", {"f1000": 1})
    assert (status, answer.get("code")) == (403, 119), answer
    api.ok("PUT", f"classes/{wide}/{made['objectId']}", {"f0": -1})  # the fields it has stay writable
    api.ok("PUT", f"classes/{wide}/{made['objectId']}", {"f1000": 1}, master=True)


def test_clients_create_classes_only_while_the_server_holds_fewer_than_max_classes(tmp_path: Any) -> None:
    with serve(tmp_path / "app.sqlite3", "--client-class-creation") as running:
        api = Raw(running, "leancloud")
        api.ok("POST", f"classes/{unique('Early')}", {"n": 1})
        running.sql_all([f'CREATE TABLE "c_Filler{i}" (objectId TEXT PRIMARY KEY, createdAt TEXT NOT NULL, '
                         "updatedAt TEXT NOT NULL, acl TEXT, data TEXT NOT NULL)"  # 1,000 classes, as a
                         for i in range(1000)])                                   # client's loop made them
        late = unique("Late")
        status, answer = api.call("POST", f"classes/{late}", {"n": 1})
        assert (status, answer.get("code")) == (403, 119) and "1000" in answer["error"], answer
        assert late not in class_names(api)
        api.ok("POST", f"classes/{late}", {"n": 1}, master=True)
        api.ok("POST", f"classes/{late}", {"n": 2})  # an existing class takes writes as before
