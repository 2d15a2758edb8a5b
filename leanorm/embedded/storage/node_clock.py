"""A count of catalogue changes shared by the worker processes of one ``leanorm serve`` (one node).

Each process of a PostgreSQL store keeps the catalogue it read (``postgresql.Catalogue``) and forgets it
when its listener hears that another process changed it: milliseconds after the commit. A client's next
request may reach another worker of the same node within those milliseconds, and must find the class it
just made, and be refused by the permissions it just closed. So the process that commits a change counts
it here before the request is answered, and every process compares the count with the one it last saw
before it uses what it kept. Other nodes still go by their listeners (docs/architecture.md).

The count is 8 bytes of a file every worker maps into memory (``serve`` makes the file and names it in
:data:`ENV`): reading it costs no system call. A torn read can only differ from the count last seen, and
costs one needless re-read of the catalogue.
"""
from __future__ import annotations

import fcntl
import mmap
import os
import struct
from typing import Optional

__all__ = ["ENV", "NodeClock", "create", "from_environment"]

#: the environment variable naming the node's file (set by ``serve`` for its workers)
ENV = "LEANORM_NODE_CLOCK"
_COUNT = struct.Struct("<Q")


def create(directory: str) -> str:
    """Make a node's file in ``directory`` (the count at 0); its path."""
    path = os.path.join(directory, "catalogue-changes")
    with open(path, "wb") as file:
        file.write(bytes(_COUNT.size))
    return path


class NodeClock:
    """The node's count of catalogue changes, mapped from its file (for the life of the process: a
    worker's store is its last user)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, _COUNT.size)

    def read(self) -> int:
        """The count now."""
        count: int = _COUNT.unpack_from(self._map)[0]
        return count

    def advance(self) -> int:
        """Count a change this process committed (before the request that made it is answered); the count."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # two workers committing at once both count
        try:
            count = self.read() + 1
            _COUNT.pack_into(self._map, 0, count)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return count


def from_environment() -> Optional[NodeClock]:
    """The clock of the node this process is a worker of (None outside ``leanorm serve``)."""
    path = os.environ.get(ENV)
    return NodeClock(path) if path else None
