"""Users imported from LeanCloud into the real Parse Server keep their passwords: the legacy-login
cloud function that ``register_parse_webhooks`` registers, and ``User.login``'s fallback to it."""
from __future__ import annotations

import uuid

import pytest

import leanorm
from leanorm import legacy_password
from leanorm.auth_context import acting_as
from leanorm.errors import AuthenticationFailed, LeanCloudError
from leanorm.transfer.users import hide_legacy_passwords, user_body

from .test_passwords import HASH, SALT


@pytest.fixture(scope="module")
def parse(parse_with_engine: leanorm.Client) -> leanorm.Client:
    hide_legacy_passwords(parse_with_engine)
    return parse_with_engine


def _imported_user(client: leanorm.Client) -> str:
    """A user as ``leanorm import`` writes it from a LeanCloud export row (the documented vector)."""
    username = f"legacy{uuid.uuid4().hex[:10]}"
    row = {"username": username, "password": HASH, "salt": SALT, "ACL": {"*": {"read": True}}}
    with leanorm.using_master():
        client.request("POST", "classes/_User", body=user_body(row, row))
    return username


def test_login_with_the_old_password_moves_it_to_parse(parse: leanorm.Client) -> None:
    username = _imported_user(parse)
    user = leanorm.User.login(username, "password")
    assert user.username == username and user.session_token
    with leanorm.using_master():
        stored = parse.request("GET", f"classes/_User/{user.id}")
    assert legacy_password.FIELD not in stored  # cleared: from now on a plain Parse login
    plain = parse.request("POST", "login", body={"username": username, "password": "password"})
    assert plain["objectId"] == user.id


def test_a_wrong_password_is_refused_and_keeps_the_legacy_hash(parse: leanorm.Client) -> None:
    username = _imported_user(parse)
    with pytest.raises(AuthenticationFailed):
        leanorm.User.login(username, "Password")
    with pytest.raises(LeanCloudError) as direct:
        parse.request("POST", f"functions/{legacy_password.LOGIN_FUNCTION}",
                      body={"username": username, "password": "nope"})
    assert direct.value.code == 141  # Parse reports every webhook error as 141
    with leanorm.using_master():
        stored = parse.request("GET", "classes/_User", {"where": {"username": username}})["results"][0]
    assert stored[legacy_password.FIELD]["hash"] == HASH
    assert leanorm.User.login(username, "password").username == username


def test_the_legacy_hash_is_hidden_from_everyone_but_the_master_key(parse: leanorm.Client) -> None:
    username = _imported_user(parse)
    other = leanorm.User.signup(f"other{uuid.uuid4().hex[:10]}", "pw")
    with acting_as(other, other.session_token):
        seen = parse.request("GET", "classes/_User", {"where": {"username": username}})["results"]
    assert seen and legacy_password.FIELD not in seen[0] and HASH not in str(seen)
    anonymous = parse.request("GET", "classes/_User", {"where": {"username": username}})["results"]
    assert anonymous and legacy_password.FIELD not in anonymous[0]
