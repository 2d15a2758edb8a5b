"""A second red-team pass (fresh eyes, 2026-12-06): attacks on ``leanorm serve`` over HTTP in both dialects,
on the migration tools fed by a hostile server, and on the ORM client answered by one. Each test is the
request (or answer) the attacker sends, and checks what a user relies on: nothing written where it should
not be, no credential sent where it should not go, a refusal in the protocol's shape rather than a 500."""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)

BEYOND_64_BITS = "99999999999999999999999"


@pytest.fixture
def leancloud(api: Api) -> Api:
    if api.dialect != "leancloud":
        pytest.skip("a LeanCloud-only endpoint")
    return api


# -- numbers beyond 64 bits are refused where they are read, never handed to SQLite --------------------------
@pytest.mark.parametrize("param", ["sinceId", "maxId"])
def test_an_inbox_message_id_beyond_64_bits_is_refused(leancloud, param):
    """``sinceId``/``maxId``/``messageId`` went to SQLite as they came: past 64 bits its binding failed
    and the inbox answered 500."""
    eve = leancloud.signup()
    owner = {"__type": "Pointer", "className": "_User", "objectId": eve["objectId"]}
    status, answer = leancloud.call("GET", "subscribe/statuses", params={"owner": owner, param: BEYOND_64_BITS},
                                    session=eve["sessionToken"])
    assert refused(status, answer, 102), (status, answer)
    status, answer = leancloud.call("DELETE", "subscribe/statuses/inbox",
                                    params={"owner": owner, "messageId": BEYOND_64_BITS}, session=eve["sessionToken"])
    assert refused(status, answer, 102), (status, answer)


def test_a_cql_skip_beyond_64_bits_is_refused(leancloud):
    """``limit <skip>, <count>`` in CQL reached SQL's OFFSET unchecked: 500 past 64 bits."""
    name = unique("Cql")
    leancloud.ok("POST", f"classes/{name}", {"n": 1})
    status, answer = leancloud.call("GET", "cloudQuery", params={"cql": f"select * from {name} limit {BEYOND_64_BITS},1"})
    assert refused(status, answer, 102), (status, answer)
    assert leancloud.ok("GET", "cloudQuery", params={"cql": f"select * from {name} limit 0,1"})["results"]


# -- a CQL placeholder is a value, never an operator ----------------------------------------------------------
def test_a_cql_placeholder_can_not_smuggle_an_operator(leancloud):
    """``where owner = ?`` with the pvalue ``{"$ne": "nobody"}`` became ``{"owner": {"$ne": "nobody"}}``:
    a cloud function passing its caller's parameter as a pvalue (``Model.objects.cql(..., value)``) under
    the master key answered every row. A placeholder takes a value; an object needs its ``__type``."""
    name = unique("Owned")
    leancloud.ok("POST", f"classes/{name}", {"owner": "ann", "body": "ann's"})
    leancloud.ok("POST", f"classes/{name}", {"owner": "bob", "body": "bob's"})
    for cql in (f"select * from {name} where owner = ?", f"select * from {name} where owner != ?",
                f"select * from {name} where owner in (?)"):
        status, answer = leancloud.call("GET", "cloudQuery", params={"cql": cql, "pvalues": [{"$ne": "nobody"}]},
                                        master=True)
        assert refused(status, answer, 102, 300), (cql, status, answer)
    rows = leancloud.ok("GET", "cloudQuery", params={"cql": f"select * from {name} where owner = ?",
                                                       "pvalues": ["ann"]}, master=True)["results"]
    assert [r["body"] for r in rows] == ["ann's"]


# -- the login throttle counts an account's failures, however the login names it ------------------------------
def test_wrong_passwords_by_username_lock_the_email_login_too(api):
    """Failures were counted per login string: after 5 wrong passwords by username (locked, 219) the
    same account took 5 more guesses by e-mail and 5 by phone number."""
    email = f"{unique('victim')}@example.com"
    victim = api.signup(email=email)
    for attempt in range(5):
        status, answer = api.call("POST", "login", {"username": victim["username"], "password": f"guess{attempt}"})
        assert refused(status, answer, 210, 101), answer
    status, answer = api.call("POST", "login", {"email": email, "password": "guess-by-email"})
    assert refused(status, answer, 219), answer
    status, answer = api.call("POST", "login", {"email": email, "password": "pw"})
    assert refused(status, answer, 219), answer


