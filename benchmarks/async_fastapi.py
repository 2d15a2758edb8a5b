"""The same FastAPI endpoints on leanorm's async API and on its sync API in FastAPI's thread pool.

    python benchmarks/async_fastapi.py                           # against leanorm serve (started here)
    LEANORM_PARSE_URL=parse://... python benchmarks/async_fastapi.py --backend parse   # a running Parse Server

Two endpoints, each written twice (``async def`` awaiting the async API; ``def`` calling the sync API,
which FastAPI runs in its thread pool): ``GET /page`` reads 20 posts with their authors (a pointer,
``select_related``), ``POST /write`` creates one post. 64 clients (``--clients``) send requests one
after the other for ``--seconds`` each, in-process through httpx's ASGI transport (no server socket in
front of the app; the backend is reached over HTTP as in production). Each variant runs ``--rounds``
times, alternated, and the medians are printed as a markdown table: requests/s per variant and their
ratio, the client process's CPU per request (divide by 20 for the read's CPU per row), the backend's (the
processes listening on its port, and their children) and the load average (the machine may be shared).

``--rtt MS`` puts a link with that round-trip time between the app and the backend
(``benchmarks/slow_link.py``, in a process of its own), as when the backend is in another data centre:
there the thread pool's threads (40, anyio's default), not the CPU, bound the sync variant.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI

import leanorm
from leanorm import IntegerField, Model, PointerField, StringField
from leanorm.transport import HTTPTransport

ROOT = Path(__file__).resolve().parent
PAGE = 20


class BenchAuthor(Model):
    name: StringField[str] = StringField(required=True)


class BenchPost(Model):
    title: StringField[str] = StringField(required=True)
    score: IntegerField[int] = IntegerField(default=0)
    author: PointerField[Optional[BenchAuthor]] = PointerField(BenchAuthor)


def _row(post: BenchPost) -> Dict[str, Any]:
    author = post.author
    return {"id": post.id, "title": post.title, "score": post.score, "author": author.name if author else None}


def async_app() -> FastAPI:
    app = FastAPI()

    @app.get("/page")
    async def page() -> Any:
        return [_row(p) async for p in BenchPost.objects.select_related("author").order_by("-score")[:PAGE]]

    @app.post("/write")
    async def write() -> Any:
        return {"id": (await BenchPost.objects.acreate(title="written", score=1)).id}

    return app


def sync_app() -> FastAPI:
    app = FastAPI()

    @app.get("/page")
    def page() -> Any:
        return [_row(p) for p in BenchPost.objects.select_related("author").order_by("-score")[:PAGE]]

    @app.post("/write")
    def write() -> Any:
        return {"id": BenchPost.objects.create(title="written", score=1).id}

    return app


async def drive(app: FastAPI, method: str, path: str, clients: int, seconds: float) -> Dict[str, float]:
    """``clients`` clients sending ``method path`` back to back for ``seconds``: requests/s, CPU per request."""
    transport = httpx.ASGITransport(app=app)
    done = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as web:
        await web.request(method, path)  # warm: connections, first-use imports
        stop = time.monotonic() + seconds
        cpu, started = time.process_time(), time.monotonic()

        async def client() -> None:
            nonlocal done
            while time.monotonic() < stop:
                answer = await web.request(method, path)
                answer.raise_for_status()
                done += 1

        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    return {"rps": done / elapsed, "cpu_per_request": cpu / max(done, 1), "done": done}


def listening_pids(port: int) -> List[int]:
    """The processes listening on TCP ``port`` of this machine (Linux ``/proc``; none elsewhere)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                pids.append(int(pid))
    return pids


