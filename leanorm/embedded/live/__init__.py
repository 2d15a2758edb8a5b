"""Live queries: Parse Server's LiveQuery protocol, and LeanCloud's LiveQuery (its subscribe endpoints
and realtime WebSocket), over the store's change feed (docs/embedded.md, "Live queries" and "LeanCloud
LiveQuery"; the rules in docs/security.md)."""
from . import leancloud  # noqa: F401 - registers LiveQuery/subscribe and LiveQuery/unsubscribe
from .hub import LiveQueries
from .local import LiveConnectionClosed, LocalLiveConnection
from .messages import LiveError
from .outlet import LoopOutlet
from .realtime import ROUTER_PATH, RealtimeListener, router_answer

__all__ = ["LiveQueries", "LocalLiveConnection", "LiveConnectionClosed", "LiveError", "LoopOutlet",
           "RealtimeListener", "router_answer", "ROUTER_PATH"]
