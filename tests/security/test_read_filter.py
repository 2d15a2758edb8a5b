"""Issue 18, finding 1 and the expansions of finding 18: one read filter for every answer. Whatever leaves
the server with an object's data — a write's answer (``fetchWhenSave``/``new``, the values an operation
computed), a batch item, a pointer expanded by ``include``, a File value expanded into its ``_File``
object, the user a login or ``users/me`` answers — shows the caller only what a ``GET`` of that object
would: nothing of an object its ACL or class permissions keep from it, none of the fields
``protectedFields`` hide from it."""
from typing import Any, Dict, Optional

import pytest

from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)
from tests.security.raw_http import OPEN_RULES

META = {"objectId", "createdAt", "updatedAt"}
#: the two spellings of "answer the whole object" a write takes
WHOLE = ({"fetchWhenSave": "true"}, {"new": "true"})


def _prefix(api: Api) -> str:
    return "/1.1/" if api.dialect == "leancloud" else "/parse/"


def _profile(api: Api, acl: Optional[Dict[str, Any]] = None, **permissions: Any) -> str:
    """A class ``Profile*`` hiding ``ssn`` and ``score`` from everyone, with one object; its id."""
    name = unique("Profile")
    body = {"ssn": "123-45-6789", "score": 41, "views": 0, "ACL": acl or {"*": {"read": True, "write": True}}}
    object_id = api.master("POST", f"classes/{name}", body)["objectId"]
    api.master("PUT", f"schemas/{name}", {"classLevelPermissions": {
        **OPEN_RULES, "protectedFields": {"*": ["ssn", "score"]}, **permissions}})
    return f"classes/{name}/{object_id}"


@pytest.mark.parametrize("whole", WHOLE)
def test_a_whole_object_write_answer_hides_protected_fields(api, whole):
    path = _profile(api)
    assert not {"ssn", "score"} & set(api.ok("GET", path))  # what the read shows
    status, answer = api.call("PUT", path, {"views": 1}, params=whole)
    assert status == 200 and answer["views"] == 1, answer
    assert not {"ssn", "score"} & set(answer), answer


def test_a_computed_value_of_a_protected_field_is_not_answered(api):
    """An Increment by 0 answered the stored value of a field the caller may not read."""
    path = _profile(api)
    answer = api.ok("PUT", path, {"score": {"__op": "Increment", "amount": 0}, "views": {"__op": "Increment",
                                                                                        "amount": 1}})
    assert answer["views"] == 1 and "score" not in answer, answer
    assert api.ok("GET", path, master=True)["score"] == 41  # the write itself happened


def test_a_create_answer_hides_protected_fields(api):
    path = _profile(api)
    class_path = path.rsplit("/", 1)[0]
    status, answer = api.call("POST", class_path, {"views": 3, "score": {"__op": "Increment", "amount": 5}},
                              params={"fetchWhenSave": "true"})
    assert status == 201 and answer["views"] == 3 and not {"ssn", "score"} & set(answer), answer


def test_a_write_answer_of_an_object_the_caller_may_not_read_is_its_id_and_dates(api):
    """Write access without read access (an ACL, or a class closing get) shows nothing of the object."""
    for path in (_profile(api, acl={"*": {"write": True}}), _profile(api, get={})):
        status, answer = api.call("GET", path)
        assert status >= 400 or answer == {}, answer  # the read shows nothing
        for params in (*WHOLE, {}):
            status, answer = api.call("PUT", path, {"views": {"__op": "Increment", "amount": 1}}, params=params)
            assert status == 200 and set(answer) <= META, (path, params, answer)


def test_batch_write_items_answer_what_the_read_shows(api):
    path = _profile(api)
    items = [{"method": "PUT", "path": f"{_prefix(api)}{path}?fetchWhenSave=true", "body": {"views": 2}},
             {"method": "PUT", "path": f"{_prefix(api)}{path}", "params": {"new": "true"}, "body": {"views": 3}},
             {"method": "PUT", "path": f"{_prefix(api)}{path}",
              "body": {"score": {"__op": "Increment", "amount": 0}}}]
    answers = api.ok("POST", "batch", {"requests": items})
    assert all("success" in a for a in answers), answers
    assert answers[0]["success"]["views"] == 2
    for a in answers:
        assert not {"ssn", "score"} & set(a["success"]), a


def test_writing_another_user_answers_none_of_its_private_fields(api):
    victim = api.signup(email=f"{unique('v')}@example.com", authData={"anonymous": {"id": unique("anon-victim-")}})
    api.master("PUT", f"users/{victim['objectId']}", {"ACL": {"*": {"read": True, "write": True}}})
    other = api.signup()
    for whole in WHOLE:
        status, answer = api.call("PUT", f"users/{victim['objectId']}", {"nick": "x"}, params=whole,
                                  session=other["sessionToken"])
        assert status == 200 and answer.get("nick") == "x", answer
        assert not {"email", "authData", "mobilePhoneNumber"} & set(answer), answer
    own = api.ok("PUT", f"users/{victim['objectId']}", {"nick": "y"}, params=WHOLE[0],
                 session=victim["sessionToken"])
    assert own["email"] == victim["email"] and "authData" in own  # a user sees all of itself


