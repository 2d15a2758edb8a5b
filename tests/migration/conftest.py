"""Fixtures of the migration tests: the official SDK's interpreter (tests/sdk), and the real Parse Server
with an engine registered for its webhooks (so the legacy-login function answers)."""
from __future__ import annotations

import threading
from typing import Iterator
from wsgiref.simple_server import make_server

import pytest

import leanorm
from leanorm import legacy_password
from leanorm.engine import Engine
from tests.engine.conftest import parse_client
from tests.engine.test_parse_webhooks import WEBHOOK_KEY, _Quiet, _ThreadingServer
from tests.sdk.conftest import sdk_python  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def parse_with_engine() -> Iterator[leanorm.Client]:
    """The Parse Server, with an engine (random port) registered for its webhooks."""
    client = parse_client()
    engine = Engine(parse_webhook_key=WEBHOOK_KEY, fetch_user=False)
    server = make_server("127.0.0.1", 0, engine, server_class=_ThreadingServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hooks = engine.register_parse_webhooks(f"http://127.0.0.1:{server.server_port}", client)
    assert hooks[0]["functionName"] == legacy_password.LOGIN_FUNCTION
    try:
        with leanorm.using(client):
            yield client
    finally:
        with leanorm.using(client), leanorm.using_master():
            client.request("PUT", f"hooks/functions/{legacy_password.LOGIN_FUNCTION}", body={"__op": "Delete"})
        server.shutdown()
        server.server_close()
        client.close()


