"""Live queries under load: 1,000 subscribers, 100 writes a second, delivery latency (issue 23).

Each subscriber is one WebSocket connection with one subscription, as a phone app holds one: 1,000
connections spread over ``--rooms`` chat rooms (``where: {"room": N}``). A writer creates ``--rate``
objects a second over HTTP, each in a random room and stamped with the time it was sent; every
subscriber of that room must receive its ``create``. Reported: events expected and delivered, and the
delivery latency (send of the write to receipt of the event) at p50, p99 and the worst, with the
machine's load average.

    python benchmarks/live_queries.py                       # starts `leanorm serve` (2 workers) itself
    python benchmarks/live_queries.py --http http://127.0.0.1:1337/parse --ws ws://127.0.0.1:1337/parse \\
        --app-id ID --rest-key KEY --master-key MKEY       # any Parse LiveQuery server (Parse Server)

The clients run in this one process (asyncio, the ``websockets`` package): on a small machine they
compete with the server for the CPU, which is why the result carries the load average.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import httpx
import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start_serve(workers: int, subscribers: int) -> Tuple[subprocess.Popen, str, str]:
    """``leanorm serve`` on a fresh database, allowing this machine's ``subscribers`` connections."""
    folder = tempfile.mkdtemp(prefix="leanorm-live-bench-")
    process = subprocess.Popen(
        [sys.executable, "-m", "leanorm.cli", "serve", "--db", os.path.join(folder, "app.sqlite3"), "--port", "0",
         "--app-id", "bench", "--app-key", "bench-key", "--master-key", "bench-master", "--client-class-creation",
         "--workers", str(workers), "--live-connections-per-address", str(subscribers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT})
    assert process.stdout is not None
    line = process.stdout.readline()
    port = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not port:
        process.kill()
        raise SystemExit(f"leanorm serve did not start: {line}{process.stdout.read()}")
    base = f"127.0.0.1:{port.group(1)}"
    for _ in range(100):
        try:
            if httpx.get(f"http://{base}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, f"http://{base}/parse", f"ws://{base}/parse"


class Subscriber:
    """One connection subscribed to one room; records each event's latency."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.latencies: List[float] = []
        self.ws: Any = None

    async def open(self, url: str, app_id: str, key: str) -> None:
        self.ws = await websockets.connect(url, max_size=None, open_timeout=60)
        await self.ws.send(json.dumps({"op": "connect", "applicationId": app_id, "javascriptKey": key,
                                       "restAPIKey": key}))
        answer = json.loads(await self.ws.recv())
        assert answer["op"] == "connected", answer
        await self.ws.send(json.dumps({"op": "subscribe", "requestId": 1,
                                       "query": {"className": "BenchRoom", "where": {"room": self.room}}}))
        answer = json.loads(await self.ws.recv())
        assert answer["op"] == "subscribed", answer

    async def listen(self) -> None:
        async for raw in self.ws:
            now = time.time()
            message = json.loads(raw)
            if message.get("op") == "create":
                self.latencies.append(now - message["object"]["sentAt"])


async def _write(http: str, headers: Dict[str, str], rate: float, seconds: float, rooms: int,
                 per_room: Dict[int, int]) -> int:
    """Create ``rate`` objects a second for ``seconds``; the events they should make."""
    expected = 0
    async with httpx.AsyncClient(headers=headers, limits=httpx.Limits(max_connections=8), timeout=30) as client:
        start = time.monotonic()
        pending = []
        for n in range(int(rate * seconds)):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            room = random.randrange(rooms)
            expected += per_room[room]
            pending.append(asyncio.ensure_future(client.post(f"{http}/classes/BenchRoom",
                                                             json={"room": room, "sentAt": time.time()})))
        for response in await asyncio.gather(*pending):
            response.raise_for_status()
    return expected


async def run(args: argparse.Namespace) -> Dict[str, Any]:
    headers = {"X-Parse-Application-Id": args.app_id, "X-Parse-REST-API-Key": args.rest_key,
               "Content-Type": "application/json"}
    master = {**headers, "X-Parse-Master-Key": args.master_key}
    async with httpx.AsyncClient(headers=master, timeout=30) as client:  # the class exists before anyone listens
        (await client.post(f"{args.http}/classes/BenchRoom", json={"room": -1, "sentAt": 0})).raise_for_status()
    subscribers = [Subscriber(i % args.rooms) for i in range(args.subscribers)]
    for start in range(0, len(subscribers), 50):  # connect in waves, as clients come online
        await asyncio.gather(*(s.open(args.ws, args.app_id, args.rest_key) for s in subscribers[start:start + 50]))
    listeners = [asyncio.ensure_future(s.listen()) for s in subscribers]
    per_room: Dict[int, int] = {}
    for s in subscribers:
        per_room[s.room] = per_room.get(s.room, 0) + 1
    load_before = os.getloadavg()[0]
    expected = await _write(args.http, headers, args.rate, args.seconds, args.rooms, per_room)
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and sum(len(s.latencies) for s in subscribers) < expected:
        await asyncio.sleep(0.1)
    load_after = os.getloadavg()[0]
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)
    latencies = sorted(x for s in subscribers for x in s.latencies)
    quantile = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000) if latencies \
        else (lambda q: float("nan"))
    return {"subscribers": args.subscribers, "rooms": args.rooms, "writes_per_s": args.rate,
            "seconds": args.seconds, "events_expected": expected, "events_delivered": len(latencies),
            "p50_ms": round(quantile(0.5), 1), "p99_ms": round(quantile(0.99), 1),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "mean_ms": round(statistics.mean(latencies) * 1000, 1) if latencies else None,
            "load_avg_1m": [round(load_before, 2), round(load_after, 2)], "cpus": os.cpu_count()}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", help="the Parse API's base URL (default: start leanorm serve)")
    parser.add_argument("--ws", help="the LiveQuery WebSocket URL")
    parser.add_argument("--app-id", default="bench")
    parser.add_argument("--rest-key", default="bench-key")
    parser.add_argument("--master-key", default="bench-master")
    parser.add_argument("--workers", type=int, default=2, help="leanorm serve's workers (when started here)")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="writes a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for the last events")
    args = parser.parse_args(argv)
    process = None
    if not args.http:
        process, args.http, args.ws = _start_serve(args.workers, args.subscribers)
    try:
        print(json.dumps(asyncio.run(run(args))))
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
