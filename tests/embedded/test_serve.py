"""``leanorm serve`` over real sockets: HTTP/1.1 keep-alive, and connections closed whenever reusing
them could mix two requests up."""
from __future__ import annotations

import http.client
import json
from typing import Any, Dict, Optional, Tuple

from tests.served import Served, served  # noqa: F401  (the fixture)


def headers(server: Served, **extra: str) -> Dict[str, str]:
    return {"X-LC-Id": server.app_id, "X-LC-Key": server.app_key, "Content-Type": "application/json", **extra}


def exchange(conn: http.client.HTTPConnection, server: Served, method: str, path: str, body: Optional[bytes] = None,
             **extra: str) -> Tuple[int, Any, bool]:
    """One request on ``conn``: status, decoded answer, and whether the server closes the connection."""
    conn.request(method, path, body=body, headers=headers(server, **extra))
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, json.loads(data) if data else None, resp.will_close


def test_one_connection_serves_many_requests(served: Served) -> None:  # noqa: F811
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        status, created, closing = exchange(conn, served, "POST", "/1.1/classes/Note", b'{"text": "one"}')
        assert (status, closing) == (201, False)
        sock = conn.sock
        for _ in range(5):
            status, got, closing = exchange(conn, served, "GET", f"/1.1/classes/Note/{created['objectId']}")
            assert (status, got["text"], closing) == (200, "one", False)
        assert conn.sock is sock  # the same socket all along
    finally:
        conn.close()


def test_a_body_the_app_did_not_read_is_never_taken_for_the_next_request(served: Served) -> None:  # noqa: F811
    """A bad Content-Length is refused and ends the connection; the body of a preflight (answered without
    reading it) is not parsed as the next request on the same connection."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.putrequest("POST", "/1.1/classes/Note")
        for name, value in headers(served, **{"Content-Length": "lots"}).items():
            conn.putheader(name, value)
        conn.endheaders(b'{"text": "never"}')
        resp = conn.getresponse()
        resp.read()
        assert (resp.status, resp.will_close) == (400, True)
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request("OPTIONS", "/1.1/classes/Note", body=b'GET /1.1/date HTTP/1.1\r\nHost: x\r\n\r\n')
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 204
        status, answer, _ = exchange(conn, served, "GET", "/1.1/classes/Note", None)
        assert status == 200 and [n["text"] for n in answer["results"]] == ["one"] * (len(answer["results"]) > 0)
    finally:
        conn.close()


def test_client_asking_to_close_is_obeyed(served: Served) -> None:  # noqa: F811
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        status, _, closing = exchange(conn, served, "GET", "/1.1/date", Connection="close")
        assert (status, closing) == (200, True)
    finally:
        conn.close()


def test_head_of_a_file_names_its_length(served: Served) -> None:  # noqa: F811
    """HEAD of a stored file answers the Content-Length a GET would send, with no body."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        status, stored, _ = exchange(conn, served, "POST", "/parse/files/head.txt", b"twelve bytes", **{
            "Content-Type": "text/plain", "X-Parse-Application-Id": served.app_id,
            "X-Parse-REST-API-Key": served.app_key})
        assert status == 201
        path = "/" + stored["url"].split("/", 3)[3]
        conn.request("HEAD", path)
        resp = conn.getresponse()
        assert (resp.status, resp.getheader("Content-Length"), resp.read()) == (200, "12", b"")
        conn.request("GET", path)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"twelve bytes")
    finally:
        conn.close()