def process_tree(pids: List[int]) -> List[int]:
    """``pids`` and their descendants."""
    parents: Dict[int, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as stat:
            parents[int(pid)] = int(stat.read().rsplit(")", 1)[1].split()[1])
    tree = set(pids)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def cpu_seconds(pids: List[int]) -> float:
    """The CPU time (user + system) the processes ``pids`` have used so far."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def seed() -> None:
    authors = BenchAuthor.objects.bulk_create([BenchAuthor(name=f"a{i}") for i in range(20)])
    BenchPost.objects.bulk_create([BenchPost(title=f"p{i}", score=i, author=authors[i % 20]) for i in range(200)])


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    if name == "parse":
        url = os.environ.get("LEANORM_PARSE_URL")
        if not url:
            raise SystemExit("--backend parse needs LEANORM_PARSE_URL (scripts/parse-server env)")
        yield url
        return
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "serve_load.py")
    assert spec is not None and spec.loader is not None
    serve_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve_load)
    with tempfile.TemporaryDirectory() as tmp, \
            serve_load.leanorm_serve(2, str(Path(tmp) / "bench.sqlite3")) as (base,):
        host = base.split("://", 1)[1].rsplit("/parse", 1)[0]
        yield f"parse://{serve_load.APP_ID}:{serve_load.REST_KEY}@{host}/parse?master_key={serve_load.MASTER_KEY}"


@contextlib.contextmanager
def slow_link(url: str, rtt: float) -> Iterator[str]:
    """``url`` reached through ``benchmarks/slow_link.py`` adding ``rtt`` milliseconds (none when 0)."""
    if not rtt:
        yield url
        return
    parts = urlsplit(url)
    link = subprocess.Popen([sys.executable, str(ROOT / "slow_link.py"), "--to", f"{parts.hostname}:{parts.port}",
                             "--rtt", str(rtt)], stdout=subprocess.PIPE, text=True)
    try:
        assert link.stdout is not None
        port = int(link.stdout.readline().split()[-1])  # "slow link on PORT"
        yield urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}"))
    finally:
        link.terminate()
        link.wait()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["serve", "parse"], default="serve")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pool", type=int, default=10, help="connections the sync transport keeps")
    parser.add_argument("--rtt", type=float, default=0.0, help="milliseconds of round trip to the backend")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternated")
    args = parser.parse_args(argv)
    with backend(args.backend) as direct, slow_link(direct, args.rtt) as url:
        client = leanorm.connect(url)
        assert isinstance(client.transport, HTTPTransport)
        client.transport = HTTPTransport(client.transport.base_url, pool_size=args.pool)
        with leanorm.using_master():
            BenchPost.objects.all().delete()
            BenchAuthor.objects.all().delete()
        seed()
        apps: Dict[str, Callable[[], FastAPI]] = {"async": async_app, "threadpool": sync_app}
        backend_pids = process_tree(listening_pids(urlsplit(direct).port or 80))
        print(f"backend {args.backend}, {args.clients} clients, {args.seconds:g} s per cell, {args.rounds} "
              f"rounds (medians), round trip +{args.rtt:g} ms\n")
        print("| endpoint | async req/s | threadpool req/s | async/threadpool | client CPU µs/req async "
              "| threadpool | backend CPU µs/req async | threadpool | load (1 min) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for method, path in (("GET", "/page"), ("POST", "/write")):
            runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in apps}
            loads = []
            for _ in range(args.rounds):  # alternated: a shared machine's load changes under a run
                for name, make in apps.items():
                    before = cpu_seconds(backend_pids)
                    result = asyncio.run(drive(make(), method, path, args.clients, args.seconds))
                    result["backend_per_request"] = (cpu_seconds(backend_pids) - before) / max(result["done"], 1)
                    runs[name].append(result)
                    loads.append(os.getloadavg()[0])
            med = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
            print(f"| {method} {path} | {med['async']['rps']:.0f} | {med['threadpool']['rps']:.0f} | "
                  f"{med['async']['rps'] / med['threadpool']['rps']:.2f}x | "
                  f"{med['async']['cpu_per_request'] * 1e6:.0f} | {med['threadpool']['cpu_per_request'] * 1e6:.0f} | "
                  f"{med['async']['backend_per_request'] * 1e6:.0f} | "
                  f"{med['threadpool']['backend_per_request'] * 1e6:.0f} | {min(loads):.1f}–{max(loads):.1f} |")
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
