"""Users, sessions and error answers of the Parse dialect as Parse Server gives them (issue 19 §18), over
HTTP on ``leanorm serve`` and on Parse Server: ``health``, ``loginAs``, a signup's own ACL, a write to
another user, ``_Session`` with the master key, relation queries naming their class, error codes."""
from __future__ import annotations

import json
import uuid

import requests

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)


def _user(target, **fields) -> dict:
    name = "acct-" + uuid.uuid4().hex[:10]
    answer = target.rest("POST", "users", json={"username": name, "password": "pw-123456", **fields})
    assert answer.status_code == 201, answer.text
    return {**answer.json(), "username": name}


def _code(answer: requests.Response) -> int:
    return answer.json().get("code")


def test_health_answers_without_keys(target):
    answer = requests.get(f"{target.base}/health", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}, answer.text


def test_login_as_opens_a_session_for_the_user_with_the_master_key_only(target):
    user = _user(target)
    refused = target.rest("POST", "loginAs", json={"userId": user["objectId"]})
    assert _code(refused) == 119, refused.text
    answer = target.rest("POST", "loginAs", master=True, json={"userId": user["objectId"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["objectId"] == user["objectId"] and answer.json()["username"] == user["username"]
    token = answer.json()["sessionToken"]
    assert token != user["sessionToken"]
    me = target.rest("GET", "users/me", session=token)
    assert me.json()["objectId"] == user["objectId"]
    assert _code(target.rest("POST", "loginAs", master=True, json={"userId": "nobody"})) == 101
    assert target.rest("POST", "loginAs", master=True, json={}).status_code == 400


def test_a_signup_with_its_own_acl_keeps_the_users_access_to_itself(target):
    user = _user(target, ACL={"*": {"read": True}})
    stored = target.rest("GET", f"users/{user['objectId']}", master=True).json()
    assert stored["ACL"] == {"*": {"read": True}, user["objectId"]: {"read": True, "write": True}}
    changed = target.rest("PUT", f"users/{user['objectId']}", session=user["sessionToken"], json={"nick": "n"})
    assert changed.status_code == 200, changed.text


def test_writing_another_user_is_refused_with_206(target):
    alice, bob = _user(target), _user(target)
    for session in (alice["sessionToken"], None):
        answer = target.rest("PUT", f"users/{bob['objectId']}", session=session, json={"nick": "owned"})
        assert _code(answer) == 206, answer.text
        answer = target.rest("DELETE", f"users/{bob['objectId']}", session=session)
        assert _code(answer) == 206, answer.text
    stored = target.rest("GET", f"users/{bob['objectId']}", master=True).json()
    assert "nick" not in stored
    assert _code(target.rest("PUT", "users/nobody", session=alice["sessionToken"], json={"n": 1})) == 206
    assert _code(target.rest("PUT", "users/nobody", master=True, json={"n": 1})) == 101


def test_sessions_are_listed_with_the_master_key(target):
    user = _user(target)
    where = json.dumps({"user": {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}})
    listed = target.rest("GET", "classes/_Session", master=True, params={"where": where})
    assert listed.status_code == 200, listed.text
    sessions = listed.json()["results"]
    assert [s["sessionToken"] for s in sessions] == [user["sessionToken"]]
    assert sessions[0]["user"]["objectId"] == user["objectId"]
    own = target.rest("GET", "sessions", session=user["sessionToken"])
    assert [s["sessionToken"] for s in own.json()["results"]] == [user["sessionToken"]]
    assert _code(target.rest("GET", "classes/_Session")) == 209  # no session: nothing to list


def test_a_session_is_ended_by_its_owner_and_never_written(target):
    user, other = _user(target), _user(target)
    mine = target.rest("GET", "sessions", session=user["sessionToken"]).json()["results"][0]["objectId"]
    assert target.rest("DELETE", f"sessions/{mine}", session=other["sessionToken"]).status_code == 404
    assert target.rest("DELETE", f"sessions/{mine}", session=user["sessionToken"]).ok
    assert _code(target.rest("GET", "users/me", session=user["sessionToken"])) == 209


def test_sessions_are_not_written_as_objects(served_target):
    """Parse Server lets a user create a session for itself (``createdWith: create``); here sessions come
    from logging in only (docs/embedded.md), and no client-chosen token is ever stored."""
    user = _user(served_target)
    made = served_target.rest("POST", "classes/_Session", session=user["sessionToken"], json={"sessionToken": "x"})
    assert _code(made) == 119, made.text
    assert _code(served_target.rest("GET", "users/me", session="x")) == 209


def test_relation_query_results_name_their_class(target):
    cls, items = "Owner" + uuid.uuid4().hex[:8], "Item" + uuid.uuid4().hex[:8]
    item = target.rest("POST", f"classes/{items}", json={"n": 1}).json()
    pointer = {"__type": "Pointer", "className": items, "objectId": item["objectId"]}
    owner = target.rest("POST", f"classes/{cls}", json={"things": {"__op": "AddRelation", "objects": [pointer]}})
    related = {"$relatedTo": {"object": {"__type": "Pointer", "className": cls,
                                         "objectId": owner.json()["objectId"]}, "key": "things"}}
    answer = target.rest("GET", f"classes/{cls}", params={"redirectClassNameForKey": "things",
                                                          "where": json.dumps(related)})
    assert answer.status_code == 200, answer.text
    assert [(r["objectId"], r["className"]) for r in answer.json()["results"]] == [(item["objectId"], items)]


def test_error_codes_as_parse_answers_them(target):
    cls = "Err" + uuid.uuid4().hex[:8]
    unknown = target.rest("POST", "functions/noSuchFunction", json={})
    assert unknown.json() == {"code": 141, "error": 'Invalid function: "noSuchFunction"'}
    assert target.rest("POST", f"classes/{cls}", json={"n": 1}).ok
    bad_key = target.rest("GET", f"classes/{cls}", params={"where": '{"$foo": 1}'})
    assert bad_key.status_code == 400 and _code(bad_key) == 105, bad_key.text
    for name in ("length", "_password", "_private"):
        answer = target.rest("POST", f"classes/{cls}", json={name: 1})
        assert answer.json() == {"code": 105, "error": f"Invalid field name: {name}."}, answer.text
    ordered = target.rest("GET", f"classes/{cls}", params={"order": "_password"})
    assert ordered.status_code == 400 and _code(ordered) == 105, ordered.text


def test_a_geo_box_with_swapped_corners_is_the_same_box(target):
    cls = "Box" + uuid.uuid4().hex[:8]
    for name, lat, lng in (("in", 37.776346, -122.394218), ("out", 37.325635, -121.945753)):
        point = {"__type": "GeoPoint", "latitude": lat, "longitude": lng}
        assert target.rest("POST", f"classes/{cls}", json={"name": name, "at": point}).ok
    southwest = {"__type": "GeoPoint", "latitude": 37.708813, "longitude": -122.526398}
    northeast = {"__type": "GeoPoint", "latitude": 37.822802, "longitude": -122.373962}
    for box in ([southwest, northeast], [northeast, southwest]):
        where = json.dumps({"at": {"$within": {"$box": box}}})
        found = target.rest("GET", f"classes/{cls}", params={"where": where}).json()["results"]
        assert [r["name"] for r in found] == ["in"]


def _sessions_of(target, user_id: str) -> list:
    where = json.dumps({"user": {"__type": "Pointer", "className": "_User", "objectId": user_id}})
    answer = target.rest("GET", "classes/_Session", master=True, params={"where": where, "order": "createdAt"})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def test_a_session_belongs_to_the_installation_that_opened_it(target):
    """A session records the client's installation (``X-Parse-Installation-Id``) and how it was made
    (``createdWith``: a signup or a login); a new session on an installation ends the user's earlier
    session there, and only there (one session per user and device, as on Parse Server)."""
    phone, laptop = "inst-" + uuid.uuid4().hex[:8], "inst-" + uuid.uuid4().hex[:8]
    name = "acct-" + uuid.uuid4().hex[:10]
    signup = target.rest("POST", "users", json={"username": name, "password": "pw-123456"},
                         headers={"X-Parse-Installation-Id": phone})
    assert signup.status_code == 201, signup.text
    user_id, first = signup.json()["objectId"], signup.json()["sessionToken"]
    [made] = _sessions_of(target, user_id)
    assert made["installationId"] == phone and made["sessionToken"] == first
    assert made["createdWith"] == {"action": "signup", "authProvider": "password"}

    def login(installation: str) -> str:
        answer = target.rest("POST", "login", json={"username": name, "password": "pw-123456"},
                             headers={"X-Parse-Installation-Id": installation})
        assert answer.status_code == 200, answer.text
        return answer.json()["sessionToken"]

    second = login(laptop)
    assert [(s["installationId"], s["sessionToken"]) for s in _sessions_of(target, user_id)] == [
        (phone, first), (laptop, second)]
    assert _sessions_of(target, user_id)[1]["createdWith"] == {"action": "login", "authProvider": "password"}
    third = login(phone)  # the phone's earlier session ends
    assert [(s["installationId"], s["sessionToken"]) for s in _sessions_of(target, user_id)] == [
        (laptop, second), (phone, third)]
    gone = target.rest("GET", "users/me", session=first)
    assert gone.status_code >= 400 and _code(gone) == 209, gone.text


def test_purging_sessions_ends_them(served_target):
    """``DELETE purge/_Session`` (master key) ends every session, as a purge of any class empties it."""
    user = _user(served_target)
    assert _sessions_of(served_target, user["objectId"])
    purged = served_target.rest("DELETE", "purge/_Session", master=True)
    assert purged.status_code == 200, purged.text
    assert _sessions_of(served_target, user["objectId"]) == []
    gone = served_target.rest("GET", "users/me", session=user["sessionToken"])
    assert _code(gone) == 209, gone.text


def test_ordering_by_created_at_under_its_stored_name(target):
    """``order=_created_at`` / ``-_updated_at`` are ``createdAt`` / ``updatedAt`` (Parse.com's names, which
    Parse Server maps); other internal names stay refused (above)."""
    cls = "Ord" + uuid.uuid4().hex[:8]
    for n in range(3):
        assert target.rest("POST", f"classes/{cls}", json={"n": n}).status_code == 201
    for order, date, descending in (("_created_at", "createdAt", False), ("-_created_at", "createdAt", True),
                                    ("_updated_at", "updatedAt", False)):
        answer = target.rest("GET", f"classes/{cls}", params={"order": order})
        assert answer.status_code == 200, answer.text
        dates = [r[date] for r in answer.json()["results"]]
        assert len(dates) == 3 and dates == sorted(dates, reverse=descending), order


def test_a_malformed_query_is_refused_on_a_class_not_made_yet(target, request):
    """A query is checked before anything is looked up: bad ``$regex`` options or an unknown operator
    answer 102 whether the class exists or not (Parse-SDK-JS's suite asks a fresh app, on MongoDB). Parse
    Server on PostgreSQL answers an unknown operator with its adapter's 119 ("Postgres doesn't support
    this query type yet"), still a refusal."""
    cls = "Fresh" + uuid.uuid4().hex[:8]
    on_parse = request.node.callspec.params["target"] == "parse"
    for where, codes in (({"myString": {"$regex": "football", "$options": "some invalid thing"}}, {102}),
                         ({"a": {"$foo": 1}}, {102, 119} if on_parse else {102})):
        answer = target.rest("GET", f"classes/{cls}", params={"where": json.dumps(where)})
        assert answer.status_code == 400 and _code(answer) in codes, answer.text
