"""Issue 19, item 12a: the table of every REST endpoint the official LeanCloud SDKs call
(docs/embedded.md, "Every endpoint the official SDKs call") stays true. Each row that answers is sent to a
real ``leanorm serve`` as an SDK sends it and must answer its own keys (or its own error: that the
handler ran, not the router's 404); each deliberately absent row must answer 404 ``Unknown endpoint``,
(or 405 where the path serves other methods), so serving one means moving its row. New small endpoints get their own behaviour checks below."""
import json
import re
import uuid
from pathlib import Path

import pytest

from tests.security.raw_http import Raw
from tests.served import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedded.md"
ROW = re.compile(r"\| `(GET|POST|PUT|DELETE)` \| `([^`]+)`(?:, `[^`]+`)* \| [^|]* \| (.+) \|\Z")

#: how each served row is asked, keyed by the table's method and path: (who asks, body, query
#: parameters, what it answers: the keys of a JSON object, ``list``, or the error code the endpoint's own
#: handler gives an incomplete request). Who: ``app``, ``master``, ``user`` (a logged-in user),
#: ``fresh`` (a user of its own, for requests that spend the session). ``{...}`` are filled from the setup.
ASKED = {
    "GET classes/<class>": ("app", None, {}, {"results"}),
    "POST classes/<class>": ("app", {"a": 1}, {}, {"objectId", "createdAt"}),
    "GET classes/<class>/<id>": ("app", None, {}, {"objectId", "a", "createdAt"}),
    "PUT classes/<class>/<id>": ("app", {"a": 2}, {}, {"updatedAt"}),
    "DELETE classes/<class>/<id>": ("app", None, {}, set()),
    "POST batch": ("app", {"requests": [{"method": "GET", "path": "/1.1/classes/Probe/{objectId}"}]}, {}, "list"),
    "POST batch/save": ("app", {"requests": [{"method": "POST", "path": "/1.1/classes/Probe", "new": True,
                                              "body": {"__internalId": "c1", "a": 3}}]}, {}, {"c1"}),
    "GET cloudQuery": ("app", None, {"cql": "select * from Probe"}, {"results", "className"}),
    "GET scan/classes/<class>": ("master", None, {}, {"results"}),
    "GET users": ("app", None, {}, {"results"}),
    "POST users": ("app", {"username": "{unique}", "password": "pw"}, {}, {"objectId", "sessionToken"}),
    "GET users/<id>": ("app", None, {}, {"objectId", "username"}),
    "PUT users/<id>": ("user", {"nickname": "n"}, {}, {"updatedAt"}),
    "POST login": ("app", {"username": "{username}", "password": "pw"}, {}, {"objectId", "sessionToken"}),
    "GET users/me": ("user", None, {}, {"objectId", "sessionToken"}),
    "PUT users/<id>/refreshSessionToken": ("fresh", None, {}, {"objectId", "sessionToken"}),
    "PUT users/<id>/updatePassword": ("fresh", {"old_password": "pw", "new_password": "pw2"}, {},
                                      {"objectId", "sessionToken"}),
    "PUT classes/_User/<id>/refreshSessionToken": ("fresh", None, {}, {"objectId", "sessionToken"}),
    "PUT classes/_User/<id>/updatePassword": ("fresh", {"old_password": "pw", "new_password": "pw2"}, {},
                                              {"objectId", "sessionToken"}),
    "POST usersByMobilePhone": ("app", {}, {}, 212),
    "POST requestPasswordReset": ("app", {"email": "{email}"}, {}, set()),
    "POST requestEmailVerify": ("app", {"email": "{email}"}, {}, set()),
    "POST requestMobilePhoneVerify": ("app", {}, {}, 212),
    "POST verifyMobilePhone/<code>": ("app", {}, {}, 603),
    "POST requestLoginSmsCode": ("app", {}, {}, 212),
    "POST requestPasswordResetBySmsCode": ("app", {}, {}, 212),
    "PUT resetPasswordBySmsCode/<code>": ("app", {}, {}, 201),
    "POST requestChangePhoneNumber": ("user", {}, {}, 212),
    "POST changePhoneNumber": ("user", {}, {}, 212),
    "POST requestSmsCode": ("app", {}, {}, 212),
    "POST verifySmsCode/<code>": ("app", {}, {}, 212),
    "GET requestCaptcha": ("app", None, {}, {"captcha_token", "captcha_url"}),
    "POST verifyCaptcha": ("app", {}, {}, 603),
    "POST roles": ("master", {"name": "{unique}", "ACL": {"*": {"read": True}}}, {}, {"objectId", "createdAt"}),
    "GET roles": ("app", None, {}, {"results"}),
    "POST installations": ("app", {"deviceType": "android", "installationId": "{unique}"}, {},
                           {"objectId", "createdAt"}),
    "GET installations": ("master", None, {}, {"results"}),
    "GET installations/<id>": ("app", None, {}, {"objectId", "deviceType"}),
    "PUT installations/<id>": ("app", {"badge": 1}, {}, {"updatedAt"}),
    "POST fileTokens": ("app", {"name": "a.txt"}, {}, {"objectId", "token", "upload_url"}),
    "POST fileCallback": ("app", {"token": "unknown", "result": True}, {}, 1),
    "POST files": ("app", {"name": "b.png", "url": "https://example.com/b.png"}, {}, {"objectId", "url"}),
    "POST files/<name>": ("app", {"url": "https://example.com/c.png"}, {}, {"objectId", "url"}),
    "GET files/<id>": ("app", None, {}, {"objectId", "url"}),
    "DELETE files/<id>": ("master", None, {}, set()),
    "POST functions/<name>": ("app", {}, {}, 141),
    "POST call/<name>": ("app", {}, {}, 141),
    "GET date": ("app", None, {}, {"__type", "iso"}),
    "POST push": ("master", {"data": {"alert": "hi"}}, {}, {"objectId", "createdAt"}),
    "GET tables/Notifications/<id>": ("master", None, {}, {"objectId", "status", "data"}),
    "POST statuses": ("user", "{status}", {}, {"objectId", "createdAt"}),
    "GET statuses": ("user", None, {}, {"results"}),
    "GET statuses/<id>": ("user", None, {}, {"objectId", "inboxType"}),
    "DELETE statuses/<id>": ("user", None, {}, set()),
    "GET subscribe/statuses": ("user", None, {"owner": "{owner}"}, {"results"}),
    "GET subscribe/statuses/count": ("user", None, {"owner": "{owner}"}, {"total", "unread"}),
    "POST subscribe/statuses/resetUnreadCount": ("user", None, {"owner": "{owner}"}, set()),
    "DELETE subscribe/statuses/inbox": ("user", None, {"owner": "{owner}", "messageId": "1"}, set()),
    "POST users/<id>/friendship/<id>": ("user", None, {}, set()),
    "DELETE users/<id>/friendship/<id>": ("user", None, {}, set()),
    "POST users/self/friendship/<id>": ("user", None, {}, set()),
    "DELETE users/self/friendship/<id>": ("user", None, {}, set()),
    "GET users/<id>/followers": ("app", None, {}, {"results"}),
    "GET users/<id>/followees": ("app", None, {}, {"results"}),
    "GET users/<id>/followersAndFollowees": ("app", None, {}, {"followers", "followees"}),
    "POST leaderboard/leaderboards": ("master", {"statisticName": "{unique}"}, {}, {"objectId", "statisticName"}),
    "GET leaderboard/leaderboards/<name>": ("app", None, {}, {"objectId", "statisticName"}),
    "PUT leaderboard/leaderboards/<name>": ("master", {"updateStrategy": "last"}, {}, {"objectId", "updatedAt"}),
    "PUT leaderboard/leaderboards/<name>/incrementVersion": ("master", None, {}, {"objectId", "version"}),
    "GET leaderboard/leaderboards/<name>/archives": ("master", None, {}, {"results"}),
    "GET leaderboard/leaderboards/<name>/ranks": ("app", None, {}, {"results"}),
    "GET leaderboard/leaderboards/user/<name>/ranks": ("app", None, {}, {"results"}),
    "GET leaderboard/leaderboards/user/<name>/ranks/<id>": ("app", None, {}, {"results"}),
    "GET leaderboard/users/<id>/statistics": ("app", None, {}, {"results"}),
    "POST leaderboard/users/<id>/statistics": ("user", [{"statisticName": "{statistic}", "statisticValue": 1}], {},
                                               {"results"}),
    "DELETE leaderboard/users/<id>/statistics": ("user", None, {"statistics": "{statistic}"}, set()),
    "GET leaderboard/users/self/statistics": ("user", None, {}, {"results"}),
    "POST leaderboard/users/self/statistics": ("user", [{"statisticName": "{statistic}", "statisticValue": 2}], {},
                                               {"results"}),
    "GET leaderboard/objects/<id>/statistics": ("app", None, {}, {"results"}),
    "GET leaderboard/entities/<name>/statistics": ("app", None, {}, {"results"}),
    "DELETE leaderboard/leaderboards/<name>": ("master", None, {}, set()),
    "POST LiveQuery/subscribe": ("user", {"id": "{unique}", "query": {"className": "Probe", "where": {"a": 1}}}, {},
                                 {"query_id"}),
    "POST LiveQuery/unsubscribe": ("app", {"id": "{unique}", "query_id": "q"}, {}, set()),
    "POST jobs/<name>": ("master", {}, {}, 141),
}

