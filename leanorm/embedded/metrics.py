"""``leanorm serve``'s Prometheus metrics, counted across its worker processes.

Each worker records into files of a folder the main process makes for the run (prometheus-client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``, set before a worker imports the client), and
``GET /metrics`` sums every worker's. What is counted:

* ``leanorm_requests_total{route, status}`` and ``leanorm_request_seconds{route}`` (a histogram): the
  route is the endpoint's pattern (``classes/*/*``), never the path itself, so ids and class names
  cannot grow the series without bound; anything that matched no endpoint is ``other``;
* ``leanorm_store_errors_total{kind}``: the database failing (``disk``, ``moved``, ``read``; ``unavailable``:
  a PostgreSQL server this process could not reach);
* ``leanorm_requests_in_flight`` and ``leanorm_requests_queued`` (waiting for a handler thread).

``/metrics`` names routes and counts, which tell an attacker what the app does and when: it answers a
request carrying ``Authorization: Bearer <--metrics-token>``, or without a token configured a request from
the loopback address when no reverse proxy is trusted (behind one every request comes from loopback).
Anything else is answered 404, as a path that does not exist.
"""
from __future__ import annotations

import functools
import glob
import os
import re
from typing import Any, Dict, Optional, Tuple

from ..protocol.dialects import same_secret
from .admission import dialect_of
from .routing import _ROUTES  # the registered endpoints: their patterns name the routes
from .server import canonical

__all__ = ["MULTIPROC_ENV", "PATH", "Metrics", "route_of", "allowed"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
#: request durations' buckets, seconds: a served request takes about a millisecond, a slow one seconds
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_GROUP = re.compile(r"\((?:[^()\\]|\\.)*\)")
_WORDS = re.compile(r"[A-Za-z]+(\|[A-Za-z]+)+\Z")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: routes remembered by method and path (a path of at most :data:`REMEMBERED_PATH` characters): a
#: worker's frequent requests skip matching the route table (a few microseconds of each request's CPU)
ROUTES_REMEMBERED = 1024
REMEMBERED_PATH = 160


def route_of(method: str, path: str) -> str:
    """The endpoint ``method path`` reaches, as its pattern with each captured part a ``*``
    (``classes/*/*``); ``other`` outside the API or for no endpoint."""
    if len(path) <= REMEMBERED_PATH:  # the memory the remembered routes take stays bounded
        return _remembered_route(method, path)
    return _route(method, path)


def _route(method: str, path: str) -> str:
    dialect = dialect_of(path)
    if dialect is None:
        return "other"
    below = canonical(path.split("/", 2)[2].strip("/"))
    method = method.upper()
    for candidate, pattern, _ in _ROUTES:
        if candidate == method and pattern.match(below):
            return _GROUP.sub(_part, pattern.pattern).replace("/?\\Z", "")
    return "other"


_remembered_route = functools.lru_cache(maxsize=ROUTES_REMEMBERED)(_route)


def _part(group: "re.Match[str]") -> str:
    """A captured part of a route as its label shows it: a choice of words as they are
    (``functions|call``), anything else (an id, a class name) as ``*``."""
    inner = group.group(0)[1:-1]
    return inner if _WORDS.match(inner) else "*"


def allowed(authorization: Optional[str], client: str, token: Optional[str], trust_proxy: bool) -> bool:
    """Whether a request may read the metrics (see the module)."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and same_secret(given.strip(), token)
    return not trust_proxy and client in LOOPBACK


class Metrics:
    """One worker's metrics (the process must have :data:`MULTIPROC_ENV` set before this is made)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram
        folder = os.environ[MULTIPROC_ENV]
        _forget_dead_workers(folder)
        self.requests = Counter("leanorm_requests", "Requests answered, by route and status", ["route", "status"])
        self.seconds = Histogram("leanorm_request_seconds", "Seconds from a request's headers to its answer",
                                 ["route"], buckets=BUCKETS)
        self.store_errors = Counter("leanorm_store_errors", "Failures of the database", ["kind"])
        self.in_flight = Gauge("leanorm_requests_in_flight", "Requests being answered", multiprocess_mode="livesum")
        self.queued = Gauge("leanorm_requests_queued", "Requests waiting for a handler thread",
                            multiprocess_mode="livesum")
        for kind in ("disk", "moved", "read", "unavailable"):  # every series present from the start, at 0
            self.store_errors.labels(kind)
        #: each (route, status)'s counter and histogram, looked up once (``labels`` takes a lock and
        #: builds its key on every call); routes and statuses are few, so this stays small
        self._series: Dict[Tuple[str, int], Tuple[Any, Any]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request answered ``status`` by ``route`` in ``seconds``."""
        series = self._series.get((route, status))
        if series is None:
            series = self._series[route, status] = (self.requests.labels(route, str(status)),
                                                    self.seconds.labels(route))
        series[0].inc()
        series[1].observe(seconds)

    def store_error(self, kind: str) -> None:
        self.store_errors.labels(kind).inc()

    @staticmethod
    def exposition() -> Tuple[bytes, str]:
        """Every worker's metrics, summed: the body and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that died without saying so (killed, crashed): their in-flight
    count would stay in the sum for ever. Counters and histograms stay: what they counted happened."""
    from prometheus_client import multiprocess
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        pid = int(path.rsplit("_", 1)[1][:-3])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)
        except PermissionError:
            pass
