"""Phone numbers in one spelling (``leanorm.embedded.access.phones``): what E.164 a text names, in which region,
and what is refused."""
import json

import pytest

from leanorm.embedded import EmbeddedServer
from leanorm.embedded.access.phones import check_region, e164
from leanorm.embedded.answers import ProtocolError

KEYS = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-key"}
MASTER = {"X-LC-Id": "leanorm-local", "X-LC-Key": "leanorm-local-master,master"}


@pytest.mark.parametrize("text", ["13800138000", "+8613800138000", "+86 138 0013 8000", "+86-138-0013-8000",
                                  "(+86) 138 0013 8000", "008613800138000", "+86 0138 0013 8000",
                                  "１３８００１３８０００", "tel:+86-138-0013-8000"])
def test_every_spelling_of_a_chinese_number_is_one_e164(text):
    assert e164(text, "CN") == "+8613800138000"


@pytest.mark.parametrize("text, region, number", [
    ("2025550143", "US", "+12025550143"),
    ("(202) 555-0143", "US", "+12025550143"),
    ("011 86 138 0013 8000", "US", "+8613800138000"),   # the US's international prefix
    ("+8613800138000", "US", "+8613800138000"),          # a country code wins over the region
    ("07911 123456", "GB", "+447911123456"),
])
def test_a_number_without_its_country_code_is_read_in_the_region(text, region, number):
    assert e164(text, region) == number


@pytest.mark.parametrize("value", ["", "12345", "138", "+86 138", "hello", "+999 1234 5678", "1" * 70,
                                   "13800138000 ext. 12", "+8613800138000;ext=1", None, 13800138000,
                                   ["13800138000"]])
def test_anything_but_a_valid_number_is_error_127(value):
    with pytest.raises(ProtocolError) as info:
        e164(value, "CN")
    assert info.value.code == 127 and "CN" in str(info.value)


def test_a_region_is_a_known_two_letter_code():
    assert check_region("cn") == "CN" and check_region("US") == "US"
    for bad in ("ZZ", "China", "", "86"):
        with pytest.raises(ValueError, match="phone region"):
            check_region(bad)
    with pytest.raises(ValueError, match="phone region"):
        EmbeddedServer(phone_region="XX")


def _call(server, method, path, body=None, headers=KEYS):
    resp = server.handle(method, "/1.1/" + path, {}, headers, None if body is None else json.dumps(body).encode())
    return resp.status, json.loads(resp.body)


def test_the_server_stores_numbers_in_e164_in_its_region():
    server = EmbeddedServer(phone_region="US")
    status, user = _call(server, "POST", "users", {"username": "ann", "password": "pw",
                                                   "mobilePhoneNumber": "(202) 555-0143"})
    assert status == 201
    status, stored = _call(server, "GET", f"users/{user['objectId']}", headers=MASTER)
    assert stored["mobilePhoneNumber"] == "+12025550143"
    status, answer = _call(server, "POST", "users", {"username": "bob", "password": "pw",
                                                     "mobilePhoneNumber": "+1 202 555 0143"})
    assert (status, answer["code"]) == (400, 214)
    status, answer = _call(server, "POST", "login", {"mobilePhoneNumber": "202-555-0143", "password": "pw"})
    assert status == 200 and answer["objectId"] == user["objectId"]


def test_the_master_key_may_keep_text_that_is_no_number_and_no_lookup_finds_it():
    server = EmbeddedServer()
    status, user = _call(server, "POST", "users", {"username": "old", "password": "pw", "mobilePhoneNumber": "12345"},
                         headers=MASTER)
    assert status == 201
    assert _call(server, "GET", f"users/{user['objectId']}", headers=MASTER)[1]["mobilePhoneNumber"] == "12345"
    assert _call(server, "POST", "requestLoginSmsCode", {"mobilePhoneNumber": "12345"})[1]["code"] == 127
    assert _call(server, "POST", "login", {"mobilePhoneNumber": "12345", "password": "pw"})[1]["code"] == 127
    status, user = _call(server, "POST", "users", {"username": "new", "password": "pw",
                                                   "mobilePhoneNumber": "+86 138 0013 8000"}, headers=MASTER)
    assert _call(server, "GET", f"users/{user['objectId']}", headers=MASTER)[1]["mobilePhoneNumber"] == "+8613800138000"
