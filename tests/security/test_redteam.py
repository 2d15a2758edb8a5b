"""Attacks found by a red-team pass over ``leanorm serve`` after issue 9's fixes: each is the request an
outsider with the app key (and a session of its own) sends, over HTTP, answered with a refusal that
leaves nothing changed and reveals nothing. Paths where the server acts with the master key on a
client's behalf (statuses, friendship) were the weak spot: the client's input must not ride along."""
import pytest

from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)
from tests.security.raw_http import OPEN_RULES

CLOSED = {"get": {}, "find": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}


def _pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


@pytest.fixture
def leancloud(api: Api) -> Api:
    if api.dialect != "leancloud":
        pytest.skip("the status API is LeanCloud's")
    return api


@pytest.fixture
def vault(api: Api):
    """A class no client may read (``Vault*``, one row holding ``secret``)."""
    name = unique("Vault")
    row = api.master("POST", f"classes/{name}", {"secret": "s3cr3t"})
    api.master("PUT", f"schemas/{name}", {"classLevelPermissions": CLOSED})
    return name, row["objectId"]


def _status_to_self(api: Api, user: dict, data: dict) -> dict:
    """A status the user publishes to its own inbox."""
    return api.ok("POST", "statuses", {"data": data, "inboxType": "default",
                                       "query": {"className": "_User", "where": {"objectId": user["objectId"]}}},
                  session=user["sessionToken"])


def _inbox(api: Api, user: dict, **params) -> tuple:
    owner = _pointer("_User", user["objectId"])
    return api.call("GET", "subscribe/statuses", params={"owner": owner, **params}, session=user["sessionToken"])


# -- the status inbox is read with the caller's rights ------------------------------------------------------
def test_inbox_include_does_not_read_a_closed_class(leancloud, vault):
    """A status's data may point anywhere; reading one's inbox with ``include`` must not fetch the target
    with the master key (it returned the closed row, ``secret`` and all)."""
    name, object_id = vault
    eve = leancloud.signup()
    _status_to_self(leancloud, eve, {"loot": _pointer(name, object_id)})
    status, answer = _inbox(leancloud, eve, include="loot")
    assert status == 200, answer
    [entry] = answer["results"]
    assert entry["loot"] == _pointer(name, object_id)
    assert "s3cr3t" not in str(answer)


def test_inbox_include_hides_the_publishers_private_fields(leancloud):
    """``include=source`` shows the publisher as anyone else sees it: no email, no authData."""
    ann = leancloud.signup(email=f"{unique('ann')}@example.com")
    bob = leancloud.signup()
    leancloud.ok("POST", "statuses", {"data": {"hi": 1}, "inboxType": "default",
                                      "query": {"className": "_User", "where": {"objectId": bob["objectId"]}}},
                 session=ann["sessionToken"])
    status, answer = _inbox(leancloud, bob, include="source")
    assert status == 200, answer
    [entry] = answer["results"]
    assert entry["source"]["objectId"] == ann["objectId"]
    assert "email" not in entry["source"] and ann["email"] not in str(answer)


def test_inbox_where_is_not_an_oracle_on_a_closed_class(leancloud, vault):
    """A ``where`` on one's inbox runs its sub-queries as the caller: into a closed class it is 119, not
    an answer that depends on the closed rows."""
    name, object_id = vault
    eve = leancloud.signup()
    _status_to_self(leancloud, eve, {"guess": object_id})
    where = {"guess": {"$select": {"query": {"className": name, "where": {"secret": "s3cr3t"}}, "key": "objectId"}}}
    status, answer = _inbox(leancloud, eve, where=where)
    assert refused(status, answer, 119), answer


# -- whom a status reaches is chosen with the caller's rights ----------------------------------------------
def test_status_recipients_can_not_be_chosen_by_hidden_fields(leancloud):
    """The recipients' query is a read by the publisher: selecting users by their (hidden) email is 119,
    and nothing is delivered (it was delivered, an oracle on who has which address)."""
    ann = leancloud.signup(email=f"{unique('ann')}@example.com")
    eve = leancloud.signup()
    status, answer = leancloud.call("POST", "statuses", {
        "data": {"x": 1}, "query": {"className": "_User", "where": {"email": ann["email"]}}},
        session=eve["sessionToken"])
    assert refused(status, answer, 119), answer
    assert _inbox(leancloud, ann)[1]["results"] == []


