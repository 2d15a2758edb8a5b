"""A loopback HTTP server that answers one canned LeanCloud query page, for the read-path benchmark.

Run as a script it binds 127.0.0.1 on a random port, prints ``PORT <n>`` on stdout and serves until
killed. Every ``GET /1.1/classes/Post`` (whatever the query string) answers the same pre-encoded
1,000-row ``{"results": [...]}`` body, and every ``GET /1.1/classes/Checkin`` another one (an integer, a
Date, a Pointer and a GeoPoint per row), so the clients under test all parse the very same bytes and
the server's own cost is only a socket write.

It runs in its own process (see ``read_path.py``) so the server never competes with the client for
the client's GIL while a client is being timed.
"""
from __future__ import annotations

import datetime as _dt
import json
import random
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

__all__ = ["make_rows", "make_checkin_rows", "make_page", "serve", "ROWS"]

#: rows in the canned page (LeanCloud's maximum ``limit``)
ROWS = 1000

_WORDS = ("orm", "python", "leancloud", "parse", "sqlite", "http", "json", "cache", "index", "query",
          "pointer", "date", "array", "batch", "signal", "model")


def _object_id(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(24))


def _iso(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_rows(n: int = ROWS, seed: int = 20261124) -> List[Dict[str, Any]]:
    """``n`` deterministic Post rows as LeanCloud returns them: objectId, createdAt, updatedAt, title
    (string), score (number), tags (array), publishedAt (Date), author (Pointer to Author)."""
    rng = random.Random(seed)
    start = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
    authors = [_object_id(rng) for _ in range(50)]
    rows = []
    for i in range(n):
        created = start + _dt.timedelta(minutes=37 * i, milliseconds=rng.randrange(1000))
        updated = created + _dt.timedelta(hours=rng.randrange(48), milliseconds=rng.randrange(1000))
        published = created + _dt.timedelta(days=rng.randrange(30), milliseconds=rng.randrange(1000))
        rows.append({
            "objectId": _object_id(rng),
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "title": " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 9))).capitalize(),
            "score": rng.randrange(0, 10_000),
            "tags": rng.sample(_WORDS, rng.randrange(0, 5)),
            "publishedAt": {"__type": "Date", "iso": _iso(published)},
            "author": {"__type": "Pointer", "className": "Author", "objectId": rng.choice(authors)},
        })
    return rows


def make_checkin_rows(n: int = ROWS, seed: int = 20261201) -> List[Dict[str, Any]]:
    """``n`` deterministic Checkin rows, the fields apps read most besides strings: objectId, createdAt,
    updatedAt, rating (integer), visitedAt (Date), author (Pointer to one of 50 Authors) and location
    (GeoPoint)."""
    rng = random.Random(seed)
    start = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
    authors = [_object_id(rng) for _ in range(50)]
    rows = []
    for i in range(n):
        created = start + _dt.timedelta(minutes=11 * i, milliseconds=rng.randrange(1000))
        rows.append({
            "objectId": _object_id(rng),
            "createdAt": _iso(created),
            "updatedAt": _iso(created),
            "rating": rng.randrange(1, 6),
            "visitedAt": {"__type": "Date", "iso": _iso(created - _dt.timedelta(minutes=rng.randrange(600)))},
            "author": {"__type": "Pointer", "className": "Author", "objectId": rng.choice(authors)},
            "location": {"__type": "GeoPoint", "latitude": round(rng.uniform(-90, 90), 6),
                         "longitude": round(rng.uniform(-180, 180), 6)},
        })
    return rows


def make_page(n: int = ROWS, rows: Any = make_rows) -> bytes:
    """The JSON body of one query page of ``n`` rows made by ``rows``, encoded as LeanCloud does (UTF-8,
    compact)."""
    return json.dumps({"results": rows(n)}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def serve(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server (not started) that answers the canned pages; ``port=0`` picks a free port."""
    bodies = {"/1.1/classes/Post": make_page(), "/1.1/classes/Checkin": make_page(rows=make_checkin_rows)}

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as LeanCloud's front end does: a pooled client pays the TCP
        # handshake once, so the measurement is about reading rows, not about connecting
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = bodies.get(self.path.split("?", 1)[0])
            if body is None:
                payload = b'{"code":404,"error":"not found"}'
                self.send_response(404)
            else:
                payload = body
                self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: one line per request would cost more than the request

    return _QuietServer((host, port), Handler)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients drop their pooled keep-alive connection when they exit: that is not an error here
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


if __name__ == "__main__":
    server = serve()
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.exit(0)
