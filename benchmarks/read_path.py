"""Read-path benchmark: what it costs per row to fetch one 1,000-row query page and read four fields.

Two workloads, each a canned 1,000-row page: ``Post`` (a string, a number, an array of strings and a
Date: title, score, tags, publishedAt) and ``Checkin`` (an integer, a Date, a Pointer and a GeoPoint:
rating, visitedAt, author, location). Three clients read the same bytes from a loopback server
(``loopback.py``, in its own process):

(a) ``requests`` + ``json``: one GET, ``json.loads``, then four fields of every row read from the dicts
    (a0: as they are on the wire; a1: with the Date turned into a ``datetime``, as a typed client must)
(b) the official ``leancloud`` SDK 3.0.2, in its own virtualenv (``benchmarks/.venv-sdk``, created here
    on first run), ``Query("Post").limit(1000).find()`` then ``obj.get(...)`` for the four fields
(c) leanorm: ``list(Post.objects.all()[:1000])`` then ``post.title``, ``post.score``, ``post.tags``,
    ``post.published_at`` (an UTC ``arrow.Arrow``, as the SDK gives a ``datetime``); for Checkin
    ``checkin.rating``, ``checkin.visited_at``, ``checkin.author`` (an unloaded ``Author`` instance,
    one per object in the unit of work, as the SDK gives an unloaded ``Object``) and
    ``checkin.location`` (a ``GeoPoint``)

Every client warms up first (imports, the pooled connection, first-call caches: start-up is not
measured), then runs ``--reps`` timed repetitions; the table shows the median per row. leanorm is
measured twice: with its identity map emptied before each repetition (every row builds a new
instance), and with it warm (every row refreshes the instance already mapped, the steady state of a
long-running process that reads the same objects again).

Usage: ``python benchmarks/read_path.py [--reps N] [--warmup N] [--no-sdk] [--workload post|checkin|both]
[--json]``
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SDK_VENV = HERE / ".venv-sdk"
SDK_REQUIREMENT = "leancloud==3.0.2"

if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import leanorm  # noqa: E402
from leanorm import (DateTimeField, GeoPointField, IntegerField, ListField, Model, PointerField,  # noqa: E402
                     StringField)


class Author(Model):
    """The pointed-to model (never loaded here: the benchmark reads the pointer only as a stub)."""

    name = StringField()


class Post(Model):
    """The benchmark's model: the page's typed fields."""

    title = StringField()
    score = IntegerField()
    tags = ListField(StringField())
    published_at = DateTimeField(db_field="publishedAt")
    author = PointerField(Author)

    class Meta:
        class_name = "Post"


class Checkin(Model):
    """The second workload's model: an integer, a date, a pointer and a GeoPoint."""

    rating = IntegerField()
    visited_at = DateTimeField(db_field="visitedAt")
    author = PointerField(Author)
    location = GeoPointField()


