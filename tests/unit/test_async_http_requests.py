"""What the async HTTP transport puts on the wire and reads back, seen by a real HTTP server.

Its small requests go to its connection pool as httpcore requests, without httpx's request and
response objects (leanorm/http_pool.py, ``ConnectionPool.fetch``): the headers httpx used to add that a
server needs (``Host``, ``Content-Length``) and the query string are the transport's own to write, and
a compressed answer its own to decode, as the sync transport (requests) does.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List
from urllib.parse import parse_qs, urlsplit

import pytest

from leanorm.transport import AsyncHTTPTransport, HTTPTransport, Request

ANSWER = {"results": [{"objectId": "a1", "title": "é" * 300}]}


class _Recorder(BaseHTTPRequestHandler):
    """Answers ANSWER compressed as the request's ``?encoding=`` says, and records what it was sent."""

    seen: List[Dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.seen.append({"method": self.command, "path": url.path, "query": query, "host": self.headers["Host"],
                          "body": self.rfile.read(length), "accept": self.headers.get("Accept-Encoding", "")})
        body = json.dumps(ANSWER).encode()
        encoding = query.get("encoding", ["identity"])[0]
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "deflate":
            body = zlib.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if encoding != "identity":
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
def test_an_answer_reads_the_same_through_both_transports(recorder: str, encoding: str) -> None:
    where = json.dumps({"title": {"$regex": "^é&x=1 +"}})
    request = Request("GET", "/1.1/classes/Post", {"where": where, "encoding": encoding}, {"X-LC-Id": "app"})

    async def send() -> Any:
        return await AsyncHTTPTransport(recorder).asend(request)
    sent_async = asyncio.run(send())
    sent_sync = HTTPTransport(recorder).send(request)

    for answer in (sent_async, sent_sync):
        assert answer.status == 200
        assert json.loads(answer.body) == ANSWER
        assert answer.headers["content-type"] == "application/json"  # names in any case
    by_async, by_sync = _Recorder.seen
    assert by_async["query"] == by_sync["query"] == {"where": [where], "encoding": [encoding]}
    assert by_async["host"] == by_sync["host"] == recorder.split("://", 1)[1]
    assert "gzip" in by_async["accept"]


def test_a_small_body_arrives_whole_with_its_length(recorder: str) -> None:
    body = json.dumps({"title": "é" * 100}).encode()

    async def send() -> Any:
        return await AsyncHTTPTransport(recorder).asend(
            Request("POST", "/1.1/classes/Post", {}, {"Content-Type": "application/json"}, body))
    answer = asyncio.run(send())

    assert json.loads(answer.body) == ANSWER
    assert _Recorder.seen == [{"method": "POST", "path": "/1.1/classes/Post", "query": {},
                               "host": recorder.split("://", 1)[1], "body": body, "accept": "gzip, deflate"}]
