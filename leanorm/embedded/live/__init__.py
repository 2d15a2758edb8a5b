"""Live queries: Parse Server's LiveQuery protocol over the store's change feed (docs/embedded.md,
"Live queries"; the rules in docs/security.md)."""
from .hub import LiveQueries
from .local import LiveConnectionClosed, LocalLiveConnection
from .messages import LiveError
from .outlet import LoopOutlet

__all__ = ["LiveQueries", "LocalLiveConnection", "LiveConnectionClosed", "LiveError", "LoopOutlet"]
