"""Issue 18, findings 2, 3, 4 and 14: who is calling is known before anything costly.

Each attack is sent over raw sockets to a real ``leanorm serve`` started with small caps and deadlines
(one worker of one thread, four connections at once, a 1 MiB upload cap), so that a handful of sockets
exceeds what the server takes at once. What is asserted is what a client sees: the refusal comes while
the attacker has sent its headers only, another client is answered, nothing is stored.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

from tests.served import APP_ID, APP_KEY, MASTER_KEY, Served, serve

MiB = 1024 * 1024
#: the server of this module: small enough that a dozen sockets exceed it
FLAGS = ("--workers", "1", "--threads", "1", "--max-connections", "4", "--read-timeout", "2",
         "--max-upload-size", "1M", "--upload-timeout", "3")
LEANCLOUD = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
PARSE = {"X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": APP_KEY}
MASTER = {"X-LC-Id": APP_ID, "X-LC-Key": f"{MASTER_KEY},master"}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("edge") / "app.sqlite3", *FLAGS) as running:
        yield running


# -- raw HTTP ----------------------------------------------------------------------------------------------
def head(method: str, path: str, headers: Dict[str, str], length: Optional[int] = None,
         chunked: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket, timeout: float = 20) -> Tuple[int, Any]:
    """The response on ``sock``: its status and decoded JSON body."""
    sock.settimeout(timeout)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    return resp.status, json.loads(resp.read() or b"null")


def headers_only(served: Served, request_head: bytes, first_bytes: bytes = b"") -> Tuple[int, Any]:
    """Send a request's headers (and at most ``first_bytes`` of its body), never the rest: the answer."""
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(request_head + first_bytes)
        return answer(sock)


def api(served: Served, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
        data: Any = None, timeout: float = 20) -> Tuple[int, Any]:
    resp = requests.request(method, served.base_url + path, headers={**LEANCLOUD, **(headers or {})},
                            data=json.dumps(body) if body is not None else data, timeout=timeout)
    return resp.status_code, resp.json() if resp.content else None


def upload_address(served: Served, name: str) -> Tuple[str, str]:
    """A file's upload address (``fileTokens``, with the app key): its path and the file's objectId."""
    status, token = api(served, "POST", "/1.1/fileTokens", {"name": name})
    assert status == 200, token
    return "/uploads/" + token["upload_url"].rsplit("/uploads/", 1)[1], token["objectId"]


def stored_files(served: Served, suffix: str) -> List[Dict[str, Any]]:
    status, found = api(served, "GET", "/1.1/classes/_File", headers=MASTER)
    assert status == 200, found
    return [row for row in found["results"] if row["name"].endswith(suffix)]


def unique(stem: str) -> str:
    """A class name, file name or address no other test uses."""
    return f"{stem}{uuid.uuid4().hex[:8]}"


# -- finding 4: the caller is known from the headers, before its body is read --------------------------------
@pytest.mark.parametrize("path, headers, status", [
    ("/1.1/classes/Bomb", {}, 401),                                                     # no keys at all
    ("/1.1/batch", {"X-LC-Id": APP_ID, "X-LC-Key": "wrong"}, 401),                      # a wrong key
    ("/parse/classes/Bomb", {"X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": "wrong"}, 401),
    ("/parse/classes/Bomb", {}, 413),   # no app id: only an envelope may carry the keys, and it is small
], ids=["leancloud-no-keys", "leancloud-wrong-key", "parse-wrong-key", "parse-no-app-id"])
def test_a_large_body_without_the_apps_keys_is_refused_before_it_is_sent(edge: Served, path: str,
                                                                         headers: Dict[str, str],
                                                                         status: int) -> None:
    """A 16 MiB ``[{},{},...]`` announced by its Content-Length: the refusal comes with only the headers
    sent (before, the server waited for the body, parsed it, then answered 401)."""
    request = head("POST", path, {**headers, "Content-Type": "application/json"}, length=16 * MiB)
    code, body = headers_only(edge, request, b"[{},{},")
    assert code == status and body["code"] in (1, 401), body


def test_a_chunked_body_without_the_apps_keys_is_refused_at_its_first_chunk(edge: Served) -> None:
    request = head("POST", "/1.1/classes/Bomb", {"Content-Type": "application/json"}, chunked=True)
    assert headers_only(edge, request, b"10000\r\n[{},{},{},{},")[0] == 401


def test_the_parse_envelope_is_read_under_a_cap_of_its_own(edge: Served) -> None:
    """The Parse JS SDK's envelope carries the keys in a ``text/plain`` body: a small one is served, one
    over the envelope's cap (1 MiB) is refused and nothing of it is stored."""
    cls = unique("Envelope")
    keys = {"_ApplicationId": APP_ID, "_JavaScriptKey": APP_KEY, "_MasterKey": MASTER_KEY}
    url = f"{edge.base_url}/parse/classes/{cls}"
    small = requests.post(url, data=json.dumps({**keys, "n": 1}), headers={"Content-Type": "text/plain"}, timeout=20)
    assert small.status_code == 201, small.text
    big = requests.post(url, data=json.dumps({**keys, "n": 2, "pad": "x" * (2 * MiB)}),
                        headers={"Content-Type": "text/plain"}, timeout=20)
    assert big.status_code == 413 and big.json()["code"] == 1, big.text
    status, found = api(edge, "GET", f"/1.1/classes/{cls}", headers=MASTER)
    assert [row["n"] for row in found["results"]] == [1]


