"""Parse Server's options as ``leanorm serve`` flags (issue 19 §18), over HTTP in the Parse dialect:
``--idempotency-path``/``--idempotency-ttl`` (a write served once per ``X-Parse-Request-Id``),
``--verify-user-emails``/``--prevent-login-with-unverified-email``, ``--no-client-key``; and numeric
third-party account ids."""
from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping

import pytest
import requests

from leanorm.embedded import EmbeddedServer
from leanorm.embedded.access.verifiers import Verifier
from tests.embedded.parse_targets import Target
from tests.served import serve


#: the database file of each server this module starts, by its base URL
DATABASES: Dict[str, Path] = {}


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    database = tmp_path_factory.mktemp("options") / "app.sqlite3"
    with serve(database, "--idempotency-path", "classes/.*", "--idempotency-path", "functions/pay",
               "--verify-user-emails", "--prevent-login-with-unverified-email") as running:
        DATABASES[running.base_url + "/parse"] = database
        yield Target(running.base_url + "/parse", running.app_id, running.app_key, running.master_key,
                     running.app_key)


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serve(tmp_path_factory.mktemp("keyless") / "app.sqlite3", "--no-client-key") as running:
        yield Target(running.base_url + "/parse", running.app_id, None, running.master_key, "")


def test_a_write_repeated_with_its_request_id_is_applied_once(configured: Target) -> None:
    cls, request_id = "Pay" + uuid.uuid4().hex[:8], str(uuid.uuid4())
    first = configured.rest("POST", f"classes/{cls}", json={"n": 1}, headers={"X-Parse-Request-Id": request_id})
    assert first.status_code == 201, first.text
    again = configured.rest("POST", f"classes/{cls}", json={"n": 1}, headers={"X-Parse-Request-Id": request_id})
    assert again.status_code == 400 and again.json() == {"code": 159, "error": "Duplicate request"}
    other = configured.rest("POST", f"classes/{cls}", json={"n": 2}, headers={"X-Parse-Request-Id": str(uuid.uuid4())})
    assert other.status_code == 201, other.text
    assert configured.rest("POST", f"classes/{cls}", json={"n": 3}).status_code == 201  # no id: not deduplicated
    rows = configured.rest("GET", f"classes/{cls}", params={"order": "n"}).json()["results"]
    assert [r["n"] for r in rows] == [1, 2, 3]


def test_a_read_or_an_unlisted_path_is_not_deduplicated(configured: Target) -> None:
    cls, request_id = "Pay" + uuid.uuid4().hex[:8], str(uuid.uuid4())
    for _ in range(2):
        assert configured.rest("GET", f"classes/{cls}", headers={"X-Parse-Request-Id": request_id}).ok
        assert configured.rest("POST", "users", headers={"X-Parse-Request-Id": request_id}, json={
            "username": "idem-" + uuid.uuid4().hex[:8], "password": "pw"}).status_code == 201


def test_a_request_id_is_claimed_only_by_an_authenticated_request(configured: Target) -> None:
    cls, request_id = "Pay" + uuid.uuid4().hex[:8], str(uuid.uuid4())
    stranger = configured.rest("POST", f"classes/{cls}", json={"n": 1}, headers={
        "X-Parse-Request-Id": request_id, "X-Parse-REST-API-Key": "wrong"})
    assert stranger.status_code == 401
    assert configured.rest("POST", f"classes/{cls}", json={"n": 1},
                           headers={"X-Parse-Request-Id": request_id}).status_code == 201


def test_an_unverified_email_cannot_log_in_until_verified(configured: Target) -> None:
    name, email = "mail-" + uuid.uuid4().hex[:8], f"{uuid.uuid4().hex[:8]}@example.com"
    signup = configured.rest("POST", "users", json={"username": name, "password": "pw", "email": email})
    assert signup.status_code == 201, signup.text
    assert configured.master_get(f"users/{signup.json()['objectId']}")["emailVerified"] is False
    refused = configured.rest("POST", "login", json={"username": name, "password": "pw"})
    assert refused.json() == {"code": 205, "error": "User email is not verified."}
    wrong = configured.rest("POST", "login", json={"username": name, "password": "nope"})
    assert wrong.json()["code"] == 101  # a wrong password learns nothing about the address
    assert configured.rest("PUT", f"users/{signup.json()['objectId']}", master=True,
                           json={"emailVerified": True}).ok
    assert configured.rest("POST", "login", json={"username": name, "password": "pw"}).status_code == 200
    without_email = configured.rest("POST", "users", json={"username": name + "x", "password": "pw"})
    assert configured.rest("POST", "login", json={"username": name + "x", "password": "pw"}).ok, without_email.text


def test_a_signup_with_an_email_is_sent_a_verification_mail(configured: Target) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert configured.rest("POST", "users", json={"username": "v-" + email, "password": "pw", "email": email}).ok
    conn = sqlite3.connect(DATABASES[configured.base])  # the outbox, read by a connection of our own
    try:
        sent = conn.execute("SELECT kind, recipient, purpose FROM _outbox").fetchall()
    finally:
        conn.close()
    assert ("email", email, "email_verify") in sent


def test_the_application_id_alone_is_a_client_without_client_keys(keyless: Target) -> None:
    cls = "Open" + uuid.uuid4().hex[:8]
    only_id = {"X-Parse-Application-Id": keyless.app_id, "Content-Type": "application/json"}
    made = requests.post(f"{keyless.base}/classes/{cls}", data=json.dumps({"n": 1}), headers=only_id, timeout=30)
    assert made.status_code == 201, made.text
    assert requests.get(f"{keyless.base}/classes/{cls}", headers=only_id, timeout=30).json()["results"][0]["n"] == 1
    master_only = requests.get(f"{keyless.base}/schemas", headers=only_id, timeout=30)
    assert master_only.status_code in (401, 403), master_only.text  # the master key is still needed
    wrong_app = requests.get(f"{keyless.base}/classes/{cls}", headers={"X-Parse-Application-Id": "x"}, timeout=30)
    assert wrong_app.status_code == 401
    leancloud = requests.get(keyless.base.replace("/parse", "/1.1") + f"/classes/{cls}",
                             headers={"X-LC-Id": keyless.app_id}, timeout=30)
    assert leancloud.status_code == 401  # LeanCloud's dialect always needs its app key


class _Numbered(Verifier):
    """A platform whose accounts are numbers, accepted as proven (what a configured verifier decides)."""

    def verify(self, platform: str, auth_data: Mapping[str, Any]) -> None:
        return None


def test_a_numeric_third_party_id_signs_up_and_logs_in_again() -> None:
    server = EmbeddedServer(auth_verifiers={"numbered": _Numbered()})
    headers = {"X-Parse-Application-Id": server.settings.app_id, "X-Parse-REST-API-Key": server.settings.app_key}
    try:
        body = json.dumps({"authData": {"numbered": {"id": 1234, "access_token": "t"}}}).encode()
        first = server.handle("POST", "/parse/users", {}, headers, body)
        assert first.status == 201, first.body
        again = server.handle("POST", "/parse/users", {}, headers, body)
        assert again.status == 200, again.body
        assert json.loads(again.body)["objectId"] == json.loads(first.body)["objectId"]
    finally:
        server.close()