#: the ids a row's ``<placeholder>`` becomes, in order, by row (rows not named use the ``{class}`` defaults)
PATH_IDS = {
    "classes/<class>/<id>": ["Probe", "{objectId}"],
    "users/<id>/friendship/<id>": ["{userId}", "{otherUserId}"],
    "users/self/friendship/<id>": ["{otherUserId}"],
    "files/<id>": ["{fileId}"],
    "statuses/<id>": ["{statusId}"],
    "installations/<id>": ["{installationId}"],
    "tables/Notifications/<id>": ["{notificationId}"],
    "leaderboard/objects/<id>/statistics": ["{objectId}"],
}
DEFAULTS = {"<class>": "Probe", "<id>": "{userId}", "<code>": "123456", "<name>": "{statistic}"}


def _rows():
    section = DOC.read_text().split("## Every endpoint the official SDKs call", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows.append((match.group(1), match.group(2), match.group(3)))
    return rows


ROWS = _rows()
SERVED = [(m, p) for m, p, here in ROWS if not here.startswith("deliberately absent")]
ABSENT = [(m, p) for m, p, here in ROWS if here.startswith("deliberately absent")]


def test_the_table_and_the_requests_it_is_checked_with_agree():
    assert len(ROWS) > 100
    assert sorted(f"{m} {p}" for m, p in SERVED) == sorted(ASKED)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("sdkendpoints") / "app.sqlite3") as s:
        yield s