def test_an_envelope_is_not_parsed_when_it_holds_more_than_a_request_needs(edge: Served) -> None:
    """An envelope is parsed before its keys are known: one holding 20,000 objects (a JSON bomb in a
    request any browser could send) is refused unparsed, keys or not, and nothing is stored; a file in an
    envelope (base64, so one string) may be larger than the envelope's cap, up to the upload cap."""
    cls = unique("Bomb")
    keys = {"_ApplicationId": APP_ID, "_JavaScriptKey": APP_KEY}
    bomb = requests.post(f"{edge.base_url}/parse/classes/{cls}", data=json.dumps({**keys, "x": [{}] * 20000}),
                         headers={"Content-Type": "text/plain"}, timeout=20)
    assert bomb.status_code == 413 and bomb.json()["code"] == 1, bomb.text
    assert api(edge, "GET", f"/1.1/classes/{cls}", headers=MASTER)[1]["results"] == []
    name = unique("envelope") + ".bin"
    data = bytes(range(256)) * (3 * 1024)  # 768 KiB: its base64 is over 1 MiB
    sent = requests.post(f"{edge.base_url}/parse/files/{name}", headers={"Content-Type": "text/plain"}, timeout=20,
                         data=json.dumps({**keys, "base64": base64.b64encode(data).decode()}))
    assert sent.status_code == 201, sent.text
    assert requests.get(sent.json()["url"], timeout=20).content == data


# -- finding 2: uploads have a size bound, and an address is checked before its bytes -------------------------
def test_an_upload_to_an_address_never_given_out_is_refused_before_its_body(edge: Served) -> None:
    for method in ("PUT", "POST"):
        request = head(method, f"/uploads/{unique('forged')}", {"Content-Type": "application/octet-stream"},
                       length=500 * MiB)
        code, body = headers_only(edge, request, b"\0" * 1024)
        assert code == 403 and body["code"] == 1, (method, body)


def test_an_upload_over_the_cap_is_refused_by_its_length_and_the_address_stays_usable(edge: Served) -> None:
    path, file_id = upload_address(edge, "big.bin")
    code, body = headers_only(edge, head("PUT", path, {}, length=MiB + 1), b"\0" * 1024)
    assert code == 413 and body["code"] == 1, body
    assert requests.put(edge.base_url + path, data=b"fits", timeout=20).status_code == 200
    assert requests.get(f"{edge.base_url}/files/{file_id}/big.bin", timeout=20).content == b"fits"


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"\0" * size
        sent += size


def _send_chunked(served: Served, request_head: bytes, total: int) -> Tuple[Tuple[int, Any], bool]:
    """Send ``total`` bytes chunked after ``request_head`` while reading the answer: (the answer, whether
    every byte could be sent)."""
    sock = socket.create_connection(("127.0.0.1", served.port))
    sent_all = threading.Event()

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(request_head)
            for chunk in _chunks(total):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
            sent_all.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        result = answer(sock, timeout=30)
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        sender.join(30)
    return result, sent_all.is_set()


def test_a_chunked_upload_is_cut_off_once_it_passes_the_cap(edge: Served) -> None:
    """An upload of unknown length: receiving stops when it passes the cap, long before the 200 MiB the
    client means to send, and nothing is stored."""
    name = unique("file") + ".bin"
    request = head("POST", f"/parse/files/{name}", {**PARSE, "Content-Type": "application/octet-stream"},
                   chunked=True)
    (code, body), sent_all = _send_chunked(edge, request, 200 * MiB)
    assert (code, body["code"], sent_all) == (413, 1, False), body
    assert stored_files(edge, name) == []
    path, file_id = upload_address(edge, "chunked.bin")
    (code, body), sent_all = _send_chunked(edge, head("PUT", path, {}, chunked=True), 200 * MiB)
    assert (code, sent_all) == (413, False), body
    assert requests.get(f"{edge.base_url}/files/{file_id}/chunked.bin", timeout=20).status_code == 404


