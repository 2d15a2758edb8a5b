"""The embedded backend on its own: a ``EmbeddedServer`` over a file database, driven through its request
handler exactly as ``local://`` clients and ``leanorm serve`` drive it."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from leanorm.embedded import EmbeddedServer

KEYS = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
MASTER = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-master,master"}


class Api:
    """Sends protocol requests to one server and decodes the answers."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server

    def __call__(self, method: str, path: str, params: Optional[Dict[str, str]] = None, body: Any = None,
                 headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """``body``: bytes as they are, anything else as JSON. Returns (status, decoded JSON answer)."""
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        resp = self.server.handle(method, path, params or {}, headers or KEYS, raw)
        return resp.status, json.loads(resp.body)


def snapshot(database: Path) -> Dict[str, List[Tuple[Any, ...]]]:
    """Every row of every table of the database file, read by a connection of its own (so it sees only
    what was committed)."""
    conn = sqlite3.connect(database)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        conn.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "app.sqlite3"


@pytest.fixture
def server(database: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(str(database))
    yield server
    server.close()


@pytest.fixture
def api(server: EmbeddedServer) -> Api:
    return Api(server)
