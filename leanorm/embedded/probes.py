"""What an operator's tools ask a running server: is it alive (``GET /health``), can it serve
(``GET /ready``).

Both answer without the app's keys and leak nothing (no path, no version, no counts): a load balancer or
an orchestrator asks them. They take no body: admission caps theirs at 0 bytes
(:data:`.admission.OPERATIONS`). ``/health`` costs nothing and touches nothing, so it answers while every
handler thread is busy; ``/ready`` runs one read on the store and checks that the database file is still
the one open (``Store.check_ready``). Prometheus metrics (``GET /metrics``) are ``leanorm serve``'s
(:mod:`.metrics`): they count across its worker processes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from .answers import ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    from .server import EmbeddedServer

__all__ = ["HEALTH", "READY", "health", "answer"]

HEALTH, READY = "/health", "/ready"


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
        server.store.check_ready()
    except ProtocolError as exc:
        return 503, {"status": "unavailable", "code": exc.code, "error": exc.message}
    return 200, {"status": "ready"}