@pytest.fixture(scope="module")
def setup(server):
    """The objects the requests name: a user (and another), an object, a file, a status, a push, a
    device, a leaderboard."""
    raw = Raw(server, "leancloud")
    name = f"u{uuid.uuid4().hex[:10]}"
    user = raw.ok("POST", "users", {"username": name, "password": "pw", "email": f"{name}@example.com"})
    other = raw.signup()
    owner = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    status = {"data": {"message": "hi"}, "inboxType": "default",
              "query": {"className": "_Follower", "where": {"user": owner}, "keys": "follower"}}
    statistic = f"s{uuid.uuid4().hex[:8]}"
    raw.ok("POST", "leaderboard/leaderboards", {"statisticName": statistic}, master=True)
    return {
        "user": user, "username": name, "email": f"{name}@example.com", "userId": user["objectId"],
        "otherUserId": other["objectId"], "owner": json.dumps(owner), "statistic": statistic,
        "objectId": raw.ok("POST", "classes/Probe", {"a": 1})["objectId"],
        "fileId": raw.ok("POST", "files", {"name": "a.png", "url": "https://example.com/a.png"})["objectId"],
        "statusId": raw.ok("POST", "statuses", status, session=user["sessionToken"])["objectId"],
        "status": status,
        "notificationId": raw.ok("POST", "push", {"data": {"alert": "x"}}, master=True)["objectId"],
        "installationId": raw.ok("POST", "installations", {"deviceType": "ios",
                                                           "deviceToken": uuid.uuid4().hex})["objectId"],
    }


def _fill(value, ids):
    if isinstance(value, str):
        if value in ("{status}",):
            return ids["status"]
        return value.replace("{unique}", f"x{uuid.uuid4().hex[:12]}").format(**{k: v for k, v in ids.items()
                                                                                 if isinstance(v, str)})
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _path(path, ids):
    given = iter(PATH_IDS.get(path, []))
    filled = re.sub(r"<[a-z]+>", lambda m: next(given, DEFAULTS[m.group(0)]), path)
    return _fill(filled, ids)


@pytest.mark.parametrize("method,path", SERVED, ids=[f"{m} {p}" for m, p in SERVED])
def test_a_served_endpoint_answers_its_own_keys(server, setup, method, path):
    raw = Raw(server, "leancloud")
    who, body, params, expected = ASKED[f"{method} {path}"]
    ids = dict(setup)
    session = setup["user"]["sessionToken"] if who == "user" else None
    if who == "fresh":
        fresh = raw.signup()
        ids["userId"], session = fresh["objectId"], fresh["sessionToken"]
    status, answer = raw.call(method, _path(path, ids), _fill(body, ids), params=_fill(params, ids),
                              master=who == "master", session=session)
    assert not (status == 404 and "Unknown endpoint" in str(answer)) and status != 405, answer
    if expected == "list":
        assert status == 200 and isinstance(answer, list), answer
    elif isinstance(expected, int):
        assert 400 <= status < 500 and answer["code"] == expected, answer
    else:
        assert status < 300 and expected <= set(answer) and (expected or answer == {}), answer


