"""Issue 9, items 6 (dotted queries) and 11: protected fields. ``_User``'s email, phone number and
authData are hidden from everyone but the user itself, and can not be queried, sorted on or selected
by anyone else (a ``where`` is an oracle otherwise); other classes protect fields the same way, through
the schema API (Parse's ``protectedFields``) or ``leanorm serve --protected-fields``."""
import json
import random

import pytest

from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)
from tests.security.raw_http import OPEN_RULES
from tests.served import serve

PRIVATE = ("email", "mobilePhoneNumber", "authData")


def _phone() -> str:
    return f"+8613{random.randrange(10 ** 9):09d}"


@pytest.fixture
def victim(api: Api):
    return api.signup(email=f"{unique('v')}@example.com", mobilePhoneNumber=_phone(),
                      authData={"anonymous": {"id": unique("anonymous-victim-")}})


def test_others_do_not_see_email_phone_or_authdata(api, victim):
    other = api.signup()
    for session in (None, other["sessionToken"]):
        rows = api.results("classes/_User", session=session, where={"objectId": victim["objectId"]})
        assert rows and not set(PRIVATE) & set(rows[0]), rows
        got = api.ok("GET", f"users/{victim['objectId']}", session=session)
        assert not set(PRIVATE) & set(got)
        assert not set(PRIVATE) & set(api.results("classes/_User", session=session, keys="email,mobilePhoneNumber",
                                                  where={"objectId": victim["objectId"]})[0])
    own = api.ok("GET", f"users/{victim['objectId']}", session=victim["sessionToken"])
    assert set(PRIVATE) <= set(own)
    assert set(PRIVATE) <= set(api.ok("GET", f"users/{victim['objectId']}", master=True))


@pytest.mark.parametrize("where", [
    {"email": {"$regex": "^v"}}, {"mobilePhoneNumber": {"$exists": True}}, {"email": {"$gt": ""}},
    {"authData.anonymous.id": {"$regex": "^anonymous"}}, {"authData": {"$exists": True}},
    {"$or": [{"username": "x"}, {"email": {"$regex": "@"}}]},
])
def test_protected_fields_can_not_be_queried(api, victim, where):
    other = api.signup()
    for session in (None, other["sessionToken"], victim["sessionToken"]):
        status, answer = api.call("GET", "classes/_User", params={"where": where}, session=session)
        assert refused(status, answer, 102, 119), (where, answer)


def test_protected_fields_can_not_be_sorted_on_or_selected(api, victim):
    status, answer = api.call("GET", "classes/_User", params={"order": "-email"})
    assert refused(status, answer, 119)
    status, answer = api.call("GET", "classes/_User", params={"order": "mobilePhoneNumber"})
    assert refused(status, answer, 119)
    probe = unique("Probe")
    api.master("POST", f"classes/{probe}", {"v": victim["email"]})
    status, answer = api.call("GET", f"classes/{probe}", params={"where": {"v": {"$select": {
        "query": {"className": "_User", "where": {}}, "key": "email"}}}})
    assert refused(status, answer, 119)
    status, answer = api.call("GET", f"classes/{probe}", params={"where": {"v": {"$inQuery": {
        "className": "_User", "where": {"email": victim["email"]}}}}})
    assert refused(status, answer, 119)


def test_cql_on_protected_fields_is_refused(api, victim):
    if api.dialect != "leancloud":
        pytest.skip("CQL is LeanCloud's")
    for cql in ("select * from _User where email like 'v%'", "select * from _User where authData.anonymous.id like 'a%'",
                "select * from _User order by mobilePhoneNumber"):
        status, answer = api.call("GET", "cloudQuery", params={"cql": cql})
        assert refused(status, answer, 102, 119), (cql, answer)
    rows = api.ok("GET", "cloudQuery", params={"cql": "select email, authData from _User"})["results"]
    assert rows and all(not set(PRIVATE) & set(r) for r in rows)


def test_include_of_a_user_hides_its_private_fields(api, victim):
    post = unique("Post")
    api.master("POST", f"classes/{post}", {"by": {"__type": "Pointer", "className": "_User",
                                                   "objectId": victim["objectId"]}})
    rows = api.results(f"classes/{post}", include="by")
    assert rows[0]["by"]["objectId"] == victim["objectId"] and not set(PRIVATE) & set(rows[0]["by"])


def test_protected_fields_through_the_schema_api(api):
    doc = unique("Doc")
    staff = api.signup()
    staff_role = unique("Staff")
    api.master("POST", "roles", {"name": staff_role, "ACL": {"*": {"read": True}}, "users": {
        "__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User", "objectId": staff["objectId"]}]}})
    api.master("POST", f"classes/{doc}", {"title": "t", "salary": 10})
    api.master("PUT", f"schemas/{doc}", {"classLevelPermissions": {**OPEN_RULES, "protectedFields": {
        "*": ["salary"], f"role:{staff_role}": []}}})
    other = api.signup()
    assert "salary" not in api.results(f"classes/{doc}", session=other["sessionToken"])[0]
    status, answer = api.call("GET", f"classes/{doc}", params={"where": {"salary": {"$gt": 5}}},
                              session=other["sessionToken"])
    assert refused(status, answer, 119)
    assert api.results(f"classes/{doc}", session=staff["sessionToken"], where={"salary": {"$gt": 5}})[0][
        "salary"] == 10
    status, answer = api.call("PUT", f"schemas/{doc}", {"classLevelPermissions": {"protectedFields": ["salary"]}},
                              master=True)
    assert refused(status, answer, 107)


def test_protected_fields_from_the_command_line(tmp_path):
    config = json.dumps({"Card": {"*": ["pin"]}, "_User": {"*": ["authData"]}})
    with serve(tmp_path / "app.sqlite3", "--protected-fields", config) as running:
        api = Api(running, "parse")
        api.master("POST", "classes/Card", {"pin": "1234", "name": "n"})
        assert api.results("classes/Card") == [{k: v for k, v in api.results("classes/Card")[0].items()
                                                if k != "pin"}]
        assert "pin" not in api.results("classes/Card")[0]
        status, answer = api.call("GET", "classes/Card", params={"where": {"pin": "1234"}})
        assert refused(status, answer, 119)
        user = api.signup(email="open@example.com")
        assert api.ok("GET", f"users/{user['objectId']}")["email"] == "open@example.com"  # configured public
