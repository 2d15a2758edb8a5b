"""Issue 9, item 6: third-party login goes through a verifier. A bare ``openid`` is public knowledge, so
the server asks the platform (here a fake OAuth user-info endpoint, a tiny HTTP server in the test)
whether the access token belongs to that id; a platform with no verifier is refused (252, as Parse)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.security.authz_client import DIALECTS, Api, refused, unique
from tests.served import serve

#: access token -> the openid it belongs to, as the platform knows them
TOKENS = {"victim-token": "victim-openid", "attacker-token": "attacker-openid",
          "leancloud-token": "leancloud-openid", "parse-token": "parse-openid"}


class _UserInfo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        known = TOKENS.get(token)
        body = json.dumps({"openid": known} if known else {"error": "invalid token"}).encode()
        self.send_response(200 if known else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def oauth():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _UserInfo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/userinfo"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(oauth, tmp_path_factory):
    with serve(tmp_path_factory.mktemp("authdata") / "app.sqlite3", "--auth-provider", f"weixin={oauth}#openid") as s:
        yield s


@pytest.fixture(params=DIALECTS)
def api(server, request):
    return Api(server, request.param)


def _weixin(openid, token):
    return {"authData": {"weixin": {"openid": openid, "access_token": token}}}


@pytest.fixture(scope="module")
def victim(server):
    api = Api(server, "leancloud")
    status, answer = api.call("POST", "users", _weixin("victim-openid", "victim-token"))
    assert status in (200, 201), answer
    return answer


def _stored_token(api, victim):
    return api.ok("GET", f"users/{victim['objectId']}", master=True)["authData"]["weixin"]["access_token"]


def test_a_platform_without_verifier_is_refused(api):
    status, answer = api.call("POST", "users", {"authData": {"qq": {"openid": unique("q"), "access_token": "t"}}})
    assert refused(status, answer, 252)


def test_a_bare_id_does_not_log_in(api, victim):
    for token in ("bogus", "attacker-token", None):
        data = {"openid": "victim-openid", **({"access_token": token} if token else {})}
        status, answer = api.call("POST", "users", {"authData": {"weixin": data}})
        assert refused(status, answer, 101), (token, answer)
        assert "sessionToken" not in answer
    assert _stored_token(api, victim) == "victim-token"  # not overwritten


def test_the_owner_logs_in(api, victim):
    again = api.ok("POST", "users", _weixin("victim-openid", "victim-token"))
    assert again["objectId"] == victim["objectId"] and again["sessionToken"]


def test_linking_needs_the_same_proof(api, victim):
    attacker = api.signup()
    status, answer = api.call("PUT", f"users/{attacker['objectId']}", _weixin("stranger-openid", "bogus"),
                              session=attacker["sessionToken"])
    assert refused(status, answer, 101)
    assert "authData" not in api.ok("GET", f"users/{attacker['objectId']}", master=True)
    api.ok("PUT", f"users/{attacker['objectId']}", _weixin(f"{api.dialect}-openid", f"{api.dialect}-token"),
           session=attacker["sessionToken"])  # its own account, proven


def test_tokens_can_not_be_read_out_by_queries(api, victim):
    for where in ({"authData.weixin.access_token": {"$regex": "^v"}}, {"authData.weixin.openid": "victim-openid"}):
        status, answer = api.call("GET", "classes/_User", params={"where": where})
        assert refused(status, answer, 102, 119)
    if api.dialect == "leancloud":
        status, answer = api.call("GET", "cloudQuery", params={
            "cql": "select * from _User where authData.weixin.access_token like 'v%'"})
        assert refused(status, answer, 102, 119)
    assert "victim-token" not in json.dumps(api.results("classes/_User"))