def test_include_at_depth_hides_protected_fields_and_unreadable_objects(api):
    inner, middle, outer = unique("Inner"), unique("Middle"), unique("Outer")
    hidden = api.master("POST", f"classes/{inner}", {"pin": "0000", "name": "n"})
    private = api.master("POST", f"classes/{inner}", {"pin": "1111", "ACL": {}})
    api.master("PUT", f"schemas/{inner}", {"classLevelPermissions": {**OPEN_RULES, "protectedFields": {"*": ["pin"]}}})

    def ptr(class_name: str, object_id: str) -> Dict[str, str]:
        return {"__type": "Pointer", "className": class_name, "objectId": object_id}

    mid = api.master("POST", f"classes/{middle}", {"to": ptr(inner, hidden["objectId"]),
                                                   "list": [ptr(inner, hidden["objectId"]),
                                                            ptr(inner, private["objectId"])]})
    api.master("POST", f"classes/{outer}", {"m": ptr(middle, mid["objectId"])})
    row = api.results(f"classes/{outer}", include="m.to,m.list")[0]
    assert row["m"]["to"]["name"] == "n" and "pin" not in row["m"]["to"], row
    listed = row["m"]["list"]
    assert "pin" not in listed[0] and listed[0]["name"] == "n", listed
    if api.dialect == "parse":  # unreadable: dropped, as Parse Server drops what its include did not find
        assert len(listed) == 1, listed
    else:  # unreadable: stays a pointer
        assert listed[1] == ptr(inner, private["objectId"]), listed


def _private_file(api: Api, owner: Dict[str, Any]) -> str:
    """An external file only ``owner`` reads (its url is a signed, secret address); its objectId."""
    return api.ok("POST", f"files/{unique('doc')}.pdf", {
        "url": "https://storage.example/secret.pdf?signature=s3cr3t", "mime_type": "application/pdf",
        "ACL": {owner["objectId"]: {"read": True, "write": True}}}, session=owner["sessionToken"])["objectId"]


def test_a_file_value_expands_only_into_a_file_the_caller_may_read(api):
    if api.dialect != "leancloud":
        pytest.skip("only LeanCloud answers a File value with its _File object")
    owner, attacker = api.signup(), api.signup()
    private = _private_file(api, owner)
    public = api.ok("POST", f"files/{unique('pub')}.txt", {"url": "https://storage.example/public.txt"},
                    session=attacker["sessionToken"])["objectId"]
    values = [{"__type": "File", "id": private}, {"__type": "File", "id": public}]
    class_name = unique("Note")
    note = api.ok("POST", f"classes/{class_name}", {"doc": values[0], "docs": values},
                  session=attacker["sessionToken"])
    for answer in (api.ok("GET", f"classes/{class_name}/{note['objectId']}", session=attacker["sessionToken"]),
                   api.results(f"classes/{class_name}", session=attacker["sessionToken"])[0],
                   api.ok("GET", "cloudQuery", params={"cql": f"select * from {class_name}"},
                          session=attacker["sessionToken"])["results"][0]):
        assert "s3cr3t" not in str(answer), answer
        assert answer["doc"] == values[0], answer  # as it was stored
        assert answer["docs"][1]["url"] == "https://storage.example/public.txt", answer  # a readable one expands
    seen_by_owner = api.ok("GET", f"classes/{class_name}/{note['objectId']}", session=owner["sessionToken"])
    assert "s3cr3t" in seen_by_owner["doc"]["url"]


def test_login_and_me_expand_files_with_the_users_own_rights(api):
    if api.dialect != "leancloud":
        pytest.skip("only LeanCloud answers a File value with its _File object")
    owner, attacker = api.signup(), api.signup()
    file_id = _private_file(api, owner)
    api.ok("PUT", f"users/{attacker['objectId']}", {"avatar": {"__type": "File", "id": file_id}},
           session=attacker["sessionToken"])
    answers = [api.ok("GET", "users/me", session=attacker["sessionToken"]),
               api.ok("POST", "login", {"username": attacker["username"], "password": "pw"}),
               api.ok("GET", f"users/{attacker['objectId']}", session=attacker["sessionToken"])]
    for answer in answers:
        assert answer["avatar"] == {"__type": "File", "id": file_id}, answer
    api.ok("PUT", f"users/{owner['objectId']}", {"avatar": {"__type": "File", "id": file_id}},
           session=owner["sessionToken"])
    assert "s3cr3t" in api.ok("GET", "users/me", session=owner["sessionToken"])["avatar"]["url"]  # its own


def test_aggregate_is_the_master_keys(api):
    """Grouping or matching on a field is a read of it: Parse Server keeps aggregate to the master key."""
    path = _profile(api)
    class_name = path.split("/")[1]
    for params in ({"distinct": "ssn"}, {"pipeline": [{"$group": {"_id": "$ssn"}}]},
                   {"pipeline": [{"$match": {"ssn": "123-45-6789"}}]}):
        status, answer = api.call("GET", f"aggregate/{class_name}", params=params)
        assert refused(status, answer), answer
        assert "123-45-6789" not in str(answer)


def test_a_conditional_write_is_no_oracle_on_what_the_caller_may_not_read(api):
    """A write's ``where`` is a read of the object: on one the caller may write but not read it matched
    (200) or not (305) as the hidden values were, one guess at a time."""
    readable, write_only = _profile(api), _profile(api, acl={"*": {"write": True}})
    assert api.call("PUT", readable, {"views": 1}, params={"where": {"views": 0}})[0] == 200
    assert api.call("PUT", readable, {"views": 2}, params={"where": {"views": 0}})[1]["code"] == 305
    for guess in (0, 99):
        status, answer = api.call("PUT", write_only, {"views": 1}, params={"where": {"views": guess}})
        assert (status, answer.get("code")) == (400, 305), (guess, answer)
        status, answer = api.call("DELETE", write_only, params={"where": {"views": guess}})
        assert (status, answer.get("code")) == (400, 305), (guess, answer)
    get_closed = _profile(api, get={})
    status, answer = api.call("PUT", get_closed, {"views": 1}, params={"where": {"views": 0}})
    assert refused(status, answer, 119), answer
    assert api.ok("GET", write_only, master=True)["views"] == 0
