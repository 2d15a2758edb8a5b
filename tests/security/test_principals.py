"""Issue 9, items 1 and 2: nobody becomes a principal they are not.

A user id is an ACL principal, so a client-chosen id of ``role:Admin`` or ``*`` would be a key to every
object shared with that role; role names are principals too, so renaming a role (or creating a second
``Admin`` under another spelling of the class) would hand out its rights.
"""
from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)
from tests.served import serve

ADMIN_ONLY = {"role:Admin": {"read": True, "write": True}}


def _admin_secret(api: Api) -> str:
    """A class holding one object only role Admin may read; returns the class name."""
    name = unique("Vault")
    api.master("POST", f"classes/{name}", {"secret": "s3", "ACL": ADMIN_ONLY})
    return name


def _admin_role(api: Api) -> dict:
    status, rows = api.call("GET", "classes/_Role", params={"where": {"name": "Admin"}}, master=True)
    if rows["results"]:
        return rows["results"][0]
    return api.master("POST", "roles", {"name": "Admin", "ACL": {"*": {"read": True}}})


def test_a_user_id_can_not_be_a_principal(api):
    vault = _admin_secret(api)
    for forged in ("role:Admin", "*", "role:Admin/x", "a" * 65, ""):
        status, answer = api.call("POST", "users", {"username": unique("evil"), "password": "pw", "objectId": forged})
        assert refused(status, answer, 104, 105), (forged, status, answer)
    # nothing was created, and no session reads the vault
    assert api.master("GET", "classes/_User", params={"where": {"objectId": {"$in": ["role:Admin", "*"]}}})[
        "results"] == []
    evil = api.signup()
    assert api.results(f"classes/{vault}", session=evil["sessionToken"]) == []


def test_client_object_ids_are_refused_by_default(api):
    name = unique("Chosen")
    status, answer = api.call("POST", f"classes/{name}", {"objectId": "abc123", "v": 1})
    assert refused(status, answer, 105)
    assert api.master("GET", f"classes/{name}")["results"] == []
    assert api.master("POST", f"classes/{name}", {"objectId": "abc123", "v": 1})["objectId"] == "abc123"


def test_allow_custom_object_id_still_refuses_principals(tmp_path):
    with serve(tmp_path / "app.sqlite3", "--allow-custom-object-id") as running:
        for dialect in ("leancloud", "parse"):
            api = Api(running, dialect)
            name = unique("Chosen")
            assert api.ok("POST", f"classes/{name}", {"objectId": f"ok{dialect}1", "v": 1})["objectId"] == \
                f"ok{dialect}1"
            for forged in ("role:Admin", "*", "a/b", "x y"):
                status, answer = api.call("POST", "users", {"username": unique("e"), "password": "pw",
                                                            "objectId": forged})
                assert refused(status, answer, 104), (forged, answer)


def test_a_role_can_not_be_renamed(api):
    admin = _admin_role(api)
    vault = _admin_secret(api)
    evil = api.signup()
    mine = api.ok("POST", "roles", {"name": unique("Mine"), "ACL": {evil["objectId"]: {"read": True, "write": True}}},
                  session=evil["sessionToken"])
    status, answer = api.call("PUT", f"roles/{mine['objectId']}", {"name": "Admin"}, session=evil["sessionToken"])
    assert refused(status, answer, 139)
    status, answer = api.call("PUT", f"classes/_Role/{mine['objectId']}", {"name": "Admin"}, master=True)
    assert refused(status, answer, 139)  # immutable, master key included
    api.ok("PUT", f"roles/{mine['objectId']}", {"users": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "_User", "objectId": evil["objectId"]}]}}, session=evil["sessionToken"])
    assert api.results(f"classes/{vault}", session=evil["sessionToken"]) == []
    assert [r["name"] for r in api.master("GET", "roles", params={"where": {"name": "Admin"}})["results"]] == \
        ["Admin"]
    assert admin["objectId"]


def test_a_second_role_of_the_same_name_is_refused_on_every_path(api):
    _admin_role(api)
    evil = api.signup()
    token = evil["sessionToken"]
    mine = {"ACL": {evil["objectId"]: {"read": True, "write": True}},
            "users": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User",
                                                          "objectId": evil["objectId"]}]}}
    attempts = [("POST", "classes/_Role", {"name": "Admin", **mine}),
                ("POST", "classes/_role", {"name": "Admin", **mine}),
                ("POST", "roles", {"name": "Admin", **mine}),
                ("POST", "classes/_Role", {"name": "role:Admin", **mine}),
                ("POST", "classes/_Role", {**mine})]
    for method, path, body in attempts:
        status, answer = api.call(method, path, body, session=token)
        assert refused(status, answer, 103, 137, 139), (path, body.get("name"), status, answer)
    status, answer = api.call("POST", "batch", {"requests": [
        {"method": "POST", "path": f"/{'1.1' if api.dialect == 'leancloud' else 'parse'}/classes/_Role",
         "body": {"name": "Admin", **mine}}]}, session=token)
    assert "error" in answer[0]
    admins = api.master("GET", "classes/_Role", params={"where": {"name": {"$regex": "^admin$", "$options": "i"}}})["results"]
    assert [r["name"] for r in admins] == ["Admin"]