def test_status_recipients_can_not_come_from_a_closed_class(leancloud, vault):
    name, _ = vault
    eve = leancloud.signup()
    status, answer = leancloud.call("POST", "statuses", {
        "data": {"x": 1}, "query": {"className": name, "where": {"secret": "s3cr3t"}}},
        session=eve["sessionToken"])
    assert refused(status, answer, 119), answer


# -- what the backend writes for a client carries no key only the master key may set -------------------------
@pytest.mark.parametrize("field", ["objectId", "createdAt", "updatedAt", "__ignore_hooks"])
def test_status_data_can_not_set_what_only_the_master_key_sets(leancloud, field):
    """A status is stored with the master key; its client-given ``data`` must not choose the id, the
    timestamps, or skip the app's hooks on ``_Status``."""
    eve = leancloud.signup()
    value = {"objectId": unique("chosen"), "createdAt": "2001-01-01T00:00:00.000Z",
             "updatedAt": "2001-01-01T00:00:00.000Z", "__ignore_hooks": ["beforeSave"]}[field]
    before = leancloud.master("GET", "classes/_Status", params={"count": 1, "limit": 0}).get("count", 0)
    status, answer = leancloud.call("POST", "statuses", {
        "data": {field: value}, "query": {"className": "_User", "where": {"objectId": eve["objectId"]}}},
        session=eve["sessionToken"])
    assert refused(status, answer, 105), answer
    assert leancloud.master("GET", "classes/_Status", params={"count": 1, "limit": 0})["count"] == before


@pytest.mark.parametrize("field", ["objectId", "createdAt", "__ignore_hooks"])
def test_follow_attributes_can_not_set_what_only_the_master_key_sets(api, field):
    """Following someone stores ``_Followee``/``_Follower`` rows with the master key and the request's
    other attributes: those must not choose ids or timestamps or skip hooks."""
    if api.dialect != "leancloud":
        pytest.skip("friendship is LeanCloud's")
    eve, ann = api.signup(), api.signup()
    value = {"objectId": unique("chosen"), "createdAt": "2001-01-01T00:00:00.000Z",
             "__ignore_hooks": ["beforeSave"]}[field]
    status, answer = api.call("POST", f"users/{eve['objectId']}/friendship/{ann['objectId']}", {field: value},
                              session=eve["sessionToken"])
    assert refused(status, answer, 105), answer
    followees = api.master("GET", "classes/_Followee",
                           params={"where": {"user": _pointer("_User", eve["objectId"])}})["results"]
    assert followees == []


# -- a file's key (the path it is served at, outside the API) is the master key's to choose -------------------
def _own_file(api: Api, user: dict) -> dict:
    """A file the user uploaded (it may write it: its ACL says so)."""
    import base64
    return api.ok("POST", "files/proof.txt", {"base64": base64.b64encode(b"attacker-bytes").decode(),
                                              "mime_type": "text/plain"}, session=user["sessionToken"])


def test_a_client_can_not_serve_its_file_at_a_path_of_the_server(leancloud):
    """Files migrated with a key of their own are served at ``/<key>``. A client rewriting its own file's
    ``key`` (and ``url`` to match) took any path of the server's origin: ``/.well-known/acme-challenge/...``
    (a TLS certificate for the domain), ``/robots.txt``, app-site associations."""
    import requests
    eve = leancloud.signup()
    own = _own_file(leancloud, eve)
    path = f".well-known/acme-challenge/{unique('tok')}"
    for method, target, body in (("PUT", f"classes/_File/{own['objectId']}", {"key": path, "url": f"http://x/{path}"}),
                                 ("POST", "classes/_File", {"key": path, "url": f"http://x/{path}", "name": "x"}),
                                 ("POST", "batch", {"requests": [{"method": "PUT", "path": f"/1.1/classes/_File/{own['objectId']}",
                                                                  "body": {"key": path, "url": f"http://x/{path}"}}]})):
        status, answer = leancloud.call(method, target, body, session=eve["sessionToken"])
        inner = answer[0].get("error", answer[0]) if isinstance(answer, list) else answer
        assert refused(status if not isinstance(answer, list) else 400, inner, 119), (target, answer)
    assert requests.get(f"{leancloud.served.base_url}/{path}", timeout=30).status_code == 404
    assert leancloud.master("GET", f"classes/_File/{own['objectId']}")["key"] == own["objectId"]