@pytest.mark.parametrize("method,path", ABSENT, ids=[f"{m} {p}" for m, p in ABSENT])
def test_a_deliberately_absent_endpoint_says_it_is_unknown(server, method, path):
    raw = Raw(server, "leancloud")
    url = f"{server.base_url}{path}" if path.startswith("/") else raw.url(re.sub(r"<[a-z]+>", "x1", path))
    resp = raw.http.request(method, url, headers=raw.headers(master=True), json={})
    assert (resp.status_code, resp.json()["code"]) in ((404, 1), (405, 1)), resp.text
    assert re.match(r"Unknown endpoint|Method \w+ is not allowed", resp.json()["error"]), resp.text


def test_batch_save_creates_a_graph_children_first_and_answers_by_internal_id(server):
    raw = Raw(server, "leancloud")
    tag = uuid.uuid4().hex
    answer = raw.ok("POST", "batch/save", {"requests": [
        {"method": "POST", "path": "/1.1/classes/Author", "new": True, "body": {"__internalId": "a1", "tag": tag}},
        {"method": "POST", "path": "/1.1/classes/Book", "new": True,
         "body": {"__internalId": "b1", "title": "t", "__children": [{"className": "Author", "cid": "a1",
                                                                        "key": "author"}]}},
        {"method": "POST", "path": "/1.1/classes/Book", "new": True,
         "body": {"__internalId": "b1", "tags": {"__op": "Add", "objects": ["x"]}}}]})
    assert set(answer) == {"a1", "b1"}
    book = raw.ok("GET", f"classes/Book/{answer['b1']['objectId']}", params={"include": "author"})
    assert (book["author"]["tag"], book["tags"]) == (tag, ["x"])


def test_batch_save_points_a_parent_at_a_new_file_of_the_graph(server):
    """The Swift SDK saves a new external file with its parent: ``POST /1.1/files`` in the same call."""
    raw = Raw(server, "leancloud")
    answer = raw.ok("POST", "batch/save", {"requests": [
        {"method": "POST", "path": "/1.1/files", "body": {"__internalId": "f1", "name": "cover.png",
                                                          "url": "https://example.com/cover.png"}},
        {"method": "POST", "path": "/1.1/classes/Book", "new": True,
         "body": {"__internalId": "b1", "__children": [{"className": "_File", "cid": "f1", "key": "cover"}]}}]})
    book = raw.ok("GET", f"classes/Book/{answer['b1']['objectId']}")
    assert book["cover"]["objectId"] == answer["f1"]["objectId"], book


def test_batch_save_that_fails_undoes_what_it_saved_and_answers_the_error(server):
    raw = Raw(server, "leancloud")
    tag = uuid.uuid4().hex
    status, answer = raw.call("POST", "batch/save", {"requests": [
        {"method": "POST", "path": "/1.1/classes/Author", "body": {"__internalId": "a1", "tag": tag}},
        {"method": "PUT", "path": "/1.1/classes/Author/nosuchobject", "body": {"tag": "x"}}]})
    assert (status, answer["code"]) == (404 if status == 404 else 400, 101), answer
    assert raw.rows("Author", where=json.dumps({"tag": tag})) == []


def test_followers_and_followees_answers_both_lists(server):
    raw = Raw(server, "leancloud")
    ann, bob = raw.signup(), raw.signup()
    raw.ok("POST", f"users/self/friendship/{bob['objectId']}", session=ann["sessionToken"])
    both = raw.ok("GET", f"users/{bob['objectId']}/followersAndFollowees", params={"count": "1"})
    assert [f["follower"]["objectId"] for f in both["followers"]] == [ann["objectId"]]
    assert (both["followees"], both["followers_count"], both["followees_count"]) == ([], 1, 0)


def test_a_user_action_addressed_by_class_is_the_users_one(server):
    raw = Raw(server, "leancloud")
    name = f"u{uuid.uuid4().hex[:10]}"
    user = raw.ok("POST", "users", {"username": name, "password": "pw"})
    raw.ok("PUT", f"classes/_User/{user['objectId']}/updatePassword", {"old_password": "pw", "new_password": "pw3"},
           session=user["sessionToken"])
    assert raw.ok("POST", "login", {"username": name, "password": "pw3"})["objectId"] == user["objectId"]
