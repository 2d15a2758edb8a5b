"""A ``_User`` hook runs outside the write's transaction, as every other class's does: a signup's or a
user update's password, session and unique fields are written in one transaction under the writers' lock
(exclusive: users' rules read other rows), and a hook in it held that lock while it ran, so every write
of every process (every node, on PostgreSQL) waited for the hook, and a hook writing back through
another process waited for itself until a timeout. Here each hook blocks until another client's write
has been answered, on both stores."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from leanorm.embedded.server import EmbeddedServer
from leanorm.engine import Engine
from tests import postgresql

KEYS = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
HOOKS = ("before_save", "after_save", "before_update", "after_update")


@pytest.fixture(params=postgresql.STORES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return postgresql.schema_url(request.node.name) if request.param == "postgresql" else str(tmp_path / "a.sqlite3")


def _call(server: EmbeddedServer, method: str, path: str, body: Any, token: str = "") -> Tuple[int, Dict[str, Any]]:
    headers = {**KEYS, "X-LC-Session": token} if token else KEYS
    resp = server.handle(method, f"/1.1/{path}", {}, headers, json.dumps(body).encode())
    return resp.status, json.loads(resp.body)


@pytest.mark.parametrize("hook", HOOKS)
def test_a_user_hook_holds_no_lock_while_it_runs(url: str, hook: str) -> None:
    engine = Engine()
    other_answered = threading.Event()
    in_hook = threading.Event()
    seen: List[bool] = []

    def held(user: Any) -> None:
        if getattr(user, "username", None) != "held":
            return
        in_hook.set()
        # the other write is answered while this hook runs, or (holding the lock) only after it
        seen.append(other_answered.wait(10))
        if hook == "before_save":
            user.email = "hook@example.com"
    getattr(engine, hook)("_User")(held)

    server = EmbeddedServer(url, engine=engine)
    try:
        assert _call(server, "POST", "classes/Post", {"n": 0})[0] == 201  # the class exists
        token = ""
        if hook.endswith("update"):
            status, made = _call(server, "POST", "users", {"username": "held", "password": "secret-1"})
            assert status == 201, made
            user_id, token = made["objectId"], made["sessionToken"]
            seen.clear()
        answers: List[Tuple[int, Dict[str, Any]]] = []

        def hooked_write() -> None:
            if hook.endswith("update"):
                answers.append(_call(server, "PUT", f"users/{user_id}", {"nickname": "new"}, token))
            else:
                answers.append(_call(server, "POST", "users", {"username": "held", "password": "secret-1"}))
        writer = threading.Thread(target=hooked_write)
        writer.start()
        assert in_hook.wait(10)
        status, made = _call(server, "POST", "classes/Post", {"n": 1})
        assert status == 201, made
        other_answered.set()
        writer.join(30)
        assert seen == [True], "the other write waited for the hook"
        assert answers and answers[0][0] in (200, 201), answers
        if hook == "before_save":
            status, me = _call(server, "GET", "users/me", None, answers[0][1]["sessionToken"])
            assert status == 200 and me["email"] == "hook@example.com", me
    finally:
        other_answered.set()
        server.close()


@pytest.mark.parametrize("hook", ("before_update", "after_update"))
def test_a_login_with_authdata_runs_its_update_hook_holding_no_lock(url: str, hook: str) -> None:
    """A login with a third-party account writes the account onto its user (an update of ``_User``): its
    hooks ran in the login's transaction, under the writers' lock."""
    engine = Engine()
    other_answered = threading.Event()
    in_hook = threading.Event()
    seen: List[bool] = []

    def held(user: Any) -> None:
        in_hook.set()
        seen.append(other_answered.wait(10))
    getattr(engine, hook)("_User")(held)

    server = EmbeddedServer(url, engine=engine)
    account = {"authData": {"anonymous": {"id": "a-device-of-its-own"}}}
    try:
        assert _call(server, "POST", "classes/Post", {"n": 0})[0] == 201
        status, made = _call(server, "POST", "users", account)
        assert status == 201, made
        answers: List[Tuple[int, Dict[str, Any]]] = []
        writer = threading.Thread(target=lambda: answers.append(_call(server, "POST", "users", account)))
        writer.start()
        assert in_hook.wait(10)
        status, _ = _call(server, "POST", "classes/Post", {"n": 1})
        assert status == 201
        other_answered.set()
        writer.join(30)
        assert seen == [True], "the other write waited for the hook"
        assert answers and answers[0][0] == 200 and answers[0][1]["objectId"] == made["objectId"], answers
    finally:
        other_answered.set()
        server.close()
