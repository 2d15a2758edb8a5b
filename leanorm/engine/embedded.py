"""An Engine as an embedded server runs it: the code's own requests go to that server, with its keys."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..client import Client
from ..config import using
from ..embedded import EmbeddedServer
from . import dispatch as _dispatch

if TYPE_CHECKING:  # pragma: no cover
    from .app import Engine

__all__ = ["EmbeddedEngine"]


class EmbeddedEngine:
    """The cloud code an embedded server calls (its ``CloudCode``): the engine's declarations, run with
    ``client`` (bound to that server) as the current client, so ``Post.objects...`` in a hook reads and
    writes the database being served, as the caller.

    Hooks sign their ``__before``/``__after`` markers with ``master_key``, the *server's* master key: the
    server verifies markers with it, and an Engine module served by ``leanorm serve --engine`` usually
    carries no key of its own (or another app's), which made a hook saving its own object run again and
    again (issue 19 §2)."""

    def __init__(self, engine: "Engine", client: Client, master_key: Optional[str] = None) -> None:
        self.engine = engine
        self.client = client
        self.master_key = master_key if master_key is not None else client.master_key

    def has(self, path: str) -> bool:
        return self.engine.has(path)

    def job_names(self) -> List[str]:
        return self.engine.job_names()

    def serving(self, server: EmbeddedServer) -> "EmbeddedEngine":
        return self.engine.serving(server)

    def dispatch(self, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]] = None,
                 session_token: Optional[str] = None, master: bool = False, prod: bool = True,
                 remote_address: Optional[str] = None) -> Dict[str, Any]:
        """:meth:`Engine.dispatch <leanorm.engine.Engine.dispatch>`, signing markers with the server's key."""
        with using(self.client):
            return _dispatch.run(self.engine.declarations, path, payload, user=user, session_token=session_token,
                                 master=master, prod=prod, remote_address=remote_address,
                                 master_key=self.master_key, fetch_user=self.engine.fetch_user, markers=True,
                                 rich_params=False)
