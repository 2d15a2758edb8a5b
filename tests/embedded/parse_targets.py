"""Raw HTTP in the Parse dialect, to ``leanorm serve`` and (when the tier has one, ``LEANORM_PARSE_URL``)
to Parse Server: the ``target`` fixture runs a test on both, ``served_target`` on ``leanorm serve`` only."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.served import serve


@dataclass
class Target:
    base: str       # ends with /parse
    app_id: str
    js_key: Optional[str]
    master_key: str
    rest_key: str

    def envelope(self, path: str, body: Dict[str, Any], *, method: Optional[str] = None, master: bool = False,
                 session: Optional[str] = None) -> requests.Response:
        """POST ``body`` wrapped as the Parse JS SDK wraps it (``method`` overrides as ``_method``)."""
        payload = {**body, "_ApplicationId": self.app_id, "_ClientVersion": "js8.6.2",
                   "_InstallationId": "3f1d8a52-0000-4000-8000-000000000000"}
        if method:
            payload["_method"] = method
        if master:
            payload["_MasterKey"] = self.master_key
        else:
            payload["_JavaScriptKey"] = self.js_key
        if session:
            payload["_SessionToken"] = session
        return requests.post(f"{self.base}/{path}", data=json.dumps(payload), timeout=30,
                             headers={"Content-Type": "text/plain"})

    def master_get(self, path: str) -> Any:
        return requests.get(f"{self.base}/{path}", timeout=30, headers={
            "X-Parse-Application-Id": self.app_id, "X-Parse-Master-Key": self.master_key}).json()

    def rest(self, method: str, path: str, *, master: bool = False, session: Optional[str] = None,
             headers: Optional[Dict[str, str]] = None, **kwargs: Any) -> requests.Response:
        """A plain REST request with ``X-Parse-*`` headers (the REST key, or the master key; ``headers``
        added, or replacing them)."""
        extra, headers = headers or {}, {"X-Parse-Application-Id": self.app_id}
        if master:
            headers["X-Parse-Master-Key"] = self.master_key
        else:
            headers["X-Parse-REST-API-Key"] = self.rest_key
        if session:
            headers["X-Parse-Session-Token"] = session
        headers.update(extra)
        return requests.request(method, f"{self.base}/{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def served_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve(tmp_path_factory.mktemp("envelope") / "app.sqlite3") as running:
        yield Target(running.base_url + "/parse", running.app_id, running.app_key, running.master_key,
                     running.app_key)


def _parse_target() -> Target:
    url = os.environ.get("LEANORM_PARSE_URL")
    if not url:
        pytest.skip("no Parse Server configured")
    parts = urlsplit(url)
    master = parse_qs(parts.query)["master_key"][0]
    return Target(f"http://{parts.hostname}:{parts.port}{parts.path}", parts.username or "", None, master,
                  parts.password or "")


@pytest.fixture(params=["served", "parse"])
def target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue("served_target") if request.param == "served" else _parse_target()
