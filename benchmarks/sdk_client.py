"""Client (b) of the read-path benchmark: the official ``leancloud`` SDK 3.0.2.

Runs inside the SDK's own virtualenv (its pins are old), started by ``read_path.py`` with
``LEANCLOUD_API_SERVER`` pointing at the loopback server. Prints one JSON line:
``{"client": "leancloud-sdk", "rows": n, "seconds": [per repetition...], "digest": ...}``.

Usage: ``python sdk_client.py REPETITIONS WARMUP``
"""
from __future__ import annotations

import datetime
import gc
import hashlib
import json
import sys
import time

import leancloud


def run_once() -> int:
    """Fetch the page and read four typed fields of every row; the number of rows read."""
    rows = leancloud.Query("Post").limit(1000).find()
    for obj in rows:
        obj.get("title")
        obj.get("score")
        obj.get("tags")
        obj.get("publishedAt")  # already a datetime: the SDK decodes every field while building
    return len(rows)


def digest() -> str:
    """A digest of the values the SDK reads, compared with leanorm's by ``read_path.py``."""
    values = [[obj.id, obj.get("title"), obj.get("score"), obj.get("tags"),
               obj.get("publishedAt").astimezone(datetime.timezone.utc).isoformat()]
              for obj in leancloud.Query("Post").limit(1000).find()]
    return hashlib.sha256(json.dumps(values).encode("utf-8")).hexdigest()


def main() -> None:
    reps, warmup = int(sys.argv[1]), int(sys.argv[2])
    leancloud.init("bench-app", "bench-key")
    n = 0
    for _ in range(warmup):  # imports, connection pool, first-call caches: start-up, not measured
        n = run_once()
    seconds = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        run_once()
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"client": "leancloud-sdk", "rows": n, "seconds": seconds, "digest": digest()}))


if __name__ == "__main__":
    main()