# -- the loopback server -----------------------------------------------------------------------------
class LoopbackServer:
    """``loopback.py`` in a subprocess; ``port`` once it listens."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "loopback.py")], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"loopback server did not start: {line!r}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- the clients -------------------------------------------------------------------------------------
def _parse_iso(iso: str) -> _dt.datetime:
    # what a hand-written client does for a protocol Date: the stdlib's fastest ISO parser
    return _dt.datetime.fromisoformat(iso[:-1] + "+00:00" if iso.endswith("Z") else iso)


def requests_reader(base: str, typed: bool) -> Callable[[], int]:
    """(a) requests + json reading the four Post fields: as they are on the wire (a0), or with the Date
    turned into a ``datetime`` (a1, what a hand-written typed client does)."""
    session = requests.Session()
    url = f"{base}/1.1/classes/Post"
    headers = {"X-LC-Id": "bench-app", "X-LC-Key": "bench-key"}

    def run() -> int:
        rows = json.loads(session.get(url, params={"limit": "1000"}, headers=headers).content)["results"]
        for row in rows:
            row["title"]
            row["score"]
            row["tags"]
            published = row["publishedAt"]
            if typed and published is not None:
                _parse_iso(published["iso"])
        return len(rows)
    return run


def requests_checkin_reader(base: str, typed: bool) -> Callable[[], int]:
    """(a) requests + json reading the four Checkin fields: the dicts as they come (a0), or with the
    Date turned into a ``datetime`` (a1)."""
    session = requests.Session()
    url = f"{base}/1.1/classes/Checkin"
    headers = {"X-LC-Id": "bench-app", "X-LC-Key": "bench-key"}

    def run() -> int:
        rows = json.loads(session.get(url, params={"limit": "1000"}, headers=headers).content)["results"]
        for row in rows:
            row["rating"]
            visited = row["visitedAt"]
            row["author"]
            row["location"]
            if typed and visited is not None:
                _parse_iso(visited["iso"])
        return len(rows)
    return run


def _leanorm_client(base: str) -> "leanorm.Client":
    return leanorm.connect(f"leancloud+http://bench-app:bench-key@{base.split('://', 1)[1]}", default=False)


def leanorm_reader(base: str, warm_identity: bool) -> Callable[[], int]:
    """(c) leanorm through its HTTP transport; identity map emptied before each run unless warm."""
    client = _leanorm_client(base)

    def run() -> int:
        if not warm_identity:
            client.identity_map.clear()
        with leanorm.using(client):
            posts = list(Post.objects.all()[:1000])
        for post in posts:
            post.title
            post.score
            post.tags
            post.published_at
        return len(posts)
    return run


def leanorm_checkin_reader(base: str, warm_identity: bool) -> Callable[[], int]:
    """(c) leanorm reading the four Checkin fields; identity map emptied before each run unless warm."""
    client = _leanorm_client(base)

    def run() -> int:
        if not warm_identity:
            client.identity_map.clear()
        with leanorm.using(client):
            checkins = list(Checkin.objects.all()[:1000])
        for checkin in checkins:
            checkin.rating
            checkin.visited_at
            checkin.author
            checkin.location
        return len(checkins)
    return run


def check_same_values(base: str) -> str:
    """Before timing anything: leanorm must read exactly the values a hand-written client reads.
    Returns a digest of them, which the SDK's run must match too."""
    rows = requests.get(f"{base}/1.1/classes/Post", params={"limit": "1000"}).json()["results"]
    client = _leanorm_client(base)
    with leanorm.using(client):
        posts = list(Post.objects.all()[:1000])
    got = [(p.id, p.title, p.score, p.tags, p.published_at.datetime) for p in posts]
    expected = [(r["objectId"], r["title"], r["score"], r["tags"], _parse_iso(r["publishedAt"]["iso"]))
                for r in rows]
    if got != expected:
        raise AssertionError("leanorm read different values than requests + json")
    client.close()
    return values_digest(got)


def check_same_checkin_values(base: str) -> str:
    """:func:`check_same_values` for the Checkin page; also checks that each author is one instance
    (per unit of work) that has not loaded anything. Returns the digest the SDK's run must match."""
    rows = requests.get(f"{base}/1.1/classes/Checkin", params={"limit": "1000"}).json()["results"]
    client = _leanorm_client(base)
    with leanorm.using(client):
        checkins = list(Checkin.objects.all()[:1000])
    got = [(c.id, c.rating, c.visited_at.datetime, c.author.id, [c.location.latitude, c.location.longitude])
           for c in checkins]
    expected = [(r["objectId"], r["rating"], _parse_iso(r["visitedAt"]["iso"]), r["author"]["objectId"],
                 [r["location"]["latitude"], r["location"]["longitude"]]) for r in rows]
    if got != expected:
        raise AssertionError("leanorm read different Checkin values than requests + json")
    authors: Dict[str, Any] = {}
    for checkin in checkins:
        if authors.setdefault(checkin.author.id, checkin.author) is not checkin.author:
            raise AssertionError("two pointers to one author read as two instances")
    if any("name" in author._data for author in authors.values()):
        raise AssertionError("an author was loaded: pointers must stay unloaded until a field is read")
    client.close()
    return values_digest(got)


def values_digest(values: List[Any]) -> str:
    """The digest ``sdk_client.py`` computes of what it read (dates as UTC ISO strings)."""
    plain = [[v.astimezone(_dt.timezone.utc).isoformat() if isinstance(v, _dt.datetime) else v for v in row]
             for row in values]
    return hashlib.sha256(json.dumps(plain).encode("utf-8")).hexdigest()


def measure(run: Callable[[], int], reps: int, warmup: int) -> Dict[str, Any]:
    """Warm up, then time ``reps`` runs; seconds per run and rows per run."""
    return measure_interleaved({"run": run}, reps, warmup)["run"]


def measure_interleaved(runs: Dict[str, Callable[[], int]], reps: int, warmup: int) -> Dict[str, Dict[str, Any]]:
    """Warm every client up, then time them in turn, ``reps`` rounds: on a shared machine a slow
    moment then hits every client alike instead of all repetitions of one of them."""
    rows = {name: 0 for name in runs}
    for _ in range(warmup):
        for name, run in runs.items():
            rows[name] = run()
    seconds: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            gc.collect()  # a collection left over from the previous run must not land in this one
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return {name: {"rows": rows[name], "seconds": seconds[name]} for name in runs}


# -- the official SDK, in its own virtualenv ---------------------------------------------------------
def sdk_python() -> Path:
    """The SDK virtualenv's interpreter, creating the virtualenv and installing the SDK if needed."""
    python = SDK_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {SDK_VENV} and installing {SDK_REQUIREMENT} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('leancloud'))"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != SDK_REQUIREMENT.split("==")[1]:
        subprocess.run([str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT], check=True)
    return python


