"""The world the black-box HTTP fuzzer (``test_http_fuzz.py``) attacks, and its oracles: two users, open
objects, objects only user A may read (each carrying a marker no one else may ever be answered), a file,
a role, and how each kind of caller spells its keys in each dialect.

What it checks of an answer is :meth:`World.violations`: never a 5xx; every 4xx a JSON object with an
integer ``code`` and a string ``error``; no answer past the deadline; A's marker in no answer to anyone
but A or the master key; nothing written (no object change, no new table) by a request answered an error.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any, Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import quote

import requests

from tests.security.http_fuzz_requests import FuzzRequest
from tests.served import Served

PREFIX = {"leancloud": "/1.1/", "parse": "/parse/"}
#: callers that may read A's objects: answers to them are not checked against the marker
TRUSTED = frozenset({"A", "master"})


def _quoted(text: str, safe: str = "") -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


class World:
    """A served app set up for the fuzzer, reached over plain HTTP."""

    def __init__(self, served: Served, deadline: float) -> None:
        self.served, self.deadline = served, deadline
        self.http = requests.Session()
        self.marker = f"SECRETOFA{uuid.uuid4().hex}"
        self.ids: Dict[str, str] = {}
        self.tokens: Dict[str, str] = {}
        self.tainted = False  # A or the master key wrote since the world was last put back
        self._set_up()

    # -- the world ---------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, caller: str = "app") -> Tuple[int, Any]:
        """A request of the world's own (LeanCloud dialect, JSON): its status and answer."""
        resp = self.http.request(method, self.served.base_url + "/1.1/" + path, timeout=60,
                                 headers=self.headers(caller, "leancloud"),
                                 data=None if body is None else json.dumps(body))
        return resp.status_code, resp.json()

    def ok(self, method: str, path: str, body: Any = None, caller: str = "app") -> Any:
        """``call``, which must succeed: its answer."""
        status, answer = self.call(method, path, body, caller)
        assert status < 300, (method, path, status, answer)
        return answer

    def _set_up(self) -> None:
        for name in ("A", "B", "stale"):
            user = self.ok("POST", "users", {"username": f"fz{name}{uuid.uuid4().hex[:8]}", "password": "pw"})
            self.ids[f"@{name}"], self.tokens[name] = user["objectId"], user["sessionToken"]
        self.ok("POST", "logout", {}, caller="stale")  # its token now names no session
        self.ids["@role"] = self.ok("POST", "roles", {"name": f"fz{uuid.uuid4().hex[:8]}",
                                                       "ACL": {"*": {"read": True}}}, caller="master")["objectId"]
        self.ids["@session"] = self.ok("GET", "sessions/me", caller="A")["objectId"]
        self.ids["@file"] = self.ok("POST", "files/a.txt", {"base64": "aGk=", "_ContentType": "text/plain"},
                                     caller="A")["objectId"]
        self._secrets()

    def _secrets(self) -> None:
        """A's objects as they must be: in a class of their own and among open objects, readable by A only."""
        acl = {self.ids["@A"]: {"read": True, "write": True}}
        for class_name, key in (("Secret", "@secret"), ("Fz", "@mixed")):
            body = {"m": self.marker, "n": 2, "s": "x", "ACL": acl}
            url = f"classes/{class_name}/{self.ids.get(key)}"
            if key in self.ids and self.call("PUT", url, body, "master")[0] == 200:
                continue
            self.ids[key] = self.ok("POST", f"classes/{class_name}", body, caller="A")["objectId"]
        # an open object pointing at both, and relating to them: include, keys and $relatedTo reach them
        pointers = [{"__type": "Pointer", "className": c, "objectId": self.ids[k]}
                    for c, k in (("Secret", "@secret"), ("Fz", "@mixed"))]
        linking = {"n": 1, "s": "x", "a": [1, 2], "o": {"k": 1}, "p": pointers[0], "q": pointers[1], "list": pointers,
                   "ACL": {"*": {"read": True, "write": True}}, "r": {"__op": "AddRelation", "objects": pointers[1:]}}
        if "@obj" not in self.ids or self.call("PUT", f"classes/Fz/{self.ids['@obj']}", linking, "master")[0] != 200:
            self.ids["@obj"] = self.ok("POST", "classes/Fz", linking, caller="master")["objectId"]

    def restore(self) -> None:
        """Put back what A or the master key may have changed (the secrets, the users' sessions) since the
        last example, so that the next one's answers are judged against a known world."""
        if not self.tainted:
            return
        for name in ("A", "B"):
            status, me = self.call("GET", "users/me", caller=name)
            if status != 200 or me.get("objectId") != self.ids[f"@{name}"]:
                user = self.ok("POST", "users", {"username": f"fz{name}{uuid.uuid4().hex[:8]}", "password": "pw"})
                self.ids[f"@{name}"], self.tokens[name] = user["objectId"], user["sessionToken"]
        self._secrets()
        self.tainted = False

    def fill(self, placeholder: str) -> str:
        """The id a placeholder of a generated request stands for (unknown ones stay as they are)."""
        return self.ids.get(placeholder, placeholder)

    def headers(self, caller: str, dialect: str) -> Dict[str, str]:
        """The keys and session ``caller`` sends in ``dialect``."""
        s = self.served
        session = {"A": self.tokens.get("A"), "B": self.tokens.get("B"), "stale": self.tokens.get("stale"),
                   "junk-token": "r:" + "0" * 25}.get(caller)
        key = {"wrong-key": "nope", "master": None, "wrong-master": None}.get(caller, s.app_key)
        if dialect == "parse":
            out = {} if caller == "none" else {"X-Parse-Application-Id": "other" if caller == "other-app" else s.app_id}
            if caller == "js-key":
                out["X-Parse-Javascript-Key"] = s.app_key
            elif caller in ("master", "wrong-master"):
                out["X-Parse-Master-Key"] = s.master_key if caller == "master" else "nope"
            elif caller not in ("none", "signed", "bad-signature"):
                out["X-Parse-REST-API-Key"] = key or s.app_key
            if session:
                out["X-Parse-Session-Token"] = session
            return out
        out = {} if caller == "none" else {"X-LC-Id": "other" if caller == "other-app" else s.app_id}
        if caller == "master":
            out["X-LC-Key"] = f"{s.master_key},master"
        elif caller == "wrong-master":
            out["X-LC-Key"] = "nope,master"
        elif caller in ("signed", "bad-signature"):
            stamp = str(int(time.time() * 1000))
            digest = hashlib.md5((stamp + (s.app_key if caller == "signed" else "nope")).encode()).hexdigest()
            out["X-LC-Sign"] = f"{digest},{stamp}"
        elif caller != "none":
            out["X-LC-Key"] = key or s.app_key
        if session:
            out["X-LC-Session"] = session
        return out

    # -- the oracles -------------------------------------------------------------------------------------
    def footprint(self) -> Tuple[int, FrozenSet[str]]:
        """What the store holds that an answered error must leave as it was: the change feed's last
        position (every object write appends to it) and the tables."""
        if self.served.store_url is None:
            tables = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            tables = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        seq = self.served.sql("SELECT COALESCE(max(seq), 0) FROM _changes")[0][0]
        return seq, frozenset(row[0] for row in self.served.sql(tables))

    def changed_classes(self, after: int) -> List[str]:
        return [row[0] for row in self.served.sql("SELECT class_name FROM _changes WHERE seq > ?", (after,))]

    def send(self, request: FuzzRequest) -> Tuple[FuzzRequest, requests.Response, float]:
        """Send a generated request (placeholders filled in); the request sent, its answer and how long
        it took."""
        sent = request.resolve(self.fill)
        headers = {"Content-Type": "application/json", **self.headers(sent.caller, sent.dialect), **sent.extra_headers}
        # spelled here, not by the HTTP client: a lone surrogate travels as the bytes a careless encoder
        # writes for it (``%ED%A0%80``), which no client library sends on its own
        query = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in sent.params.items())
        prefix = "" if sent.path.startswith("/") else PREFIX[sent.dialect]
        url = self.served.base_url + prefix + _quoted(sent.path, "/") + (f"?{query}" if query else "")
        started = time.monotonic()
        resp = self.http.request(sent.method, url, headers=headers, data=sent.body, timeout=self.deadline + 30)
        return sent, resp, time.monotonic() - started

    def violations(self, sent: FuzzRequest, resp: requests.Response, took: float,
                   before: Tuple[int, FrozenSet[str]]) -> List[str]:
        """The rules this answer breaks (none: an empty list)."""
        found = []
        status, text = resp.status_code, resp.text
        if status >= 500:
            found.append(f"answered {status}")
        if 400 <= status < 600 and sent.method != "HEAD":  # a HEAD answer has no body
            try:
                answer: Optional[Any] = resp.json()
            except ValueError:
                answer = None
            if not (isinstance(answer, dict) and type(answer.get("code")) is int
                    and isinstance(answer.get("error"), str)):
                found.append(f"error {status} without an integer code and a string error")
            after = self.footprint()
            if after != before:
                found.append(f"error {status} wrote: objects of {self.changed_classes(before[0])}, new tables "
                             f"{sorted(after[1] - before[1])}")
        if took > self.deadline:
            found.append(f"took {took:.1f} s (deadline {self.deadline:g} s)")
        if sent.caller not in TRUSTED and not self.tainted and self.marker in text:
            found.append("answered an object only A may read")
        if sent.caller in TRUSTED and sent.method not in ("GET", "HEAD", "OPTIONS"):
            self.tainted = True
        return found

    def alive(self) -> bool:
        """Whether the server still answers ``GET /health``."""
        try:
            return self.http.get(self.served.base_url + "/health", timeout=10).status_code == 200
        except requests.RequestException:
            return False
