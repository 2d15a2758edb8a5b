"""Client (b) of the read-path benchmark: the official ``leancloud`` SDK 3.0.2.

Runs inside the SDK's own virtualenv (its pins are old), started by ``read_path.py`` with
``LEANCLOUD_API_SERVER`` pointing at the loopback server. Prints one JSON line:
``{"client": "leancloud-sdk", "rows": n, "seconds": [per repetition...], "digest": ...}``.

Usage: ``python sdk_client.py REPETITIONS WARMUP [post|checkin]``
"""
from __future__ import annotations

import datetime
import gc
import hashlib
import json
import sys
import time

import leancloud


#: the class each workload reads and the four fields it reads of every row
WORKLOADS = {"post": ("Post", ("title", "score", "tags", "publishedAt")),
             "checkin": ("Checkin", ("rating", "visitedAt", "author", "location"))}


def run_once(workload: str) -> int:
    """Fetch the page and read four typed fields of every row; the number of rows read. The SDK has
    decoded every field while building the objects (dates as datetimes, pointers as unloaded Objects,
    GeoPoints as GeoPoints): ``get`` only looks them up."""
    class_name, keys = WORKLOADS[workload]
    rows = leancloud.Query(class_name).limit(1000).find()
    for obj in rows:
        for key in keys:
            obj.get(key)
    return len(rows)


def _plain(value: object) -> object:
    # what read_path.py's digest holds: UTC ISO dates, pointer ids, [latitude, longitude]
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, leancloud.Object):
        return value.id
    if isinstance(value, leancloud.GeoPoint):
        return [value.latitude, value.longitude]
    return value


def digest(workload: str) -> str:
    """A digest of the values the SDK reads, compared with leanorm's by ``read_path.py``."""
    class_name, keys = WORKLOADS[workload]
    values = [[obj.id, *(_plain(obj.get(key)) for key in keys)]
              for obj in leancloud.Query(class_name).limit(1000).find()]
    return hashlib.sha256(json.dumps(values).encode("utf-8")).hexdigest()


def main() -> None:
    reps, warmup = int(sys.argv[1]), int(sys.argv[2])
    workload = sys.argv[3] if len(sys.argv) > 3 else "post"
    leancloud.init("bench-app", "bench-key")
    n = 0
    for _ in range(warmup):  # imports, connection pool, first-call caches: start-up, not measured
        n = run_once(workload)
    seconds = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        run_once(workload)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"client": "leancloud-sdk", "rows": n, "seconds": seconds, "digest": digest(workload)}))


if __name__ == "__main__":
    main()
