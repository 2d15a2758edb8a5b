"""Issue 9, items 8 and 13: a failed write leaves no trace, and no write is lost.

A first write that failed validation used to leave its class known to the server though its table was
rolled back, so every later request on the class answered 500 "no such table" until a restart; a
chunked JSON body was answered 201 and stored empty.
"""
import socket

import pytest

from tests.security.raw_http import DIALECTS, Raw, raw, refused, unique  # noqa: F401 (fixtures)
from tests.served import serve, served  # noqa: F401 (fixture)

BAD_DATE = {"__type": "Date", "iso": "bad"}


def test_a_failed_first_write_leaves_the_class_usable(raw: Raw) -> None:
    name = unique("NewC")
    refused(raw.call("POST", f"classes/{name}", {"d": BAD_DATE}), 400, 111)
    assert raw.rows(name) == []
    assert raw.ok("GET", f"classes/{name}", params={"count": "1", "limit": "0"})["count"] == 0
    created = raw.ok("POST", f"classes/{name}", {"d": {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}})
    assert raw.ok("GET", f"classes/{name}/{created['objectId']}")["d"]["iso"] == "2026-01-02T03:04:05.000Z"
    raw.ok("PUT", f"classes/{name}/{created['objectId']}", {"n": 1})
    raw.ok("DELETE", f"classes/{name}/{created['objectId']}")
    assert raw.rows(name) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_failed_first_signup_leaves_users_usable(tmp_path, dialect: str) -> None:
    with serve(tmp_path / "fresh.sqlite3") as fresh:  # _User does not exist before the first signup
        api = Raw(fresh, dialect)
        refused(api.call("POST", "users", {"username": "first", "password": "pw", "born": BAD_DATE}), 400, 111)
        assert api.rows("_User") == []
        user = api.ok("POST", "users", {"username": "first", "password": "pw"})
        login = api.ok("POST", "login", {"username": "first", "password": "pw"})
        assert login["objectId"] == user["objectId"]
        assert [u["username"] for u in api.rows("_User")] == ["first"]


def test_a_chunked_json_body_is_stored(raw: Raw) -> None:
    name = unique("Chunked")

    def body():  # a generator: requests sends it with Transfer-Encoding: chunked
        yield b'{"title": "sent in'
        yield b' pieces", "n": 1}'

    created = raw.ok("POST", f"classes/{name}", data=body())
    stored = raw.ok("GET", f"classes/{name}/{created['objectId']}")
    assert (stored["title"], stored["n"]) == ("sent in pieces", 1)


def test_a_broken_chunked_body_stores_nothing(served) -> None:  # noqa: F811 (fixture)
    name = unique("Chunked")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(f"POST /1.1/classes/{name} HTTP/1.1\r\nHost: x\r\nX-LC-Id: {served.app_id}\r\n"
                     f"X-LC-Key: {served.app_key}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".encode())
        received = b""
        while True:  # the server closes a connection whose body it could not read to its end
            part = conn.recv(65536)
            if not part:
                break
            received += part
    answer = received.decode()
    assert answer.startswith("HTTP/1.1 400") and '"code":107' in answer
    assert Raw(served, "leancloud").rows(name) == []
