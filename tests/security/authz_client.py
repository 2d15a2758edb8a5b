"""Raw HTTP against a ``leanorm serve`` for the authorisation attacks: either dialect, any key, any
session, no SDK in between (an attacker sends exactly what it wants)."""
from __future__ import annotations

import uuid
from typing import Any, Dict, Iterator, Optional

import pytest

from tests.security.raw_http import DIALECTS, Raw, unique  # noqa: F401  (unique: shared with the tests)
from tests.served import Served, serve


class Api(Raw):
    """One dialect of a running ``leanorm serve``, with the shortcuts the authorisation attacks use."""

    def master(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.ok(method, path, body, master=True, **kw)

    def signup(self, **fields: Any) -> Dict[str, Any]:
        """A new user (unique name, password ``pw``): its answer, with ``sessionToken``."""
        body = {"username": f"u{uuid.uuid4().hex[:10]}", "password": "pw", **fields}
        return {**body, **self.ok("POST", "users", body)}

    def results(self, path: str, session: Optional[str] = None, **params: Any) -> Any:
        return self.ok("GET", path, params=params, session=session)["results"]


def outbox_code(served: Served, recipient: str, purpose: str) -> str:
    """The last code the server 'sent' to ``recipient`` for ``purpose`` (read from its database)."""
    rows = served.sql("SELECT code FROM _outbox WHERE recipient=? AND purpose=? ORDER BY id DESC LIMIT 1",
                      (recipient, purpose))
    row = rows[0] if rows else None
    assert row, f"no {purpose} code for {recipient}"
    return row[0]


def refused(status: int, answer: Any, *codes: int) -> bool:
    """A 4xx answer in the protocol's error shape, with one of ``codes`` when given."""
    return 400 <= status < 500 and isinstance(answer, dict) and "code" in answer and (
        not codes or answer["code"] in codes)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``leanorm serve`` with its defaults (what a deployment gets), over a fresh database."""
    with serve(tmp_path_factory.mktemp("authz") / "app.sqlite3") as running:
        yield running


@pytest.fixture(params=DIALECTS)
def api(server: Served, request: pytest.FixtureRequest) -> Api:
    """The server in each dialect."""
    return Api(server, request.param)
