"""The embedded backend: a LeanCloud/Parse-protocol server over SQLite, in-process or over HTTP.

See docs/architecture.md (the contract) and docs/backends.md (what it supports).
"""
from .answers import EmbeddedResponse, ProtocolError
from .server import EmbeddedServer
from .settings import LiveLimits

__all__ = ["EmbeddedServer", "EmbeddedResponse", "ProtocolError", "LiveLimits"]
