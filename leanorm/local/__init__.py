"""The embedded backend: a LeanCloud/Parse-protocol server over SQLite, in-process or over HTTP.

See docs/architecture.md (the contract) and docs/backends.md (what it supports).
"""
from .protocol import LocalResponse, ProtocolError
from .server import LocalServer

__all__ = ["LocalServer", "LocalResponse", "ProtocolError"]
