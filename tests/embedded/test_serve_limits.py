"""``leanorm serve`` against clients that misbehave: thousands of short connections under a low open-files
limit, clients trickling their bytes, more clients than it takes at once, and SIGTERM."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tests.served import APP_ID, APP_KEY, ROOT, Served, serve

HEADERS = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY, "Content-Type": "application/json"}


def request(served: Served, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    """One request on a connection of its own, closed afterwards: the status and the decoded answer."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=HEADERS)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_thousands_of_short_connections_under_a_low_open_files_limit(tmp_path: Path) -> None:
    """Each connection's database work is done on a pooled connection given back afterwards: with 256
    open files 5,000 clients coming and going (each reading the database) are all answered."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1", open_files=256) as served:
        assert request(served, "POST", "/1.1/classes/ShortLived", {"n": 1})[0] == 201
        statuses: Dict[int, int] = {}
        for _ in range(5000):
            status, _ = request(served, "GET", "/1.1/classes/ShortLived?where=%7B%22n%22%3A1%7D")
            statuses[status] = statuses.get(status, 0) + 1
        assert statuses == {200: 5000}
        assert request(served, "POST", "/1.1/classes/ShortLived", {"n": 2})[0] == 201


class Trickler(threading.Thread):
    """A client sending ``head`` then ``body`` a byte at a time; records how the server ended it."""

    def __init__(self, served: Served, head: bytes, body: bytes = b"", pause: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", served.port))
        self.head, self.body, self.pause = head, body, pause
        self.sent_all = False
        self.answer = b""
        self.started_trickling = threading.Event()

    def run(self) -> None:
        stop = threading.Event()
        try:
            self.sock.sendall(self.head)
            self.started_trickling.set()
            for byte in self.body:
                self.sock.sendall(bytes([byte]))
                stop.wait(self.pause)
            self.sent_all = True
        except OSError:  # cut off while sending
            pass
        with contextlib.suppress(OSError):
            self.sock.settimeout(30)
            self.answer = self.sock.recv(1024)
        self.sock.close()


def _head(method: str, path: str, length: Optional[int] = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in HEADERS.items())]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_client_trickling_its_body_is_cut_off_while_others_are_served(tmp_path: Path) -> None:
    """One worker with one thread: a body trickled for far longer than --read-timeout is answered 408
    before it is complete, and requests on other connections are answered meanwhile."""
    body = json.dumps({"text": "x" * 300}).encode()
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--threads", "1", "--read-timeout", "1") as served:
        slow = Trickler(served, _head("POST", "/1.1/classes/Trickled", len(body)), body)
        slow.start()
        slow.started_trickling.wait(10)
        answered = [request(served, "GET", "/1.1/date")[0] for _ in range(5)]
        slow.join(60)
        assert answered == [200] * 5
        assert not slow.sent_all and slow.answer.startswith(b"HTTP/1.1 408")
        assert request(served, "GET", "/1.1/classes/Trickled") == (200, {"results": []})  # nothing stored


def test_a_client_trickling_its_headers_is_cut_off_while_others_are_served(tmp_path: Path) -> None:
    head = _head("GET", "/1.1/date")
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--threads", "1", "--read-timeout", "1") as served:
        slow = Trickler(served, head[:10], head[10:])
        slow.start()
        slow.started_trickling.wait(10)
        answered = [request(served, "GET", "/1.1/date")[0] for _ in range(5)]
        slow.join(60)
        assert answered == [200] * 5
        assert not slow.sent_all and slow.answer == b""


def test_clients_beyond_the_cap_wait_and_the_server_keeps_serving(tmp_path: Path) -> None:
    """With --max-connections 2, twelve clients stalled in their headers hold every slot until the read
    timeout ends them; a client arriving meanwhile is queued, not refused, and then answered."""
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--max-connections", "2",
                 "--read-timeout", "1") as served:
        stalled: List[socket.socket] = []
        for _ in range(12):
            sock = socket.create_connection(("127.0.0.1", served.port))
            sock.sendall(b"GET /1.1/date HTTP/1.1\r\n")
            stalled.append(sock)
        try:
            assert request(served, "GET", "/1.1/date")[0] == 200
            for sock in stalled:
                sock.settimeout(30)
                assert sock.recv(1024) == b""  # closed by the server, never answered
        finally:
            for sock in stalled:
                sock.close()
        assert [request(served, "GET", "/1.1/date")[0] for _ in range(3)] == [200] * 3


def test_a_second_server_on_a_port_in_use_is_refused(tmp_path: Path) -> None:
    """The workers share their port with each other, never with another server: a second ``leanorm
    serve`` on the same port exits with an error instead of taking half of the first one's clients."""
    with serve(tmp_path / "first.sqlite3", "--workers", "2") as first:
        second = subprocess.run(
            [sys.executable, "-m", "leanorm.cli", "serve", "--db", str(tmp_path / "second.sqlite3"),
             "--port", str(first.port), "--workers", "1"],
            capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert second.returncode != 0 and "cannot listen" in second.stderr
        assert request(first, "GET", "/1.1/date")[0] == 200


def test_workers_stop_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """Killed main process (SIGKILL, a crash): its workers get SIGTERM and stop, none is left serving."""
    with serve(tmp_path / "app.sqlite3", "--workers", "2") as served:
        workers = subprocess.run(["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True).stdout
        served.process.kill()
        served.process.wait()
        survivors = [pid for pid in map(int, workers.split()) if not _ends(pid)]
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        assert workers.split() and survivors == []


#: a worker whose SIGTERM is taken and lost (as by one still starting when its main process died)
_DEAF_WORKER = """
import os, signal
from leanorm.embedded import serving
serving.ORPHAN_CHECK, serving.ORPHAN_GRACE = 0.05, 0.5
signal.signal(signal.SIGTERM, lambda *_: None)
print("watching", flush=True)
serving._watch_the_main_process(os.getppid())
"""


def test_a_worker_left_by_its_main_process_exits_even_when_its_sigterm_was_lost() -> None:
    """The death signal alone was not enough: one that came while a worker was starting could be taken
    before its server ran, and the worker served on (one outlived its main process in a loaded run)."""
    main = subprocess.Popen([sys.executable, "-c", "import subprocess, sys\n"
                             f"worker = subprocess.Popen([sys.executable, '-c', {_DEAF_WORKER!r}], "
                             "stdout=subprocess.PIPE, text=True)\n"
                             "assert worker.stdout.readline() == 'watching\\n'\n"
                             "print(worker.pid, flush=True)"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    worker = int(main.communicate(timeout=60)[0])  # the main process has exited: its worker is adopted
    ended = _ends(worker)
    if not ended:
        os.kill(worker, signal.SIGKILL)
    assert ended


def _ends(pid: int) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within 30 seconds."""
    for _ in range(300):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return True
        except FileNotFoundError:
            return True
        threading.Event().wait(0.1)
    return False


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "2") as served:
        assert request(served, "POST", "/1.1/classes/Stopped", {"n": 1})[0] == 201
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=60) == 0
        with serve(tmp_path / "app.sqlite3", "--workers", "1") as again:  # the data survived the stop
            status, found = request(again, "GET", "/1.1/classes/Stopped")
            assert (status, [row["n"] for row in found["results"]]) == (200, [1])
