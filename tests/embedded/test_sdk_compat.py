"""What the official ``leancloud`` Python SDK sends, and the answers it relies on (issue 10, items 1-12).

Each request is the one the SDK sends (body, parameters and headers as it writes them); each answer is
LeanCloud's, as its SDK reads it, and where the Parse dialect answers otherwise that is checked too.
"""
from __future__ import annotations

import json
from typing import Any, Dict

from .conftest import KEYS, MASTER, Api

PARSE = {"X-Parse-Application-Id": "leanorm-local", "X-Parse-REST-API-Key": "leanorm-local-key"}
PARSE_MASTER = {"X-Parse-Application-Id": "leanorm-local", "X-Parse-Master-Key": "leanorm-local-master"}


def signed_up(api: Api, username: str, **fields: Any) -> Dict[str, Any]:
    status, user = api("POST", "/1.1/users", body={"username": username, "password": "pw", **fields})
    assert status == 201
    return user


def uploaded(api: Api, name: str = "a.txt", data: bytes = b"hello", headers: Any = None,
             **token_fields: Any) -> Dict[str, Any]:
    """A file uploaded as the SDK does: fileTokens, PUT to the upload_url, fileCallback."""
    status, token = api("POST", "/1.1/fileTokens", body={"name": name, **token_fields}, headers=headers)
    assert status == 200, token
    put = api.server.handle("PUT", token["upload_url"].split("127.0.0.1")[-1].split("localhost")[-1], {}, {}, data)
    assert put.status == 200
    assert api("POST", "/1.1/fileCallback", body={"token": token["token"], "result": True})[0] == 200
    return token


# -- 1. file values ----------------------------------------------------------------------------------------
def test_a_file_value_answers_the_whole_file_object(api: Api) -> None:
    token = uploaded(api)
    file_value = {"__type": "File", "id": token["objectId"], "name": "a.txt", "url": token["url"]}
    _, post = api("POST", "/1.1/classes/Doc", body={"title": "t", "attachment": file_value})
    _, listed = api("GET", "/1.1/classes/Doc")
    _, got = api("GET", f"/1.1/classes/Doc/{post['objectId']}")
    for answer in (listed["results"][0], got):
        attachment = answer["attachment"]
        assert attachment["__type"] == "File" and attachment["objectId"] == token["objectId"]
        assert attachment["name"] == "a.txt" and attachment["url"] == token["url"]
        assert attachment["mime_type"] == "text/plain" and attachment["metaData"]["size"] == 5
        assert attachment["createdAt"] and attachment["updatedAt"]


def test_the_parse_dialect_keeps_the_file_reference(api: Api) -> None:
    token = uploaded(api)
    file_value = {"__type": "File", "name": "a.txt", "url": token["url"]}
    api("POST", "/parse/classes/Doc", body={"attachment": file_value}, headers=PARSE)
    _, listed = api("GET", "/parse/classes/Doc", headers=PARSE)
    assert listed["results"][0]["attachment"] == file_value


# -- 2. stale session tokens -------------------------------------------------------------------------------
def test_a_deleted_users_token_does_not_block_master_key_requests_or_logins(api: Api) -> None:
    user = signed_up(api, "gone")
    signed_up(api, "other")
    stale = {"X-LC-Session": user["sessionToken"]}
    assert api("DELETE", f"/1.1/classes/_User/{user['objectId']}", headers={**KEYS, **stale})[0] == 200
    status, listed = api("GET", "/1.1/classes/_User", headers={**MASTER, **stale})
    assert status == 200 and [u["username"] for u in listed["results"]] == ["other"]
    status, login = api("POST", "/1.1/login", body={"username": "other", "password": "pw"}, headers={**KEYS, **stale})
    assert status == 200 and login["username"] == "other"
    status, signup = api("POST", "/1.1/users", body={"username": "new", "password": "pw"}, headers={**KEYS, **stale})
    assert status == 201 and signup["sessionToken"]
    # an app-key request that acts on the stale session is still refused
    assert api("GET", "/1.1/classes/_User", headers={**KEYS, **stale}) == (400, {"code": 209,
                                                                               "error": "Invalid session token."})
    status, parse_listed = api("GET", "/parse/classes/_User",
                               headers={**PARSE_MASTER, "X-Parse-Session-Token": user["sessionToken"]})
    assert status == 200 and len(parse_listed["results"]) == 2


def test_users_me_with_an_unknown_token_answers_211_in_the_leancloud_dialect(api: Api) -> None:
    assert api("GET", "/1.1/users/me", headers={**KEYS, "X-LC-Session": "nope"})[1]["code"] == 211
    assert api("GET", "/1.1/users/me", params={"session_token": "nope"})[1]["code"] == 211
    assert api("GET", "/parse/users/me", headers={**PARSE, "X-Parse-Session-Token": "nope"})[1]["code"] == 209


# -- 3. the server's date ----------------------------------------------------------------------------------
def test_the_date_needs_no_app_keys(api: Api) -> None:
    resp = api.server.handle("GET", "/1.1/date", {}, {"User-Agent": "AVOS Cloud python-3.0.2 SDK"}, None)
    answer = json.loads(resp.body)
    assert resp.status == 200 and answer["__type"] == "Date" and answer["iso"].endswith("Z")


