"""The same FastAPI endpoints on leanorm's async API and on its sync API in FastAPI's thread pool.

    python benchmarks/async_fastapi.py                           # against leanorm serve (started here)
    LEANORM_PARSE_URL=parse://... python benchmarks/async_fastapi.py --backend parse   # a running Parse Server

Two endpoints, each written twice (``async def`` awaiting the async API; ``def`` calling the sync API,
which FastAPI runs in its thread pool): ``GET /page`` reads 20 posts with their authors (a pointer,
``select_related``), ``POST /write`` creates one post. 64 clients (``--clients``) send requests one
after the other for ``--seconds`` each, in-process through httpx's ASGI transport (no server socket in
front of the app; the backend is reached over HTTP as in production). Prints a markdown table:
requests/s per variant and their ratio, and for the read the process CPU per row read.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

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
    return {"rps": done / elapsed, "cpu_per_request": cpu / max(done, 1)}


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
    with tempfile.TemporaryDirectory() as tmp, serve_load.leanorm_serve(2, Path(tmp)) as base:
        host = base.split("://", 1)[1].rsplit("/parse", 1)[0]
        yield f"parse://{serve_load.APP_ID}:{serve_load.REST_KEY}@{host}/parse?master_key={serve_load.MASTER_KEY}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["serve", "parse"], default="serve")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pool", type=int, default=10, help="connections to the backend (both variants)")
    args = parser.parse_args(argv)
    with backend(args.backend) as url:
        client = leanorm.connect(url)
        assert isinstance(client.transport, HTTPTransport)
        client.transport = HTTPTransport(client.transport.base_url, pool_size=args.pool)
        with leanorm.using_master():
            BenchPost.objects.all().delete()
            BenchAuthor.objects.all().delete()
        seed()
        apps: Dict[str, Callable[[], FastAPI]] = {"async": async_app, "threadpool": sync_app}
        print(f"backend {args.backend}, {args.clients} clients, {args.seconds:g} s per cell\n")
        print("| endpoint | async req/s | threadpool req/s | async/threadpool | async CPU µs/row "
              "| threadpool CPU µs/row |")
        print("|---|---:|---:|---:|---:|---:|")
        for method, path in (("GET", "/page"), ("POST", "/write")):
            results = {name: asyncio.run(drive(make(), method, path, args.clients, args.seconds))
                       for name, make in apps.items()}
            per_row = [f"{results[n]['cpu_per_request'] / PAGE * 1e6:.0f}" if path == "/page" else "" for n in apps]
            print(f"| {method} {path} | {results['async']['rps']:.0f} | {results['threadpool']['rps']:.0f} | "
                  f"{results['async']['rps'] / results['threadpool']['rps']:.2f}x | {per_row[0]} | {per_row[1]} |")
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