def test_parallel_wrong_passwords_get_no_more_guesses_than_the_limit(api):
    """The throttle was read in one transaction and a failure written in another, after the password
    hash was checked: 40 guesses sent at once were all checked past the count (8 of them where 5 are
    allowed on a 2-worker server, more with more workers)."""
    victim = api.signup()

    def guess(n: int) -> int:
        status, answer = Api(api.served, api.dialect).call("POST", "login", {"username": victim["username"],
                                                                              "password": f"guess{n}"})
        return answer.get("code", status)

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(guess, range(40)))
    checked = [c for c in codes if c in (210, 101)]
    assert len(checked) <= 5, codes
    assert set(codes) <= {210, 101, 219}, codes


# -- hostile servers ------------------------------------------------------------------------------------------
Handler = Callable[[BaseHTTPRequestHandler], Tuple[int, Dict[str, str], bytes]]


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Tuple[str, List[Dict[str, Any]]]]]:
    """Start an HTTP server on 127.0.0.1 answering with ``handler``; returns its base URL and the list
    of requests it saw (``path`` and ``headers``)."""
    servers: List[ThreadingHTTPServer] = []

    def start(handler: Handler) -> Tuple[str, List[Dict[str, Any]]]:
        seen: List[Dict[str, Any]] = []

        class Answer(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                seen.append({"path": self.path, "headers": dict(self.headers)})
                status, headers, body = handler(self)
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        http = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        servers.append(http)
        return f"http://127.0.0.1:{http.server_address[1]}", seen

    yield start
    for http in servers:
        http.shutdown()
        http.server_close()


def _json(value: Any) -> Tuple[int, Dict[str, str], bytes]:
    return 200, {}, json.dumps(value).encode()


@pytest.mark.parametrize("field", ["objectId", "class", "relation"])
def test_an_export_writes_nothing_outside_its_folder(hostile, tmp_path, field):
    """``leanorm export`` made paths from the source's answers: a ``_File`` objectId, a class name or a
    Relation field named ``../../x`` wrote that file outside the export folder (anywhere the operator
    may write: ``~/.bashrc``). Such a class or field name is refused and reported, a file is kept under a
    name of the export's own; the rest of the export goes on."""
    import leanorm
    from leanorm.transfer.exporter import export_backend

    escape = "../../escaped"
    base_holder: List[str] = []

    def answer(request: BaseHTTPRequestHandler) -> Tuple[int, Dict[str, str], bytes]:
        path = request.path.split("?")[0]
        if path == "/bytes":
            return 200, {"Content-Type": "text/plain"}, b"planted by the source"
        if path == "/1.1/schemas":
            classes = [{"className": "_File", "fields": {}}, {"className": "Post", "fields": {}}]
            if field == "class":
                classes.append({"className": escape, "fields": {}})
            return _json({"results": classes})
        if "objectId" in request.path and "%24gt" in request.path:  # the next page after the first
            return _json({"results": []})
        if path == "/1.1/classes/_File":
            object_id = escape if field == "objectId" else "f1"
            return _json({"results": [{"objectId": object_id, "name": "a.txt", "url": f"{base_holder[0]}/bytes",
                                       "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2020-01-01T00:00:00.000Z"}]})
        if path == "/1.1/classes/Post":
            row: Dict[str, Any] = {"objectId": "p1", "createdAt": "2020-01-01T00:00:00.000Z",
                                   "updatedAt": "2020-01-01T00:00:00.000Z"}
            if field == "relation":
                row[escape] = {"__type": "Relation", "className": "Post"}
            return _json({"results": [row]})
        return _json({"results": []})

    base, _ = hostile(answer)
    base_holder.append(base)
    host = base.split("://")[1]
    folder = tmp_path / "a" / "b" / "export"
    client = leanorm.connect(f"leancloud+http://APP:KEY@{host}?master_key=MKEY", default=False)
    try:
        reports = export_backend(client, folder)
    finally:
        client.close()
    outside = [p for p in tmp_path.rglob("*") if folder not in p.parents and p != folder and p not in folder.parents]
    assert outside == [], outside
    if field == "objectId":  # a file's bytes are kept under a stored name (export_format.stored_name)
        assert len(list((folder / "files").iterdir())) == 1
    else:  # a class or field name is no file name: refused and reported
        assert any(r.failed for r in reports.values()), {n: vars(r) for n, r in reports.items()}
    assert (folder / "Post.jsonl").exists()


def test_the_client_sends_no_credentials_where_a_redirect_points(hostile):
    """A server answering 307 to another host got the client's next request there with ``X-LC-Key:
    <master key>,master`` (requests drops only ``Authorization`` on a cross-host redirect): a compromised
    or spoofed API host harvested the master key. The client follows no redirect; it names the target."""
    import leanorm
    from leanorm.errors import TransportError

    collector, collected = hostile(lambda request: _json({"results": []}))
    redirector, _ = hostile(lambda request: (307, {"Location": f"{collector}{request.path}"}, b""))
    client = leanorm.connect(f"leancloud+http://APP:KEY@{redirector.split('://')[1]}?master_key=MKEY", default=False)
    try:
        with leanorm.using_master(), pytest.raises(TransportError, match="redirect"):
            client.request("GET", "classes/Post")
        with pytest.raises(TransportError, match="redirect"):
            client.request("POST", "classes/Post", body={"title": "x"})
    finally:
        client.close()
    assert collected == []


def test_the_async_client_sends_no_credentials_where_a_redirect_points(hostile):
    """The async API's transport (httpx) followed a 307 to another host with ``X-LC-Key: <master
    key>,master`` (httpx, as requests, drops only ``Authorization`` across hosts), where the sync one
    refuses it. Both follow no redirect now: a 3xx is a TransportError naming the target."""
    import asyncio

    import leanorm
    from leanorm.aio import run_async
    from leanorm.errors import TransportError

    collector, collected = hostile(lambda request: _json({"results": []}))
    redirector, _ = hostile(lambda request: (307, {"Location": f"{collector}{request.path}"}, b""))
    client = leanorm.connect(f"leancloud+http://APP:KEY@{redirector.split('://')[1]}?master_key=MKEY", default=False)

    async def send(method, body=None):
        with leanorm.using_master():
            return await run_async(client.request, method, "classes/Post", body=body)

    try:
        with pytest.raises(TransportError, match="redirect"):
            asyncio.run(send("GET"))
        with pytest.raises(TransportError, match="redirect"):
            asyncio.run(send("POST", {"title": "x"}))
    finally:
        client.close()
    assert collected == []


def test_an_answer_nested_beyond_the_parser_is_a_typed_error(hostile):
    """A hostile answer of 100,000 nested arrays raised RecursionError out of the client (not a leanorm
    error an app catches); it is an answer the client cannot read, like one that is not JSON."""
    import leanorm
    from leanorm.errors import OutcomeUnknown

    deep = b'{"results": [{"objectId": "a", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"
    base, _ = hostile(lambda request: (200, {}, deep))
    client = leanorm.connect(f"leancloud+http://APP:KEY@{base.split('://')[1]}", default=False)
    try:
        with pytest.raises(OutcomeUnknown):
            client.request("GET", "classes/Post")
    finally:
        client.close()


# -- password hashing is charged to the request's budget -----------------------------------------------------
def test_a_batch_hashes_a_bounded_number_of_passwords(api):
    """Each sign-up or login runs scrypt (~0.1 s of CPU): a batch of 100 sign-ups with the app key held a
    thread for 12 s, and four of them at once stalled every other client (``GET date`` waited 20 s). A
    request may hash ``budget.MAX_PASSWORD_HASHES`` passwords; the items past it are refused and create
    nothing. The master key (an import) is not bounded."""
    from leanorm.embedded.budget import MAX_PASSWORD_HASHES

    prefix = "/1.1/" if api.dialect == "leancloud" else "/parse/"
    names = [unique("bulk") for _ in range(MAX_PASSWORD_HASHES + 5)]
    answers = api.ok("POST", "batch", {"requests": [{"method": "POST", "path": f"{prefix}users",
                                                     "body": {"username": n, "password": "pw"}} for n in names]})
    made = [a for a in answers if "success" in a]
    assert len(made) == MAX_PASSWORD_HASHES, answers
    assert all(a["error"]["code"] == 102 for a in answers[MAX_PASSWORD_HASHES:]), answers
    stored = api.master("GET", "users", params={"where": {"username": {"$in": names}}, "limit": "100"})["results"]
    assert sorted(u["username"] for u in stored) == sorted(names[:MAX_PASSWORD_HASHES])
    logins = api.ok("POST", "batch", {"requests": [{"method": "POST", "path": f"{prefix}login",
                                                    "body": {"username": n, "password": "pw"}} for n in names[:MAX_PASSWORD_HASHES]]
                                      + [{"method": "POST", "path": f"{prefix}login",
                                          "body": {"username": names[0], "password": "pw"}}]})
    assert [a.get("error", {}).get("code") for a in logins] == [None] * MAX_PASSWORD_HASHES + [102], logins
    by_master = api.master("POST", "batch", {"requests": [{"method": "POST", "path": f"{prefix}users",
                                                           "body": {"username": unique("imp"), "password": "pw"}}
                                                          for _ in range(MAX_PASSWORD_HASHES + 1)]})
    assert all("success" in a for a in by_master), by_master


# -- reported to the read filter on answers (reads.py/objects.py/authz.py): write-only objects ---------------
def _write_only(api: Api) -> Tuple[str, str, Dict[str, Any]]:
    """A ``Drop*`` object Ann reads and writes and Eve may only write (``secret`` inside); (class, id, Eve)."""
    ann, eve = api.signup(), api.signup()
    name = unique("Drop")
    row = api.master("POST", f"classes/{name}", {"secret": "s3cr3t", "n": 1, "ACL": {
        ann["objectId"]: {"read": True, "write": True}, eve["objectId"]: {"write": True}}})
    status, answer = api.call("GET", f"classes/{name}/{row['objectId']}", session=eve["sessionToken"])
    assert "s3cr3t" not in json.dumps(answer)  # Eve can not read it
    return name, row["objectId"], eve


def test_fetch_when_save_shows_a_write_only_caller_nothing_it_may_not_read(api):
    """Eve may write the object but not read it; ``fetchWhenSave=true`` answered every field, ``secret``
    included."""
    name, object_id, eve = _write_only(api)
    status, answer = api.call("PUT", f"classes/{name}/{object_id}", {"n": 2}, params={"fetchWhenSave": "true"},
                              session=eve["sessionToken"])
    assert status == 200, answer
    assert "s3cr3t" not in json.dumps(answer)


def test_a_conditional_write_is_no_oracle_on_fields_the_caller_can_not_read(api):
    """``PUT ...?where={"secret": guess}`` answered 305 for a wrong guess and 200 for the right one: a
    write-only caller read ``secret`` one guess at a time."""
    name, object_id, eve = _write_only(api)
    wrong = api.call("PUT", f"classes/{name}/{object_id}", {"n": 2}, params={"where": {"secret": "nope"}},
                     session=eve["sessionToken"])
    right = api.call("PUT", f"classes/{name}/{object_id}", {"n": 3}, params={"where": {"secret": "s3cr3t"}},
                     session=eve["sessionToken"])
    assert (wrong[0], wrong[1].get("code")) == (right[0], right[1].get("code")), (wrong, right)


# -- system classes' fields have their types from the start -------------------------------------------------
def test_the_first_writer_can_not_give_a_system_field_another_type(tmp_path):
    """The schema keeps the type of a field's first write forever: on a fresh server, an anonymous sign-up
    with ``mobilePhoneNumber: ["1"]`` made every later sign-up with a phone number fail (111: expected
    Array), and an installation with ``deviceType: 5`` or ``channels: "x"`` every real device's. The fields
    the backend's own code reads have fixed types; a value of another type is 111 and teaches nothing."""
    from tests.security.raw_http import Raw
    from tests.served import serve

    with serve(tmp_path / "fresh.sqlite3") as fresh:
        for dialect in ("leancloud", "parse"):
            api = Raw(fresh, dialect)
            poison = [("users", {"username": unique("p"), "password": "pw", "mobilePhoneNumber": ["1"]}),
                      ("installations", {"installationId": unique("i"), "deviceType": 5}),
                      ("installations", {"installationId": unique("i"), "deviceType": "ios", "channels": "x"})]
            for path, body in poison:
                status, answer = api.call("POST", path, body)
                assert (status, answer.get("code")) == (400, 111), (path, body, status, answer)
            api.ok("POST", "users", {"username": unique("ok"), "password": "pw",
                                     "mobilePhoneNumber": f"+86139{uuid.uuid4().int % 10 ** 8:08d}"})
            api.ok("POST", "installations", {"installationId": unique("i"), "deviceType": "ios", "channels": ["a"]})


# -- a private status is read by its sender and recipients only ---------------------------------------------
def test_a_private_status_is_not_public(leancloud):
    """Every status was saved readable by everyone (``ACL {"*": read}``): a private message
    (``inboxType: "private"``, what ``sendPrivately`` sends) was read by any client, anonymous included,
    through ``GET statuses`` or ``classes/_Status``. LeanCloud shows a private status to its recipients only;
    the public timeline (``default``) stays public."""
    ann, cat, eve = leancloud.signup(), leancloud.signup(), leancloud.signup()
    secret = unique("private note ")
    sent = leancloud.ok("POST", "statuses", {"data": {"message": secret}, "inboxType": "private",
                                             "query": {"className": "_User", "where": {"objectId": cat["objectId"]}}},
                        session=ann["sessionToken"])
    for session in (eve["sessionToken"], None):
        for path, params in ((f"statuses/{sent['objectId']}", {}), ("statuses", {"where": {"inboxType": "private"}}),
                             (f"classes/_Status/{sent['objectId']}", {})):
            status, answer = leancloud.call("GET", path, params=params, session=session)
            assert secret not in json.dumps(answer), (path, session, status, answer)
    owner = {"__type": "Pointer", "className": "_User", "objectId": cat["objectId"]}
    inbox = leancloud.ok("GET", "subscribe/statuses", params={"owner": owner, "inboxType": "private"},
                         session=cat["sessionToken"])["results"]
    assert [s["message"] for s in inbox] == [secret]
    assert leancloud.ok("GET", f"statuses/{sent['objectId']}", session=ann["sessionToken"])["message"] == secret
    public = leancloud.ok("POST", "statuses", {"data": {"message": "hello all"}, "inboxType": "default",
                                               "query": {"className": "_User", "where": {"objectId": cat["objectId"]}}},
                          session=ann["sessionToken"])
    assert leancloud.ok("GET", f"statuses/{public['objectId']}")["message"] == "hello all"


# -- one-time codes and the outbox: bookkeeping that only grew ------------------------------------------------
def test_anonymous_captchas_leave_no_expired_rows_behind(server):
    """``GET requestCaptcha`` needs no user: each call stores a code and a row in ``_outbox`` that nothing
    ever deleted, so a loop of anonymous requests grows the database without bound. A code
    past its expiry is of no use and should be gone by the next issue."""
    api = Api(server, "leancloud")
    first = api.ok("GET", "requestCaptcha")["captcha_token"]
    server.sql("UPDATE _one_time_codes SET expires_at = 0 WHERE recipient = ?", (first,))
    api.ok("GET", "requestCaptcha")
    left = server.sql("SELECT COUNT(*) FROM _one_time_codes WHERE expires_at < 1")[0][0]
    assert left == 0


# -- a password change checks the old password under the account's throttle ---------------------------------
def test_a_stolen_session_can_not_guess_the_password_through_update_password(api):
    """``PUT users/<id>/updatePassword`` compared ``old_password`` with no limit: whoever held a session
    (a shared device, a leaked token) tried guess after guess, then changed the password and ended the
    owner's sessions. Its check counts towards the account's throttle like a login's."""
    victim = api.signup()
    path = f"users/{victim['objectId']}/updatePassword"
    for attempt in range(5):
        status, answer = api.call("PUT", path, {"old_password": f"guess{attempt}", "new_password": "mine"},
                                  session=victim["sessionToken"])
        assert refused(status, answer, 210), answer
    status, answer = api.call("PUT", path, {"old_password": "pw", "new_password": "mine"},
                              session=victim["sessionToken"])
    assert refused(status, answer, 219), answer
    status, answer = api.call("POST", "login", {"username": victim["username"], "password": "pw"})
    assert refused(status, answer, 219), answer


def test_the_outbox_keeps_the_newest_messages_only():
    """Every anonymous captcha or reset request added an outbox row that nothing deleted."""
    from leanorm.embedded import EmbeddedServer
    server = EmbeddedServer()
    server.settings.outbox_size = 3
    try:
        for n in range(5):
            server.deliver("sms", f"+86138000000{n:02d}", "login", code=str(n))
        assert [m["code"] for m in server.outbox] == ["2", "3", "4"]
    finally:
        server.close()
