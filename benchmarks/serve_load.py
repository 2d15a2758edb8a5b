"""Throughput and p99 of ``leanorm serve`` against Parse Server under concurrent clients (wrk).

    python benchmarks/serve_load.py                    # --duration 8 --connections 16 64 --workers N
    python benchmarks/serve_load.py --servers serve    # leanorm serve alone (no Parse Server, no ratio)
    python benchmarks/serve_load.py --db postgresql://user:pass@127.0.0.1:5432/empty_db --nodes 2
                                                       # two serve nodes over one PostgreSQL database

Starts ``leanorm serve`` over a fresh database and a Parse Server of its own (``scripts/parse-server start``
on a free port, with its own PostgreSQL database; stopped afterwards, the shared one on 1337 is left alone),
loads the same objects into both through the Parse dialect, then runs wrk (installed from Debian when
missing) against each server in turn, workload by workload, so both see the same moment of a shared
machine. Every request is the same bytes for both servers (``/parse/`` paths, Parse headers) except
the port. Prints a markdown table: requests/s, p99 latency, errors (socket errors and non-2xx answers),
and serve/Parse throughput.

``--cpu`` adds columns: the CPU each server's processes (serve's main one and its workers, Parse
Server's node process; every thread) spent per answered request during its run, in milliseconds, from
``/proc`` (Linux), and PostgreSQL's (all its processes) during the same run. On a shared machine these
move far less than requests/s: they are what to compare when changing the serving layer, and their sum is
what a request costs a machine where the servers and the database share the cores.

``--db`` puts serve's data in another store (an empty PostgreSQL database: docs/deploying.md);
``--nodes N`` starts N ``leanorm serve`` processes over it, each loaded by its own wrk with an N-th of
the connections at the same time (as a load balancer would spread them): requests/s are summed, p99 is
the worst node's. Parse Server runs as one node.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional

ROOT = Path(__file__).resolve().parents[1]
APP_ID, REST_KEY, MASTER_KEY = "leanorm-test", "leanorm-rest", "leanorm-master"  # scripts/parse-server's keys
OBJECTS = 2000
#: the process id of each server (a serve node, Parse Server), by its base URL (``--cpu`` reads their CPU time)
SERVER_PIDS: Dict[str, int] = {}
#: the servers measured, by their --servers name: the name their columns carry
SERVERS = {"serve": "serve", "parse": "Parse"}
CLASS = "LoadItem"

#: name → Lua statements returning the method, the path after /parse/ and the body (or nil) of one request
WORKLOADS: Dict[str, str] = {
    "equality": f"""local name = "n" .. math.random(0, {OBJECTS - 1})
  return "GET", "classes/{CLASS}?where=" .. enc('{{"name":"' .. name .. '"}}'), nil""",
    "range": f"""local low = math.random(0, {OBJECTS - 20})
  local where = '{{"score":{{"$gte":' .. low .. ',"$lt":' .. (low + 20) .. '}}}}'
  return "GET", "classes/{CLASS}?limit=20&where=" .. enc(where), nil""",
    "count": f"""local where = '{{"group":' .. math.random(0, 9) .. '}}'
  return "GET", "classes/{CLASS}?count=1&limit=0&where=" .. enc(where), nil""",
    "create": """local body = '{"score":' .. math.random(0, 1000000) .. ',"name":"created","group":1}'
  return "POST", "classes/LoadCreated", body""",
    "increment": f"""local body = '{{"counter":{{"__op":"Increment","amount":1}}}}'
  return "PUT", "classes/{CLASS}/" .. ids[math.random(1, #ids)], body""",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrk() -> str:
    """wrk's path, installing the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                                                                              "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or "wrk"


def _call(base: str, method: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        f"{base}/{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def load(base: str) -> List[str]:
    """The same objects in both servers: score 0..N-1, name n<score>, group score % 10; their ids."""
    ids: List[str] = []
    for start in range(0, OBJECTS, 50):
        requests = [{"method": "POST", "path": f"/parse/classes/{CLASS}",
                     "body": {"score": i, "name": f"n{i}", "group": i % 10, "counter": 0}}
                    for i in range(start, min(start + 50, OBJECTS))]
        answers = _call(base, "POST", "batch", {"requests": requests})
        assert isinstance(answers, list)
        ids.extend(a["success"]["objectId"] for a in answers)
    return ids


@contextlib.contextmanager
def leanorm_serve(workers: int, database: str, nodes: int = 1, threads: Optional[int] = None) -> Iterator[List[str]]:
    """``nodes`` ``leanorm serve`` processes over ``database``; their base URLs."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(_serve_node(workers, database, threads)) for _ in range(nodes)]


@contextlib.contextmanager
def _serve_node(workers: int, database: str, threads: Optional[int] = None) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "leanorm.cli", "serve", "--db", database, "--port", str(port),
               "--app-id", APP_ID, "--app-key", REST_KEY, "--master-key", MASTER_KEY, "--workers", str(workers),
               "--client-class-creation"]  # the create workload makes its class as a client (Parse's default)
    for field in ("score", "name", "group"):
        command += ["--index", f"{CLASS}.{field}"]
    command += [] if threads is None else ["--threads", str(threads)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/parse", process)
        SERVER_PIDS[f"http://127.0.0.1:{port}/parse"] = process.pid
        yield f"http://127.0.0.1:{port}/parse"
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextlib.contextmanager
def parse_server(script: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "LEANORM_PARSE_PORT": str(port)}
    subprocess.run(["bash", str(script), "start"], check=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}/parse"
        SERVER_PIDS[base] = _parse_server_pid(port)
        # the indexes serve gets from --index (Parse creates them through its schema API)
        _call(base, "POST", f"schemas/{CLASS}", {"className": CLASS, "fields": {
            "score": {"type": "Number"}, "name": {"type": "String"}, "group": {"type": "Number"},
            "counter": {"type": "Number"}}, "indexes": {f"{f}_1": {f: 1} for f in ("score", "name", "group")}})
        yield base
    finally:
        subprocess.run(["bash", str(script), "stop"], check=False, env=env)


def _parse_server_pid(port: int) -> int:
    """The node process scripts/parse-server started for ``port`` (its command names config-PORT.json)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"config-{port}.json".encode() in cmdline.read_bytes():
                return int(cmdline.parent.name)
        except OSError:
            continue
    raise SystemExit(f"no Parse Server process found for port {port}")


def _wait(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"leanorm serve exited with {process.returncode}")
        try:
            _call(url, "GET", "classes/_Installation?limit=0")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def lua_script(workload: str, ids: List[str], directory: Path) -> Path:
    script = directory / f"{workload}.lua"
    script.write_text(f"""
local ids = {{{",".join(f'"{i}"' for i in ids)}}}
local function enc(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local headers = {{["X-Parse-Application-Id"] = "{APP_ID}", ["X-Parse-REST-API-Key"] = "{REST_KEY}",
                 ["Content-Type"] = "application/json"}}
local function next_request()
  {WORKLOADS[workload]}
end
function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1000000)) end
function request()
  local method, path, body = next_request()
  return wrk.format(method, "/parse/" .. path, headers, body)
end
""")
    return script


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system, every thread) of ``pid`` and of every process below it, in seconds."""
    children: Dict[int, List[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    ticks, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending.extend(children.get(current, ()))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgresql_cpu_seconds() -> float:
    """The CPU time of every PostgreSQL process on the machine (its server and backends), in seconds."""
    ticks = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("postgres"):
                fields = (comm.parent / "stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk_nodes(wrk: str, bases: List[str], script: Path, connections: int, duration: int) -> Dict[str, float]:
    """wrk against every node at once, the connections split between them: the rates summed, the worst
    p99, the errors summed, the servers' and PostgreSQL's CPU milliseconds per answered request."""
    share = max(1, connections // len(bases))
    pids = [SERVER_PIDS[base] for base in bases if base in SERVER_PIDS]
    cpu_before, pg_before = sum(cpu_seconds(pid) for pid in pids), postgresql_cpu_seconds()
    with concurrent.futures.ThreadPoolExecutor(len(bases)) as pool:
        runs = list(pool.map(lambda base: run_wrk(wrk, base, script, share, duration), bases))
    cpu, pg = sum(cpu_seconds(pid) for pid in pids) - cpu_before, postgresql_cpu_seconds() - pg_before
    answered = sum(r["requests"] for r in runs)
    return {"rate": sum(r["rate"] for r in runs), "p99": max(r["p99"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "cpu_ms": cpu * 1000 / answered if pids and answered else float("nan"),
            "pg_ms": pg * 1000 / answered if answered else float("nan")}


def run_wrk(wrk: str, base: str, script: Path, connections: int, duration: int) -> Dict[str, float]:
    done = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
                           "-s", str(script), base.rsplit("/parse", 1)[0]], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99, out
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "p99": p99_ms, "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
            "requests": requests}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per run (default 8)")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="leanorm serve --workers")
    parser.add_argument("--threads", type=int, help="leanorm serve --threads (default: serve's)")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS),
                        help="which servers to measure (default both; serve alone leaves the ratio out)")
    parser.add_argument("--db", help="serve's store (default: a fresh SQLite file); an empty PostgreSQL "
                                     "database's postgresql:// URL")
    parser.add_argument("--cpu", action="store_true",
                        help="also report serve's CPU milliseconds per request (its processes, from /proc)")
    parser.add_argument("--nodes", type=int, default=1, help="leanorm serve processes over the store (default 1)")
    parser.add_argument("--parse-server-script", type=Path, default=ROOT / "scripts" / "parse-server",
                        help="the scripts/parse-server to start Parse Server with (default: this checkout's)")
    args = parser.parse_args(argv)
    wrk = _wrk()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp, contextlib.ExitStack() as stack:
        database = args.db or str(Path(tmp) / "load.sqlite3")
        bases = {"serve": stack.enter_context(leanorm_serve(args.workers, database, args.nodes, args.threads))} \
            if "serve" in args.servers else {}
        if "parse" in args.servers:
            bases["parse"] = [stack.enter_context(parse_server(args.parse_server_script))]
        ids = {name: load(nodes[0]) for name, nodes in bases.items()}
        both = len(bases) == 2
        on_pg = database.startswith("postgres")
        columns = [f"{SERVERS[name]} {c}" for name in bases for c in ("req/s", "p99 ms", "errors")]
        columns += ["serve/Parse"] if both else []
        columns += [f"{SERVERS[name]} CPU ms/req{' (its PostgreSQL)' if name == 'parse' or on_pg else ''}"
                    for name in bases] if args.cpu else []
        print(f"| workload | connections | {' | '.join(columns)} |\n|---|---:|{'---:|' * len(columns)}", flush=True)
        for workload in args.workloads:
            for connections in args.connections:
                cells, cpu = [], []
                for name, base in bases.items():  # side by side: the same moment of the machine
                    script = lua_script(workload, ids[name], Path(tmp))
                    run_wrk_nodes(wrk, base, script, connections, 1)  # warm-up: connections, caches, JIT
                    r = run_wrk_nodes(wrk, base, script, connections, args.duration)
                    cells += [r["rate"], r["p99"], r["errors"]]
                    uses_pg = name == "parse" or on_pg
                    cpu.append(f"{r['cpu_ms']:.3f}" + (f" ({r['pg_ms']:.3f})" if uses_pg else ""))
                text = [f"{cells[i]:.0f}" if i % 3 != 1 else f"{cells[i]:.1f}" for i in range(len(cells))]
                text += [f"{cells[0] / cells[3]:.2f}x"] if both else []
                text += cpu if args.cpu else []
                print(f"| {workload} | {connections} | {' | '.join(text)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