@pytest.mark.parametrize("dialect", ["leancloud", "parse"])
def test_an_anonymous_upload_over_the_cap_stores_nothing(edge: Served, dialect: str) -> None:
    """The app key alone, a file over ``--max-upload-size`` on the dialect's REST upload: 413, no file."""
    name = unique("file") + ".bin"
    data = b"\0" * (MiB + 1)
    if dialect == "parse":
        resp = requests.post(f"{edge.base_url}/parse/files/{name}", data=data, timeout=20,
                             headers={**PARSE, "Content-Type": "application/octet-stream"})
    else:
        resp = requests.post(f"{edge.base_url}/1.1/files/{name}", timeout=20, headers=LEANCLOUD,
                             data=json.dumps({"base64": base64.b64encode(data).decode()}))
    assert resp.status_code == 413 and resp.json()["code"] == 1, resp.text
    assert stored_files(edge, name) == []
    fits = requests.post(f"{edge.base_url}/parse/files/{name}", data=b"small", timeout=20,
                         headers={**PARSE, "Content-Type": "application/octet-stream"})
    assert fits.status_code == 201, fits.text


# -- finding 3: a body has a deadline for the whole of it ---------------------------------------------------
class Trickler(threading.Thread):
    """Sends a request's headers, then its body a byte at a time; keeps what the server answered."""

    def __init__(self, served: Served, request_head: bytes, length: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", served.port))
        self.request_head, self.length, self.pause = request_head, length, pause
        self.sent_all = False
        self.result: Optional[Tuple[int, Any]] = None

    def run(self) -> None:
        wait = threading.Event().wait
        with contextlib.suppress(OSError):
            self.sock.sendall(self.request_head)
            for _ in range(self.length):
                self.sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    if self.sock.recv(1, socket.MSG_PEEK):
                        break  # answered before the body was complete
                self.sock.setblocking(True)
                self.sock.sendall(b"x")
                wait(self.pause)
            else:
                self.sent_all = True
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
            self.result = answer(self.sock, timeout=30)
        self.sock.close()


def test_an_upload_trickled_past_the_upload_deadline_is_cut_off(edge: Served) -> None:
    """A byte every 0.2 s comes well within any per-chunk deadline; the whole body must come within
    ``--upload-timeout`` (3 s here), so a 100-byte body trickled over 20 s is answered 408 and not stored."""
    path, file_id = upload_address(edge, "slow.bin")
    slow = Trickler(edge, head("PUT", path, {}, length=100), 100, pause=0.2)
    slow.start()
    slow.join(60)
    assert slow.result is not None and slow.result[0] == 408 and not slow.sent_all, slow.result
    assert requests.get(f"{edge.base_url}/files/{file_id}/slow.bin", timeout=20).status_code == 404


def test_credential_less_uploads_trickling_hold_nothing(edge: Served) -> None:
    """Twelve uploads to forged addresses, more than the server takes at once, each trickling a byte
    every 0.3 s: each is refused at its headers, and another client is answered meanwhile."""
    tricklers = [Trickler(edge, head("PUT", f"/uploads/{unique('forged')}", {}, length=1000), 1000, pause=0.3)
                 for _ in range(12)]
    for trickler in tricklers:
        trickler.start()
    try:
        assert api(edge, "GET", "/1.1/date", timeout=10)[0] == 200
    finally:
        for trickler in tricklers:
            trickler.join(60)
    assert [t.result[0] if t.result else None for t in tricklers] == [403] * 12


# -- finding 14: a connection that never speaks is closed ------------------------------------------------------
def _silent(served: Served, count: int) -> List[socket.socket]:
    return [socket.create_connection(("127.0.0.1", served.port)) for _ in range(count)]


def _idle(served: Served, count: int) -> List[socket.socket]:
    """Connections that made one request each and keep the connection open, saying nothing more."""
    sockets = _silent(served, count)
    for sock in sockets:
        sock.sendall(head("GET", "/1.1/date", LEANCLOUD))
        assert answer_keeping(sock) == 200
    return sockets


def answer_keeping(sock: socket.socket) -> int:
    sock.settimeout(20)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    resp.read()
    return resp.status


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(30)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    finally:
        sock.close()


def test_silent_connections_are_closed_and_others_are_served(edge: Served) -> None:
    """Twelve connections that never send a byte, three times what the server takes at once: they are
    closed after the read timeout (the deadline starts when a connection is accepted, not at its first
    byte), unanswered, and a client arriving after them is answered."""
    silent = _silent(edge, 12)
    try:
        assert api(edge, "GET", "/1.1/date", timeout=30)[0] == 200
    finally:
        closed = [_closed_by_server(sock) for sock in silent]
    assert closed == [True] * 12


@pytest.mark.parametrize("kind", ["silent", "idle"])
def test_with_the_defaults_hundreds_of_silent_or_idle_connections_stop_no_one(tmp_path: Path, kind: str) -> None:
    """The finding's 600 connections against one worker with the default limits: a new client is
    answered at once (before, each held one of 256 slots until the 30 s read timeout, or for ever)."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1") as served:
        held = (_silent if kind == "silent" else _idle)(served, 600)
        try:
            assert api(served, "GET", "/1.1/date", timeout=10)[0] == 200
            assert api(served, "POST", "/1.1/classes/Still", {"served": True}, timeout=10)[0] == 201
        finally:
            for sock in held:
                sock.close()