def test_an_upload_token_does_not_take_a_clients_key(leancloud):
    """``fileTokens`` with ``key`` and a ``name`` equal to it: the file's url (``/files/<id>/<name>``)
    ended with the key, so anyone, without logging in, served its bytes at ``/.well-known/...``."""
    import requests
    from urllib.parse import urlsplit
    path = f".well-known/acme-challenge/{unique('tok')}"
    token = leancloud.ok("POST", "fileTokens", {"name": path, "key": path, "mime_type": "text/plain"})
    assert requests.put(leancloud.served.base_url + urlsplit(token["upload_url"]).path, data=b"proof",
                        timeout=30).ok
    assert requests.get(f"{leancloud.served.base_url}/{path}", timeout=30).status_code == 404
    assert requests.get(token["url"], timeout=30).content == b"proof"  # the file itself is served as usual


# -- installations are not a directory of every device ------------------------------------------------------
def test_clients_can_not_list_installations(api):
    """``_Installation`` holds every device's push token and its user: as on Parse Server, clients may
    not find (nor count, nor delete) installations, on any read path; ``get`` by id still works."""
    token = unique("devicetoken")
    owner = api.signup()
    mine = api.ok("POST", "installations", {"deviceType": "ios", "deviceToken": token,
                                            "user": _pointer("_User", owner["objectId"])},
                  session=owner["sessionToken"])  # a device names only its own user
    eve = api.signup()
    for params in ({}, {"count": 1, "limit": 0}, {"where": {"deviceToken": token}}):
        status, answer = api.call("GET", "installations", params=params, session=eve["sessionToken"])
        assert refused(status, answer, 119), (params, answer)
    holder = unique("Holder")
    api.ok("POST", f"classes/{holder}", {"p": _pointer("_Installation", mine["objectId"])})
    status, answer = api.call("GET", f"classes/{holder}", params={
        "where": {"p": {"$inQuery": {"className": "_Installation", "where": {"deviceToken": token}}}}})
    assert refused(status, answer, 119), answer
    status, answer = api.call("DELETE", f"installations/{mine['objectId']}", session=eve["sessionToken"])
    assert refused(status, answer, 119), answer
    assert api.ok("GET", f"installations/{mine['objectId']}")["deviceToken"] == token
    assert api.master("GET", "installations", params={"where": {"deviceToken": token}})["results"]


# -- query cost ---------------------------------------------------------------------------------------------
def test_a_huge_in_list_answers_like_a_short_one(api):
    """``$in`` of 250,001 ids (a 7 MB where, sent as a batch item's params as the JS SDK sends long
    queries). Each value used to be a named SQL parameter, which SQLite looks up in a list while it
    prepares the statement: quadratic time (40,000 values held a thread for 25 s, a few such requests
    stalled the server) and, past SQLite's 250,000 parameters, no answer at all."""
    name = unique("Many")
    row = api.ok("POST", f"classes/{name}", {"tag": "needle"})
    ids = [f"id{i}" for i in range(250_000)] + [row["objectId"]]
    prefix = "/1.1/" if api.dialect == "leancloud" else "/parse/"
    for where in ({"objectId": {"$in": ids}}, {"tag": {"$in": ids[:-1] + ["needle"]}}):
        [answer] = api.ok("POST", "batch", {"requests": [
            {"method": "GET", "path": f"{prefix}classes/{name}", "params": {"where": where}}]})
        assert [r["objectId"] for r in answer["success"]["results"]] == [row["objectId"]], answer


# -- third-party accounts are linked only with proof, on every signup path ----------------------------------
def test_an_sms_signup_can_not_link_someone_elses_third_party_account(api, server):
    """``usersByMobilePhone`` creates a user from the request's other fields: ``authData`` went in
    unverified. With a code for its own number, an attacker pre-linked a victim's (public) openid to an
    account it controls, where the victim's first third-party login would land."""
    import random
    from tests.security.authz_client import outbox_code
    number = f"+8613{random.randrange(10 ** 9):09d}"
    api.ok("POST", "requestSmsCode", {"mobilePhoneNumber": number})
    openid = unique("victim-openid")
    status, answer = api.call("POST", "usersByMobilePhone", {
        "mobilePhoneNumber": number, "smsCode": outbox_code(server, number, "sms"),
        "authData": {"weixin": {"openid": openid, "access_token": "bogus"}}})
    assert refused(status, answer, 252), answer
    linked = api.master("GET", "users", params={"where": {"authData.weixin.openid": openid}})["results"]
    assert linked == []
    assert api.master("GET", "users", params={"where": {"mobilePhoneNumber": number}})["results"] == []


