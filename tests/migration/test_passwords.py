"""Users imported from LeanCloud keep their passwords on the embedded backend (issue 11)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

import leanorm
from leanorm import legacy_password
from leanorm.errors import AuthenticationFailed, LeanCloudError
from leanorm.legacy_password import leancloud_hash
from leanorm.transfer.importer import import_export

#: LeanCloud's documented test vector
SALT = "h60d8x797d3oa0naxybxxv9bn7xpt2yiowz68mpiwou7gwr2"
HASH = "tA7BLW+NK0UeARng0693gCaVnljkglCB9snqlpCSUKjx2RgYp8VZZOQt0S5iUtlDrkJXfT3gknS4rRqjYsd/Ug=="


def test_the_documented_vector() -> None:
    assert legacy_password.leancloud_hash("password", SALT) == HASH


@pytest.fixture
def client() -> Iterator[leanorm.Client]:
    client = leanorm.connect("local://:memory:", default=False)
    with leanorm.using(client):
        with leanorm.using_master():
            client.request("POST", "classes/_User", body={
                "objectId": "olduser0001", "username": "old", "password": "random-unguessable",
                legacy_password.FIELD: legacy_password.record(HASH, SALT)})
        yield client
    client.close()


def _stored_hash(client: leanorm.Client) -> str:
    with client.transport.server.store.read() as conn:  # type: ignore[attr-defined]
        return str(conn.execute("SELECT hash FROM _passwords WHERE user_id='olduser0001'").fetchone()[0])


def test_old_password_logs_in_and_is_rehashed(client: leanorm.Client) -> None:
    assert _stored_hash(client).startswith(legacy_password.SCHEME)
    assert leanorm.User.login("old", "password").id == "olduser0001"
    assert _stored_hash(client).startswith("scrypt$")
    assert leanorm.User.login("old", "password").id == "olduser0001"  # and again, under the new scheme


def test_wrong_and_random_passwords_are_refused(client: leanorm.Client) -> None:
    for wrong in ("Password", "random-unguessable", HASH):
        with pytest.raises(AuthenticationFailed):
            leanorm.User.login("old", wrong)
    assert _stored_hash(client).startswith(legacy_password.SCHEME)


def test_no_hash_is_ever_returned(client: leanorm.Client) -> None:
    with leanorm.using_master():
        answers = [client.request("GET", "classes/_User/olduser0001"),
                   *client.request("GET", "classes/_User", {"keys": legacy_password.FIELD})["results"]]
    answers.append(leanorm.User.login("old", "password")._data)
    for answer in answers:
        assert legacy_password.FIELD not in answer and HASH not in str(answer) and SALT not in str(answer)


def test_only_the_master_key_writes_a_legacy_hash(client: leanorm.Client) -> None:
    with pytest.raises(LeanCloudError) as refused:
        client.request("POST", "classes/_User", body={
            "username": "mallory", legacy_password.FIELD: legacy_password.record(HASH, SALT)})
    assert refused.value.code == 119
    with leanorm.using_master(), pytest.raises(LeanCloudError) as malformed:
        client.request("POST", "classes/_User", body={"username": "bad", legacy_password.FIELD: {"hash": 1}})
    assert malformed.value.code == 111


def test_an_import_into_the_embedded_backend_in_parse_dialect_keeps_old_passwords(tmp_path: Path) -> None:
    """The embedded backend spoken to in Parse's dialect has no ``_User`` schema before the first user:
    the import must not stop at hiding the legacy field (which that backend never stores)."""
    (tmp_path / "_User.jsonl").write_text(json.dumps({"objectId": "u1", "username": "ann", "salt": "s",
                                                      "password": leancloud_hash("old-pw", "s")}) + "\n")
    target = leanorm.connect("local://:memory:?dialect=parse", default=False)
    reports = import_export(tmp_path, target)
    assert reports["_User"].copied == 1, reports["_User"].lines()
    with leanorm.using(target):
        assert leanorm.User.login("ann", "old-pw").id == "u1"
    target.close()
