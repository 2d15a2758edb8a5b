"""Issue 19, item 12: LeanCloud's third-party login options over raw HTTP, both dialects, against a real
``leanorm serve``: ``failOnNotExist`` (211 instead of a signup), linking a platform to an anonymous user
(the user is no longer anonymous), and unionid account merging (two apps of one WeChat developer
account log in one user). A unionid is a claim that counts only when the platform proves it: the fake
user-info endpoint here answers each token's openid and unionid, as WeChat's does."""
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.security.authz_client import DIALECTS, Api, refused
from tests.served import serve

#: access token -> (openid, unionid) as the platform knows them; filled by each test
TOKENS = {}


class _UserInfo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        known = TOKENS.get(self.headers.get("Authorization", "").removeprefix("Bearer "))
        body = json.dumps({"openid": known[0], "unionid": known[1]} if known else {"error": "bad token"}).encode()
        self.send_response(200 if known else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _UserInfo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/userinfo#openid"
    try:
        with serve(tmp_path_factory.mktemp("authoptions") / "app.sqlite3",
                   "--auth-provider", f"weixinapp1={url}", "--auth-provider", f"weixinapp2={url}",
                   "--auth-provider", f"weixinapp3={url}") as s:
            yield s
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(params=DIALECTS)
def api(server, request):
    return Api(server, request.param)


def _account(unionid=None):
    """A fresh platform account: its authData (openid, access token) as the platform issued them."""
    openid, token = f"o{uuid.uuid4().hex}", f"t{uuid.uuid4().hex}"
    TOKENS[token] = (openid, unionid)
    return {"openid": openid, "access_token": token}


def _union(data, unionid, main):
    return {**data, "platform": "weixin", "unionid": unionid, "main_account": main}


def test_fail_on_not_exist_refuses_an_unknown_account_and_creates_nobody(api):
    data = _account()
    status, answer = api.call("POST", "users", {"authData": {"weixinapp1": data}},
                              params={"failOnNotExist": "true"})
    assert refused(status, answer, 211) and "Could not find user" in answer["error"], answer
    where = json.dumps({"authData.weixinapp1.openid": data["openid"]})
    assert api.ok("GET", "classes/_User", params={"where": where}, master=True)["results"] == []


def test_fail_on_not_exist_logs_a_known_account_in(api):
    data = _account()
    created = api.ok("POST", "users", {"authData": {"weixinapp1": data}})
    again = api.ok("POST", "users", {"authData": {"weixinapp1": data}}, params={"failOnNotExist": "true"})
    assert again["objectId"] == created["objectId"] and again["sessionToken"]


def test_linking_a_platform_to_an_anonymous_user_makes_it_not_anonymous(api):
    anonymous = api.ok("POST", "users", {"authData": {"anonymous": {"id": uuid.uuid4().hex}}})
    data = _account()
    api.ok("PUT", f"users/{anonymous['objectId']}", {"authData": {"weixinapp1": data}},
           session=anonymous["sessionToken"])
    stored = api.ok("GET", f"users/{anonymous['objectId']}", master=True)["authData"]
    assert set(stored) == {"weixinapp1"} and stored["weixinapp1"]["openid"] == data["openid"]


def test_a_unionid_logs_the_main_account_in_from_another_app(api):
    unionid = f"u{uuid.uuid4().hex}"
    first = api.ok("POST", "users", {"username": f"n{uuid.uuid4().hex[:10]}",
                                     "authData": {"weixinapp1": _union(_account(unionid), unionid, True)}})
    second_app = _union(_account(unionid), unionid, False)
    status, answer = api.call("POST", "users", {"authData": {"weixinapp2": second_app}})
    assert status == 200 and answer["objectId"] == first["objectId"], answer
    stored = api.ok("GET", f"users/{first['objectId']}", master=True)["authData"]
    assert stored["_weixin_unionid"] == {"uid": unionid}
    assert stored["weixinapp2"]["openid"] == second_app["openid"]


def test_a_unionid_without_a_main_account_makes_a_user_of_its_own(api):
    unionid = f"u{uuid.uuid4().hex}"
    first = api.ok("POST", "users", {"authData": {"weixinapp1": _union(_account(unionid), unionid, False)}})
    second = api.ok("POST", "users", {"authData": {"weixinapp2": _union(_account(unionid), unionid, False)}})
    assert second["objectId"] != first["objectId"]


def test_an_unproven_unionid_logs_nobody_in(api):
    unionid = f"u{uuid.uuid4().hex}"
    victim = api.ok("POST", "users", {"authData": {"weixinapp1": _union(_account(unionid), unionid, True)}})
    # the attacker's own, genuine account, claiming the victim's unionid
    status, answer = api.call("POST", "users", {"authData": {"weixinapp2": _union(_account("other"), unionid, False)}})
    assert refused(status, answer, 101) and answer.get("objectId") != victim["objectId"], answer
    # a platform whose verifier cannot prove a unionid (anonymous) may not name one
    status, answer = api.call("POST", "users", {"authData": {"anonymous": {
        "id": uuid.uuid4().hex, "platform": "weixin", "unionid": unionid, "main_account": False}}})
    assert refused(status, answer, 252), answer


def test_linking_a_main_account_records_its_unionid_for_the_other_apps(api):
    unionid = f"u{uuid.uuid4().hex}"
    user = api.ok("POST", "users", {"authData": {"weixinapp1": _account()}})
    api.ok("PUT", f"users/{user['objectId']}", {"authData": {"weixinapp2": _union(_account(unionid), unionid, True)}},
           session=user["sessionToken"])
    third_app = _union(_account(unionid), unionid, False)
    status, answer = api.call("POST", "users", {"authData": {"weixinapp3": third_app}})
    assert status == 200 and answer["objectId"] == user["objectId"], answer
