"""An Engine as an embedded server runs it: the code's own requests go to that server."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from ..client import Client
from ..config import using
from ..local import LocalServer

if TYPE_CHECKING:  # pragma: no cover
    from .app import Engine

__all__ = ["ServedEngine"]


class ServedEngine:
    """The cloud code an embedded server calls (its ``CloudCode``): the engine's declarations, run with
    ``client`` (bound to that server) as the current client, so ``Post.objects...`` in a hook reads and
    writes the database being served, as the caller."""

    def __init__(self, engine: "Engine", client: Client) -> None:
        self.engine = engine
        self.client = client

    def has(self, path: str) -> bool:
        return self.engine.has(path)

    def serving(self, server: LocalServer) -> "ServedEngine":
        return self.engine.serving(server)

    def dispatch(self, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]] = None,
                 session_token: Optional[str] = None, master: bool = False, prod: bool = True,
                 remote_address: Optional[str] = None) -> Dict[str, Any]:
        with using(self.client):
            return self.engine.dispatch(path, payload, user=user, session_token=session_token, master=master,
                                        prod=prod, remote_address=remote_address)
