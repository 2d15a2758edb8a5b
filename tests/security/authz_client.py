"""Raw HTTP against a ``leanorm serve`` for the authorisation attacks: either dialect, any key, any
session, no SDK in between (an attacker sends exactly what it wants)."""
from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
import requests

from tests.served import Served, serve

DIALECTS = ("leancloud", "parse")
PREFIX = {"leancloud": "/1.1/", "parse": "/parse/"}


class Api:
    """One dialect of a running ``leanorm serve``: ``call`` answers ``(status, json)``."""

    def __init__(self, served: Served, dialect: str) -> None:
        self.served, self.dialect = served, dialect
        self.http = requests.Session()

    def headers(self, session: Optional[str] = None, master: bool = False) -> Dict[str, str]:
        s = self.served
        if self.dialect == "parse":
            out = {"X-Parse-Application-Id": s.app_id, "X-Parse-REST-API-Key": s.app_key}
            if master:
                out["X-Parse-Master-Key"] = s.master_key
            if session:
                out["X-Parse-Session-Token"] = session
        else:
            out = {"X-LC-Id": s.app_id, "X-LC-Key": f"{s.master_key},master" if master else s.app_key}
            if session:
                out["X-LC-Session"] = session
        return out

    def call(self, method: str, path: str, body: Any = None, params: Optional[Dict[str, Any]] = None,
             session: Optional[str] = None, master: bool = False) -> Tuple[int, Any]:
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        resp = self.http.request(method, self.served.base_url + PREFIX[self.dialect] + path, params=query,
                                 data=None if body is None else json.dumps(body),
                                 headers={**self.headers(session, master), "Content-Type": "application/json"},
                                 timeout=30)
        return resp.status_code, resp.json()

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = self.call(method, path, body, **kw)
        assert status < 300, (method, path, status, answer)
        return answer

    def master(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.ok(method, path, body, master=True, **kw)

    def signup(self, **fields: Any) -> Dict[str, Any]:
        """A new user (unique name, password ``pw``): its answer, with ``sessionToken``."""
        body = {"username": f"u{uuid.uuid4().hex[:10]}", "password": "pw", **fields}
        return {**body, **self.ok("POST", "users", body)}

    def results(self, path: str, session: Optional[str] = None, **params: Any) -> Any:
        return self.ok("GET", path, params=params, session=session)["results"]


def unique(prefix: str) -> str:
    """A class name no other test (or helper, on a shared server) uses."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def outbox_code(served: Served, recipient: str, purpose: str) -> str:
    """The last code the server 'sent' to ``recipient`` for ``purpose`` (read from its database)."""
    with sqlite3.connect(str(served.database)) as conn:
        row = conn.execute("SELECT code FROM _outbox WHERE recipient=? AND purpose=? ORDER BY id DESC LIMIT 1",
                           (recipient, purpose)).fetchone()
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
