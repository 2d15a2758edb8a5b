"""A LiveQuery WebSocket to a running ``leanorm serve``, as a Parse SDK opens one (the tests' client)."""
from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from tests.served import Served

websockets_sync = pytest.importorskip("websockets.sync.client")


class Socket:
    """A LiveQuery WebSocket to a running ``leanorm serve``, connected."""

    def __init__(self, served: Served, path: str = "/parse", **extra: Any) -> None:
        # a context manager, held open for the test
        self.ws = websockets_sync.connect(f"ws://127.0.0.1:{served.port}{path}").__enter__()
        self.send({"op": "connect", "applicationId": served.app_id, "javascriptKey": served.app_key, **extra})
        self.connected = self.next()

    def send(self, message: Dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def next(self) -> Dict[str, Any]:
        message: Dict[str, Any] = json.loads(self.ws.recv(timeout=20))
        return message

    def subscribe(self, request_id: int, class_name: str, where: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
        self.send({"op": "subscribe", "requestId": request_id, "query": {"className": class_name, "where": where},
                   **extra})
        return self.next()

    def close(self) -> None:
        self.ws.close()