def measure_sdk(base: str, reps: int, warmup: int, workload: str) -> Dict[str, Any]:
    """(b) run ``sdk_client.py`` under the SDK's interpreter for ``workload``; it times itself."""
    env = dict(os.environ, LEANCLOUD_API_SERVER=base)
    out = subprocess.run([str(sdk_python()), str(HERE / "sdk_client.py"), str(reps), str(warmup), workload],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- report ------------------------------------------------------------------------------------------
def machine() -> str:
    """CPU model, cores, OS and Python, for the table's caption."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


#: per workload: the Post or Checkin readers, the value check, the labels and the baseline of the ratios
WORKLOADS: Dict[str, Dict[str, Any]] = {
    "post": {
        "title": "Post: title, score, tags, publishedAt (a string, a number, a string array, a Date)",
        "readers": {"a0": lambda base: requests_reader(base, typed=False),
                    "a1": lambda base: requests_reader(base, typed=True),
                    "c": lambda base: leanorm_reader(base, warm_identity=False),
                    "c-warm": lambda base: leanorm_reader(base, warm_identity=True)},
        "check": check_same_values,
        "baseline": "a1",
    },
    "checkin": {
        "title": "Checkin: rating, visitedAt, author, location (an integer, a Date, a Pointer, a GeoPoint)",
        "readers": {"a0": lambda base: requests_checkin_reader(base, typed=False),
                    "a1": lambda base: requests_checkin_reader(base, typed=True),
                    "c": lambda base: leanorm_checkin_reader(base, warm_identity=False),
                    "c-warm": lambda base: leanorm_checkin_reader(base, warm_identity=True)},
        "check": check_same_checkin_values,
        "baseline": "a0",
    },
}

LABELS = {
    "a0": "(a0) requests + json, fields as on the wire",
    "a1": "(a1) requests + json, Date as datetime",
    "b": "(b) leancloud SDK 3.0.2",
    "c": "(c) leanorm, identity map cold",
    "c-warm": "(c) leanorm, identity map warm",
}


def run_workload(name: str, base: str, args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    """Check the values, then time the in-process clients interleaved, then the SDK."""
    workload = WORKLOADS[name]
    expected_digest = workload["check"](base)
    results = measure_interleaved({key: make(base) for key, make in workload["readers"].items()},
                                  args.reps, args.warmup)
    if not args.no_sdk:
        results["b"] = measure_sdk(base, args.reps, args.warmup, name)
        if results["b"].pop("digest") != expected_digest:
            raise AssertionError(f"the SDK read different {name} values than leanorm")
    return results


def print_table(name: str, results: Dict[str, Dict[str, Any]]) -> None:
    """The Markdown table of one workload and its ratios."""
    baseline = WORKLOADS[name]["baseline"]
    per_row = {k: statistics.median(v["seconds"]) / v["rows"] * 1e6 for k, v in results.items()}
    print(f"{WORKLOADS[name]['title']}\n")
    print(f"| client | µs per row | page (ms) | vs ({baseline}) |")
    print("|---|---:|---:|---:|")
    for key in ("a0", "a1", "b", "c", "c-warm"):
        if key in per_row:
            ms = statistics.median(results[key]["seconds"]) * 1e3
            print(f"| {LABELS[key]} | {per_row[key]:.2f} | {ms:.1f} | {per_row[key] / per_row[baseline]:.2f}x |")
    print()
    for key in ("c", "c-warm"):
        ratio = f", (b)/(c) = {per_row['b'] / per_row[key]:.1f}x faster than the SDK" if "b" in per_row else ""
        print(f"{LABELS[key]}: (c)/(a1) = {per_row[key] / per_row['a1']:.2f}, "
              f"(c)/(a0) = {per_row[key] / per_row['a0']:.2f}{ratio}")
    print()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30, help="timed repetitions per client (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--no-sdk", action="store_true", help="skip the official SDK (no virtualenv)")
    parser.add_argument("--workload", choices=("post", "checkin", "both"), default="both",
                        help="which page to read (default both)")
    parser.add_argument("--json", action="store_true", help="print raw timings as JSON too")
    args = parser.parse_args(argv)
    names = list(WORKLOADS) if args.workload == "both" else [args.workload]

    server = LoopbackServer()
    base = f"http://127.0.0.1:{server.port}"
    try:
        results = {name: run_workload(name, base, args) for name in names}
    finally:
        server.close()

    print(f"machine: {machine()}")
    print(f"{args.reps} repetitions after {args.warmup} warm-up runs; median per row; 1,000 rows per page\n")
    for name in names:
        print_table(name, results[name])
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