# -- class-level permissions ---------------------------------------------------------------------------------
def test_a_closed_count_is_closed_with_a_page_of_rows_too(api):
    """``count=1`` with a ``limit`` above 0 answered the count of a class whose ``count`` permission is
    closed (only a ``limit=0`` count was checked); Parse Server checks both find and count then."""
    name = unique("NoCount")
    api.master("POST", f"classes/{name}", {"n": 1})
    api.master("PUT", f"schemas/{name}", {"classLevelPermissions": {**OPEN_RULES, "count": {}}})
    assert api.results(f"classes/{name}")  # find stays open
    status, answer = api.call("GET", f"classes/{name}", params={"count": 1, "limit": 1})
    assert refused(status, answer, 119), answer
    if api.dialect == "leancloud":
        status, answer = api.call("GET", "cloudQuery", params={"cql": f"select count(*), * from {name}"})
        assert refused(status, answer, 119), answer


# -- a user's third-party credentials are its own, whatever protectedFields say ----------------------------------
def test_authdata_stays_hidden_when_an_app_protects_only_email(api):
    """Parse Server's usual ``protectedFields`` for ``_User`` is ``{"*": ["email"]}``: an app bringing it
    along replaced the default and showed every user's ``authData`` to everyone; an anonymous user's id
    there is its whole credential (anyone logged in as it)."""
    api.master("PUT", "schemas/_User", {"classLevelPermissions": {**OPEN_RULES, "protectedFields": {"*": ["email"]}}})
    try:
        secret = unique("anon") + "0123456789abcdef"
        victim = api.ok("POST", "users", {"authData": {"anonymous": {"id": secret}}})
        eve = api.signup()
        reads = [api.ok("GET", f"users/{victim['objectId']}", session=eve["sessionToken"]),
                 *api.results("users", session=eve["sessionToken"], where={"objectId": victim["objectId"]}),
                 *api.results("users", where={"objectId": victim["objectId"]}, keys="authData")]
        assert reads and all("authData" not in r for r in reads), reads
        assert secret not in str(reads)
        own = api.ok("GET", f"users/{victim['objectId']}", session=victim["sessionToken"])
        assert own["authData"]["anonymous"]["id"] == secret  # the user itself still sees it
    finally:
        api.master("PUT", "schemas/_User", {"classLevelPermissions": None})  # the default again


def test_include_names_a_bounded_number_of_keys(api):
    """Every ``include`` path walks every row of the page: 100,000 paths (sent in a body, where no URL
    limit applies) held a thread for minutes. More than 100 is error 102; 100 still work."""
    name = unique("Inc")
    target = api.ok("POST", f"classes/{name}", {"n": 1})
    api.ok("POST", f"classes/{name}", {"ref": _pointer(name, target["objectId"])})
    paths = [f"k{i}" for i in range(99)] + ["ref"]
    rows = api.results(f"classes/{name}", include=",".join(paths), keys="ref.n,n")
    assert {r["ref"]["n"] for r in rows if "ref" in r} == {1}
    status, answer = api.call("GET", f"classes/{name}", params={"include": ",".join(paths + ["k100"])})
    assert refused(status, answer, 102), answer


def test_a_polygon_has_a_bounded_number_of_points(api):
    """``$geoWithin.$polygon`` is tested row by row over every vertex: a polygon of a million points (20 MB
    in a batch item) cost minutes per thousand rows. More than budget.MAX_POLYGON_POINTS (a request's
    polygons together) is error 102."""
    name = unique("Geo")
    api.ok("POST", f"classes/{name}", {"at": {"__type": "GeoPoint", "latitude": 0.5, "longitude": 0.5}})
    square = [[0, 0], [0, 1], [1, 1], [1, 0]]
    assert len(api.results(f"classes/{name}", where={"at": {"$geoWithin": {"$polygon": square}}})) == 1
    many = [[0, 0], [0, 1], [1, 1]] + [[1, 1 - i / 20_000] for i in range(1, 10_000)]
    prefix = "/1.1/" if api.dialect == "leancloud" else "/parse/"
    [answer] = api.ok("POST", "batch", {"requests": [{"method": "GET", "path": f"{prefix}classes/{name}",
                                                      "params": {"where": {"at": {"$geoWithin": {"$polygon": many}}}}}]})
    assert answer.get("error", {}).get("code") == 102, answer
