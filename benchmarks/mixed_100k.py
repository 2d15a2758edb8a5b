"""Mixed workload on 100k objects, the same leanorm code against each backend.

Backends (``--backends``, default every one available):

- ``embedded``: ``local:///<tmp>/bench.sqlite3``, the embedded backend in-process (a file database, WAL),
  with ``create_index`` on every queried field and ``create_counter`` on ``group`` (``--no-counters``: the
  indexes alone);
- ``served``: the same engine behind ``leanorm serve`` (a subprocess, same indexes and counter), reached
  over HTTP with ``leancloud+http://``: the embedded engine as a server, comparable with Parse Server's
  transport;
- ``parse``: the running Parse Server (``LEANORM_PARSE_URL``; ``eval "$(bash scripts/parse-server env)"``),
  with the same indexes declared through its schema API.

Workload, per backend: bulk insert of N objects with ``bulk_create`` (batches of 50), then rounds of
indexed equality queries (one row by a unique code; 100 rows by score), an indexed range query
(100 rows), two counts (10% of the objects by equality and by range), a dashboard's counts (one
``count()`` per group, all ten; and all ten in one ``aggregate`` request with ``$group``, master key)
and an update (an ``Increment`` saved on a loaded object). Every round uses new random parameters; each
operation's time is the **median** over the rounds. The operations take turns within a round, so a busy
moment of the shared machine hits all of them alike. Last, a fresh process (so that memory freed after the insert cannot
hide a rise) reads every object once with ``iterator()``: its time, and how far its peak resident
memory rose above what it used before (Linux: the peak is reset first).

Usage::

    python benchmarks/mixed_100k.py                 # 100k objects, 30 rounds, every available backend
    python benchmarks/mixed_100k.py --objects 5000 --rounds 5 --backends embedded
    python benchmarks/mixed_100k.py --objects 1000000 --rounds 10 --backends embedded --fast-load
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import leanorm  # noqa: E402
from leanorm import FloatField, IntegerField, Model, StringField  # noqa: E402
from leanorm.client import Client  # noqa: E402

CLASS = "BenchItem"
GROUPS = 10          # group = "g0".."g9": a count by group matches 10% of the objects
SCORES = 1000        # score = i % 1000: an equality on score matches N/1000 objects
INDEXED = ("code", "score", "group")
COUNTED = ("group",)  # a dashboard's count per group
#: with ``--fast-load``: how many objects ``bulk_create`` inserts (timed) before SQL writes the rest
FAST_LOAD_TIMED = 10_000
Operation = Callable[[random.Random], Any]


class BenchItem(Model):
    code = StringField()      # unique: "c<i>"
    score = IntegerField()
    group = StringField()
    value = FloatField()
    hits = IntegerField()

    class Meta:
        class_name = CLASS


def documents(n: int) -> Iterator[BenchItem]:
    rng = random.Random(42)
    for i in range(n):
        yield BenchItem(code=f"c{i}", score=i % SCORES, group=f"g{i % GROUPS}", value=rng.random(), hits=0)


# -- backends: a connected client with an empty, indexed class ---------------------------------------------
def embedded(workdir: Path, counters: bool) -> Tuple[Client, Callable[[], None], str]:
    url = f"local://{workdir / 'embedded.sqlite3'}"
    client = leanorm.connect(url, default=False)
    server = client.transport.server  # type: ignore[attr-defined]
    for field in INDEXED:
        server.create_index(CLASS, field)
    for field in COUNTED if counters else ():
        server.create_counter(CLASS, field)
    return client, client.close, url


def served(workdir: Path, counters: bool) -> Tuple[Client, Callable[[], None], str]:
    command = [sys.executable, "-m", "leanorm.cli", "serve", "--db", str(workdir / "served.sqlite3"),
               "--port", "0", "--app-id", "bench", "--app-key", "bench-key", "--master-key", "bench-master",
               *(f"--index={CLASS}.{field}" for field in INDEXED),
               *(f"--counter={CLASS}.{field}" for field in (COUNTED if counters else ()))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    banner = process.stdout.readline()  # type: ignore[union-attr]  # "... on http://127.0.0.1:PORT (...)"
    port = int(banner.split("http://127.0.0.1:")[1].split()[0])
    url = f"leancloud+http://bench:bench-key@127.0.0.1:{port}?master_key=bench-master"
    client = leanorm.connect(url, default=False)

    def stop() -> None:
        client.close()
        process.terminate()
        process.wait(timeout=30)

    return client, stop, url


def parse(workdir: Path, counters: bool) -> Tuple[Client, Callable[[], None], str]:
    """(Parse Server has no counters: ``counters`` changes nothing.)"""
    url = os.environ.get("LEANORM_PARSE_URL")
    if not url:
        raise SystemExit("the parse backend needs LEANORM_PARSE_URL: eval \"$(bash scripts/parse-server env)\"")
    client = leanorm.connect(url, default=False)

    def drop() -> None:
        """Remove the class (the server is shared: its 100k rows must not stay behind)."""
        with leanorm.using_master():
            try:
                client.request("DELETE", f"purge/{CLASS}")
                client.request("DELETE", f"schemas/{CLASS}")
            except leanorm.errors.LeanCloudError:
                pass  # no such class

    def stop() -> None:
        drop()
        client.close()

    drop()
    with leanorm.using_master():
        # Parse Server creates these indexes in PostgreSQL (the same fields the embedded backend indexes)
        client.request("POST", f"schemas/{CLASS}", body={
            "className": CLASS,
            "fields": {"code": {"type": "String"}, "score": {"type": "Number"}, "group": {"type": "String"},
                       "value": {"type": "Number"}, "hits": {"type": "Number"}},
            "indexes": {f"{field}_1": {field: 1} for field in INDEXED}})
    return client, stop, url


BACKENDS = {"embedded": embedded, "served": served, "parse": parse}


# -- the workload --------------------------------------------------------------------------------------------
def operations(n: int, loaded: List[BenchItem]) -> Dict[str, Operation]:
    """The timed operations, each drawing its parameters from the round's random generator."""
    def equal_unique(rng: random.Random) -> Any:
        rows = list(BenchItem.objects.filter(code=f"c{rng.randrange(n)}"))
        assert len(rows) == 1
        return rows

    def equal_100(rng: random.Random) -> Any:
        rows = list(BenchItem.objects.filter(score=rng.randrange(SCORES))[:100])
        assert len(rows) == min(100, n // SCORES)
        return rows

    def range_100(rng: random.Random) -> Any:
        low = rng.randrange(SCORES - 2)
        rows = list(BenchItem.objects.filter(score__gte=low, score__lt=low + 2).order_by("score")[:100])
        assert len(rows) == min(100, 2 * n // SCORES)
        return rows

    def count_equal(rng: random.Random) -> Any:
        count = BenchItem.objects.filter(group=f"g{rng.randrange(GROUPS)}").count()
        assert count == n // GROUPS
        return count

    def dashboard(rng: random.Random) -> Any:
        counts = {f"g{g}": BenchItem.objects.filter(group=f"g{g}").count() for g in range(GROUPS)}
        assert set(counts.values()) == {n // GROUPS}
        return counts

    def dashboard_aggregate(rng: random.Random) -> Any:
        with leanorm.using_master():  # Parse's aggregate endpoint takes the master key only
            rows = BenchItem.objects.all().client.request("GET", f"aggregate/{CLASS}", {"pipeline": json.dumps(
                [{"$group": {"_id": "$group", "count": {"$sum": 1}}}])})["results"]
        assert len(rows) == GROUPS and {row["count"] for row in rows} == {n // GROUPS}, rows
        return rows

    def count_range(rng: random.Random) -> Any:
        low = rng.randrange(SCORES - SCORES // 10)
        count = BenchItem.objects.filter(score__gte=low, score__lt=low + SCORES // 10).count()
        assert count == n // 10
        return count

    def update(rng: random.Random) -> Any:
        obj = rng.choice(loaded)
        obj.increment("hits")
        obj.save()
        return obj

    return {"equality, unique field (1 row)": equal_unique, "equality, 100 rows": equal_100,
            "range, 100 rows, ordered": range_100, f"count by equality ({n // GROUPS:,} rows)": count_equal,
            f"count by range ({n // 10:,} rows)": count_range,
            f"dashboard: count of each of the {GROUPS} groups ({GROUPS} `count()`s)": dashboard,
            "dashboard in one request (aggregate `$group`, master key)": dashboard_aggregate,
            "update (Increment, save)": update}


def fast_load(database: Path, start: int, n: int) -> None:
    """Objects ``start`` to ``n - 1`` as ``documents`` makes them (``value`` aside, which no query reads),
    written into the embedded database file by SQL in one transaction, in the stored layout (sorted
    compact JSON; the schema was learnt from the objects ``bulk_create`` inserted first). Counter
    triggers run as for any insert. ``bulk_create`` commits each object on its own (as every backend
    does for a batch item): a million took 11 to 20 minutes on the shared machine."""
    conn = sqlite3.connect(database, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f'INSERT INTO "c_{CLASS}" WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) '
            "SELECT lower(hex(randomblob(12))), strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'), "
            f"NULL, json_object('code', 'c' || i, 'group', 'g' || (i % {GROUPS}), 'hits', 0, 'score', i % {SCORES}, "
            "'value', (abs(random()) % 1000000) / 1000000.0) FROM n", (start, n - 1))
        conn.execute("COMMIT")
    finally:
        conn.close()


def run_backend(name: str, n: int, rounds: int, workdir: Path, counters: bool, fast: bool) -> Dict[str, Any]:
    client, stop, url = BACKENDS[name](workdir, counters)
    try:
        with leanorm.using(client):
            timed = min(n, FAST_LOAD_TIMED) if fast else n
            print(f"{name}: inserting {n:,} objects ({timed:,} with bulk_create)...", file=sys.stderr, flush=True)
            objs = list(documents(timed))
            gc.collect()
            start = time.perf_counter()
            BenchItem.objects.bulk_create(objs)
            insert_seconds = time.perf_counter() - start
            if timed < n:
                fast_load(workdir / f"{name}.sqlite3", timed, n)
            rng = random.Random(7)
            loaded = list(BenchItem.objects.filter(code__in=[f"c{rng.randrange(n)}" for _ in range(100)]))
            ops = operations(n, loaded)
            for op in ops.values():  # warm-up: connection pool, statement caches, first-call imports
                op(rng)
            seconds: Dict[str, List[float]] = {label: [] for label in ops}
            for _ in range(rounds):
                gc.collect()
                for label, op in ops.items():
                    begin = time.perf_counter()
                    op(rng)
                    seconds[label].append(time.perf_counter() - begin)
            hits = sum(o.hits for o in BenchItem.objects.filter(code__in=[o.code for o in loaded]))
            assert hits == rounds + 1, hits  # every update reached the backend
            iterate_seconds, iterate_growth = iterate_in_a_fresh_process(url, n)
    finally:
        stop()
    print(f"{name}: done", file=sys.stderr, flush=True)
    return {"insert_rows_per_second": timed / insert_seconds, "inserted_with_bulk_create": timed,
            "ms": {label: statistics.median(s) * 1000 for label, s in seconds.items()},
            "iterate_seconds": iterate_seconds, "iterate_peak_rss_growth_mib": iterate_growth}


def _memory_kib(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def iterate_in_a_fresh_process(url: str, n: int) -> Tuple[float, float]:
    """``iterate_all`` in a new interpreter connected to the same backend."""
    out = subprocess.run([sys.executable, __file__, "--iterate", url, "--objects", str(n)],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    seconds, growth = json.loads(out)
    return seconds, growth


def iterate_all(url: str, n: int) -> Tuple[float, float]:
    """Read every object of ``url``'s backend once with ``iterator()``: seconds, and the rise of peak RSS
    in MiB above the RSS before (writing 5 to clear_refs resets the peak to the current RSS)."""
    leanorm.connect(url)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _memory_kib("VmRSS")
    start = time.perf_counter()
    count = sum(1 for _ in BenchItem.objects.iterator())
    seconds = time.perf_counter() - start
    assert count == n, count
    return seconds, (_memory_kib("VmHWM") - before) / 1024


def available() -> List[str]:
    return [b for b in BACKENDS if b != "parse" or os.environ.get("LEANORM_PARSE_URL")]


def table(results: Dict[str, Dict[str, Any]], n: int) -> str:
    names = list(results)
    header = "| operation | " + " | ".join(names) + " |"
    lines = [header, "|---|" + "---:|" * len(names)]
    timed = results[names[0]]["inserted_with_bulk_create"]
    lines.append(f"| bulk insert of {timed:,} (`bulk_create`), objects/s | "
                 + " | ".join(f"{results[b]['insert_rows_per_second']:,.0f}" for b in names) + " |")
    for label in results[names[0]]["ms"]:
        lines.append(f"| {label}, ms | " + " | ".join(f"{results[b]['ms'][label]:.2f}" for b in names) + " |")
    lines.append(f"| every object once with `iterator()`, s | "
                 + " | ".join(f"{results[b]['iterate_seconds']:.1f}" for b in names) + " |")
    lines.append(f"| peak RSS growth while iterating, MiB | "
                 + " | ".join(f"{results[b]['iterate_peak_rss_growth_mib']:.1f}" for b in names) + " |")
    return "\n".join(lines)


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.release()}, CPython {platform.python_version()}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--backends", default=",".join(available()),
                        help="comma-separated: " + ", ".join(BACKENDS))
    parser.add_argument("--no-counters", action="store_true",
                        help="no counter on group: every count reads the index (as before create_counter)")
    parser.add_argument("--fast-load", action="store_true",
                        help=f"embedded only: bulk_create the first {FAST_LOAD_TIMED:,} objects (timed), "
                             "write the rest with SQL in one transaction")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument("--iterate", metavar="URL", help=argparse.SUPPRESS)  # the fresh process's part
    args = parser.parse_args(argv)
    if args.iterate:
        print(json.dumps(iterate_all(args.iterate, args.objects)))
        return 0
    if args.objects < 10 * SCORES:
        parser.error(f"--objects must be at least {10 * SCORES} (every count and page assumes it)")
    if args.fast_load and args.backends != "embedded":
        parser.error("--fast-load writes the embedded backend's file: use it with --backends embedded")
    results = {}
    with tempfile.TemporaryDirectory(prefix="leanorm-bench-") as workdir:
        for name in args.backends.split(","):
            results[name] = run_backend(name.strip(), args.objects, args.rounds, Path(workdir),
                                        counters=not args.no_counters, fast=args.fast_load)
    if args.json:
        print(json.dumps(results, indent=2))
    print(f"{machine()}; {args.objects:,} objects, median of {args.rounds} rounds"
          f"{'; no counters' if args.no_counters else ''}{'; fast load' if args.fast_load else ''}\n")
    print(table(results, args.objects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
