"""``leanorm import`` of a 200,000-object export: objects per second, and resident memory along the way.

    python benchmarks/import_200k.py            # --objects N, --batch-size N, --json

Writes a JSON Lines export of N objects (five fields each: text, number, date, pointer, ACL) into a
temporary directory, then imports it into a fresh embedded database file (``local:///...``, in-process:
the import's own cost, not a network's), sampling the process's resident set size (VmRSS) every 0.2 s.
Prints objects/s and the RSS after 10%, 50% and 100% of the objects: flat memory means the import
streams (rows read one at a time, written in batches) instead of holding the export.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

import leanorm
from leanorm.transfer.importer import import_export


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_export(folder: Path, objects: int) -> None:
    with open(folder / "BenchItem.jsonl", "w") as out:
        for n in range(objects):
            out.write(json.dumps({
                "objectId": f"item{n:08d}", "title": f"item number {n}", "n": n,
                "due": {"__type": "Date", "iso": "2024-05-17T08:30:15.250Z"},
                "owner": {"__type": "Pointer", "className": "_User", "objectId": f"user{n % 100:04d}"},
                "ACL": {"*": {"read": True}}, "createdAt": "2023-01-01T00:00:00.000Z",
                "updatedAt": "2023-01-01T00:00:00.000Z"}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        write_export(folder, args.objects)
        target = leanorm.connect(f"local://{tmp}/target.sqlite3", default=False)
        samples: List[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                samples.append(rss_mb())

        before = rss_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        reports = import_export(folder, target, batch_size=args.batch_size)
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
        report = reports["BenchItem"]
        assert report.copied == args.objects and not report.failed, report.lines()
        target.close()
    at: Dict[str, float] = {f"{p}%": samples[min(len(samples) - 1, len(samples) * p // 100)] for p in (10, 50, 100)}
    result = {"objects": args.objects, "seconds": round(elapsed, 1), "objects_per_s": round(args.objects / elapsed),
              "rss_before_mb": round(before, 1), **{f"rss_at_{k}_mb": round(v, 1) for k, v in at.items()},
              "rss_peak_mb": round(max(samples), 1)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.objects:,} objects in {elapsed:.1f} s: {result['objects_per_s']:,} objects/s")
    print("RSS (MB): before {rss_before_mb}, at 10% {rss_at_10%_mb}, at 50% {rss_at_50%_mb}, at 100% "
          "{rss_at_100%_mb}, peak {rss_peak_mb}".format(**result))


if __name__ == "__main__":
    main()
