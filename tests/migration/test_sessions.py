"""Moving an app keeps every user logged in (issue 19, item 1): the session tokens of an export (LeanCloud's
``_User.sessionToken``, Parse's ``_Session`` rows) keep working on ``leanorm serve`` and on Parse Server."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Dict

import requests

import leanorm
from leanorm.config import parse_url
from leanorm.legacy_password import leancloud_hash
from leanorm.transfer.importer import import_export
from tests.served import Served, serve

LEANCLOUD_TOKEN = "x1y2z3w4v5u6t7s8r9q0p1o2n"  # LeanCloud's tokens: 25 characters
PARSE_TOKEN = "r:0123456789abcdef0123456789abcdef"


def _export(folder: Path, tag: str) -> Path:
    folder.mkdir()
    users = [{"objectId": f"u1{tag}", "username": f"ann{tag}", "salt": "s", "password": leancloud_hash("pw", "s"),
              "sessionToken": LEANCLOUD_TOKEN + tag},
             {"objectId": f"u2{tag}", "username": f"bob{tag}"}]
    sessions = [{"objectId": f"s1{tag}", "sessionToken": PARSE_TOKEN + tag, "expiresAt": {
                    "__type": "Date", "iso": "2099-01-01T00:00:00.000Z"},
                 "user": {"__type": "Pointer", "className": "_User", "objectId": f"u2{tag}"}},
                {"objectId": f"s2{tag}", "sessionToken": f"r:expired-long-ago-{tag}", "expiresAt": {
                    "__type": "Date", "iso": "2020-01-01T00:00:00.000Z"},
                 "user": {"__type": "Pointer", "className": "_User", "objectId": f"u2{tag}"}}]
    (folder / "_User.jsonl").write_text("".join(json.dumps(row) + "\n" for row in users))
    (folder / "_Session.jsonl").write_text("".join(json.dumps(row) + "\n" for row in sessions))
    return folder


def _me(served: Served, dialect: str, token: str) -> requests.Response:
    if dialect == "leancloud":
        headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key, "X-LC-Session": token}
        return requests.get(f"{served.base_url}/1.1/users/me", headers=headers, timeout=10)
    headers = {"X-Parse-Application-Id": served.app_id, "X-Parse-REST-API-Key": served.app_key,
               "X-Parse-Session-Token": token}
    return requests.get(f"{served.base_url}/parse/users/me", headers=headers, timeout=10)


def test_old_session_tokens_keep_working_on_leanorm_serve(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    export = _export(tmp_path / "export", tag)
    with serve(tmp_path / "app.sqlite3") as served:
        target = leanorm.connect(served.leanorm_url, default=False)
        reports = import_export(export, target)
        for dialect in ("leancloud", "parse"):
            ann = _me(served, dialect, LEANCLOUD_TOKEN + tag)
            assert ann.status_code == 200 and ann.json()["objectId"] == f"u1{tag}", ann.text
            bob = _me(served, dialect, PARSE_TOKEN + tag)
            assert bob.status_code == 200 and bob.json()["objectId"] == f"u2{tag}", bob.text
        assert reports["_Session"].copied == 3 and not reports["_Session"].failed, reports["_Session"].lines()
        expired = _me(served, "parse", f"r:expired-long-ago-{tag}")
        assert expired.status_code == 400 and expired.json()["code"] == 209  # it had expired on the source too

        again = import_export(export, target)  # a second run opens nothing twice
        assert (again["_Session"].copied, again["_Session"].failed) == (0, [])
        target.close()


def test_a_client_cannot_open_a_session_for_another_user(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3") as served:
        target = leanorm.connect(served.leanorm_url, default=False)
        with leanorm.using(target):
            victim = leanorm.User.signup("victim", "pw-victim")
        headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
        body: Dict[str, Any] = {"sessionToken": "chosen-by-the-attacker-0001",
                                "user": {"__type": "Pointer", "className": "_User", "objectId": victim.id}}
        answer = requests.post(f"{served.base_url}/1.1/classes/_Session", headers=headers, json=body, timeout=10)
        assert answer.status_code == 403 and answer.json()["code"] == 119
        assert _me(served, "leancloud", "chosen-by-the-attacker-0001").json().get("objectId") != victim.id
        with leanorm.using_master():  # even the master key may not keep a guessable token
            short = {**body, "sessionToken": "abc"}
            try:
                target.request("POST", "classes/_Session", body=short)
                raise AssertionError("a 3-character token was kept")
            except leanorm.errors.LeanCloudError as exc:
                assert exc.code == 111
        target.close()


def test_old_session_tokens_keep_working_on_parse_server(parse_with_engine: leanorm.Client, tmp_path: Path) -> None:
    """Parse Server takes a ``_Session`` written with the master key with the token it names (checked on
    9.10): the same import keeps users logged in there."""
    tag = uuid.uuid4().hex[:6]
    reports = import_export(_export(tmp_path / "export", tag), parse_with_engine)
    assert reports["_Session"].copied == 3 and not reports["_Session"].failed, reports["_Session"].lines()
    config = parse_url(os.environ["LEANORM_PARSE_URL"])
    base = config["server_url"] + "/" + config["prefix"].strip("/")
    headers = {"X-Parse-Application-Id": config["app_id"], "X-Parse-REST-API-Key": config["app_key"]}
    for token, user in ((LEANCLOUD_TOKEN + tag, f"u1{tag}"), (PARSE_TOKEN + tag, f"u2{tag}")):
        me = requests.get(f"{base}/users/me", headers={**headers, "X-Parse-Session-Token": token}, timeout=10)
        assert me.status_code == 200 and me.json()["objectId"] == user, me.text
    again = import_export(tmp_path / "export", parse_with_engine)
    assert (again["_Session"].copied, again["_Session"].skipped) == (0, 3)