# -- 4. a missing object -----------------------------------------------------------------------------------
def test_a_missing_object_is_an_empty_one_in_the_leancloud_dialect(api: Api) -> None:
    api("POST", "/1.1/classes/Doc", body={"title": "t"})
    assert api("GET", "/1.1/classes/Doc/nosuchid") == (200, {})
    assert api("GET", "/parse/classes/Doc/nosuchid", headers=PARSE)[1]["code"] == 101


# -- 5. a file by URL --------------------------------------------------------------------------------------
def test_a_file_saved_by_url_without_a_name_in_the_path(api: Api) -> None:
    url = "https://example.com/avatar.png"
    status, saved = api("POST", "/1.1/files", body={"name": "avatar.png", "url": url, "ACL": None,
                                                    "mime_type": None, "metaData": {"__source": "external"}})
    assert status == 201 and saved["objectId"] and saved["url"] == url
    _, fetched = api("GET", f"/1.1/files/{saved['objectId']}")
    assert fetched["name"] == "avatar.png" and fetched["url"] == url
    assert fetched["createdAt"] == fetched["updatedAt"] and fetched["metaData"]["__source"] == "external"


# -- 7. following with a null body ------------------------------------------------------------------------
def test_follow_with_a_null_body(api: Api) -> None:
    ann, bob = signed_up(api, "ann"), signed_up(api, "bob")
    status, _ = api("POST", f"/1.1/users/{ann['objectId']}/friendship/{bob['objectId']}", body=None,
                    headers={**KEYS, "X-LC-Session": ann["sessionToken"]})
    raw = api.server.handle("POST", f"/1.1/users/{ann['objectId']}/friendship/{bob['objectId']}", {},
                            {**KEYS, "X-LC-Session": ann["sessionToken"]}, b"null")
    assert (status, raw.status) == (200, 200)
    _, followees = api("GET", f"/1.1/users/{ann['objectId']}/followees",
                       headers={**KEYS, "X-LC-Session": ann["sessionToken"]})
    assert [f["followee"]["objectId"] for f in followees["results"]] == [bob["objectId"]]


# -- 8. CQL pvalues as the SDK encodes them ----------------------------------------------------------------
def test_cql_pvalues_encoded_twice(api: Api) -> None:
    for score in (1, 5, 9):
        api("POST", "/1.1/classes/Doc", body={"score": score})
    cql = "select * from Doc where score > ? order by score"
    twice = json.dumps(json.dumps([2]))  # the SDK json-encodes the array, then its client the string
    status, answer = api("GET", "/1.1/cloudQuery", params={"cql": cql, "pvalues": twice})
    assert status == 200 and [r["score"] for r in answer["results"]] == [5, 9]


# -- 9. scan_key -------------------------------------------------------------------------------------------
def test_scan_orders_by_scan_key_across_pages(api: Api) -> None:
    values = [7, 3, 9, 3, 1, 8, 2]
    for value in values:
        api("POST", "/1.1/classes/Doc", body={"random": value})
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "scan_key": "random", **({"cursor": cursor} if cursor else {})}
        status, page = api("GET", "/1.1/scan/classes/Doc", params=params, headers=MASTER)
        assert status == 200
        seen += [r["random"] for r in page["results"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert seen == sorted(values)


# -- 10. returnACL -----------------------------------------------------------------------------------------
def test_return_acl_answers_the_default_acl_of_an_object_saved_without_one(api: Api) -> None:
    _, doc = api("POST", "/1.1/classes/Doc", body={"title": "t"})
    _, listed = api("GET", "/1.1/classes/Doc", params={"returnACL": "true"})
    _, got = api("GET", f"/1.1/classes/Doc/{doc['objectId']}", params={"returnACL": "true"})
    assert listed["results"][0]["ACL"] == got["ACL"] == {"*": {"read": True, "write": True}}
    assert "ACL" not in api("GET", "/1.1/classes/Doc")[1]["results"][0]


# -- 11. uploads: keys and timestamps ----------------------------------------------------------------------
def test_an_uploaded_file_keeps_created_at_and_has_a_key(api: Api) -> None:
    token = uploaded(api)
    _, stored = api("GET", f"/1.1/files/{token['objectId']}")
    assert stored["createdAt"] == stored["updatedAt"]
    assert stored["key"] and stored["key"] == token["key"]
    assert stored["metaData"]["size"] == 5


def test_a_key_chosen_with_the_master_key_serves_the_file_there(api: Api) -> None:
    token = uploaded(api, key="abc")  # an SDK's own random key: not kept (the file's key is its id)
    assert token["key"] == token["objectId"] and not token["url"].endswith("/abc")
    assert api.server.handle("GET", "/abc", {}, {}, None).status == 404
    status, refused = api("POST", "/1.1/fileTokens", body={"name": "a.txt", "key": "1.1/classes"})
    assert status == 400 and refused["code"] == 1 and refused["error"].startswith("Unsupported file key")
    token = uploaded(api, headers=MASTER, key="abc")
    assert token["key"] == "abc" and token["url"].endswith("/abc")
    download = api.server.handle("GET", "/abc", {}, {}, None)
    assert (download.status, download.body) == (200, b"hello")


# -- 12. changing the phone number with a wrong code -------------------------------------------------------
def test_change_phone_number_with_a_wrong_code_answers_603(api: Api) -> None:
    status, answer = api("POST", "/1.1/changePhoneNumber", body={"mobilePhoneNumber": "+8617180655340",
                                                                 "code": "196784"}, headers=MASTER)
    assert (status, answer["code"]) == (400, 603)

