"""What an operator's tools ask a running server: is it alive (``GET /health``), can it serve
(``GET /ready``).

Both answer without the app's keys and leak nothing (no path, no version, no counts): a load balancer or
an orchestrator asks them. They take no body: admission caps theirs at 0 bytes
(:data:`.admission.OPERATIONS`). ``/health`` costs nothing and touches nothing, so it answers while every
handler thread is busy; ``/ready`` runs one read on the store and checks that the database file is still
the one open (``Store.check_ready``), on a thread of its own and for at most :data:`READY_TIMEOUT`
seconds: a database that stopped answering (a stalled PostgreSQL server, a network that drops its
packets) holds every handler thread, and the load balancer must still hear that the node is not ready.
Prometheus metrics (``GET /metrics``) are ``leanorm serve``'s
(:mod:`.metrics`): they count across its worker processes.
"""
from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from .answers import ProtocolError
from .storage.interface import Store

if TYPE_CHECKING:  # pragma: no cover
    from .server import EmbeddedServer

__all__ = ["HEALTH", "READY", "READY_TIMEOUT", "Readiness", "health", "answer"]

HEALTH, READY = "/health", "/ready"
#: seconds ``/ready`` waits for the store's read: a store that has not answered by then is not ready
READY_TIMEOUT = 2.0


class Readiness:
    """The store's readiness check (``Store.check_ready``), run on a thread of its own, one at a time: a
    probe while one is still running (the database stalled) waits for that one rather than starting
    another, so a stalled database holds one thread, however often it is asked."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._running: Optional["concurrent.futures.Future[None]"] = None

    def _start(self) -> "concurrent.futures.Future[None]":
        """A check on a daemon thread (one stuck on a stalled database must not hold the process's exit)."""
        outcome: "concurrent.futures.Future[None]" = concurrent.futures.Future()

        def run() -> None:
            try:
                self._store.check_ready()
            except BaseException as exc:  # noqa: BLE001 - handed to the probe that waits for it
                outcome.set_exception(exc)
            else:
                outcome.set_result(None)

        threading.Thread(target=run, name="leanorm-ready", daemon=True).start()
        return outcome

    def check(self) -> None:
        """Return when the store is ready; :class:`ProtocolError` (503) when it is not, or did not answer
        within :data:`READY_TIMEOUT` seconds."""
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._start()
            running = self._running
        try:
            running.result(timeout=READY_TIMEOUT)
        except concurrent.futures.TimeoutError:
            raise ProtocolError(1, f"The database did not answer within {READY_TIMEOUT:g} s.", 503) from None


def health() -> Tuple[int, Dict[str, Any]]:
    """Liveness: the process answers."""
    return 200, {"status": "ok"}


def answer(server: "EmbeddedServer", method: str, path: str) -> Optional[Tuple[int, Dict[str, Any]]]:
    """The answer to ``/health`` or ``/ready``; None for any other path."""
    if path not in (HEALTH, READY):
        return None
    # a refusal carries the protocol's integer ``code`` beside the status word an orchestrator reads:
    # every error this server answers has the one shape clients parse (docs/security.md, "The fuzzing tier")
    if method not in ("GET", "HEAD"):
        return 405, {"status": "error", "code": 1, "error": f"{path} answers GET only."}
    if path == HEALTH:
        return health()
    try:
        server.readiness.check()
    except ProtocolError as exc:
        return 503, {"status": "unavailable", "code": exc.code, "error": exc.message}
    return 200, {"status": "ready"}
