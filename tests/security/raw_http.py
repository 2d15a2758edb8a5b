"""Requests exactly as an attacker sends them to a ``leanorm serve``: either dialect, any header, any
bytes, no SDK in between. Answers are ``(status, decoded JSON)``."""
from __future__ import annotations

import json
import uuid
from typing import Any, Dict, Optional, Tuple

import pytest
import requests

from tests.served import Served

DIALECTS = ("leancloud", "parse")
#: class-level permissions opening every operation to everyone: a setting permits only what it names (as
#: on Parse Server), so one that closes a single operation names the others open
OPEN_RULES = {op: {"*": True} for op in ("get", "find", "count", "create", "update", "delete", "addField")}
PREFIX = {"leancloud": "/1.1/", "parse": "/parse/"}


def unique(stem: str) -> str:
    """A class or user name no other test (or helper sharing the Parse Server) uses."""
    return f"{stem}{uuid.uuid4().hex[:8]}"


class Raw:
    """One dialect of a running ``leanorm serve``."""

    def __init__(self, served: Served, dialect: str) -> None:
        self.served, self.dialect = served, dialect
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.served.base_url + PREFIX[self.dialect] + path

    def headers(self, master: bool = False, session: Optional[str] = None) -> Dict[str, str]:
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
             master: bool = False, session: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
             data: Any = None, timeout: float = 30) -> Tuple[int, Any]:
        """``body`` goes as JSON, ``data`` as it is (bytes, or a generator: sent chunked); parameters
        that are not text go as JSON."""
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        sent = {**self.headers(master, session), "Content-Type": "application/json", **(headers or {})}
        resp = self.http.request(method, self.url(path), params=query, headers=sent, timeout=timeout,
                                 data=json.dumps(body) if body is not None else data)
        return resp.status_code, resp.json()

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = self.call(method, path, body, **kw)
        assert status < 300, (method, path, status, answer)
        return answer

    def rows(self, class_name: str, **params: Any) -> list:
        """Every object of a class, read with the master key."""
        return self.ok("GET", f"classes/{class_name}", params={"limit": "1000", **params}, master=True)["results"]

    def signup(self) -> Dict[str, Any]:
        """A new user (password ``pw``): its answer, with ``sessionToken``."""
        return self.ok("POST", "users", {"username": unique("user"), "password": "pw"})


def refused(answer: Tuple[int, Any], status: int, code: int) -> None:
    """The request was answered with this HTTP status and protocol error code."""
    assert answer[0] == status and answer[1].get("code") == code, answer


@pytest.fixture(params=DIALECTS)
def raw(request: pytest.FixtureRequest, served: Served) -> Raw:
    """The module's ``leanorm serve`` in each dialect."""
    return Raw(served, request.param)
