"""URLs, dialect headers and request signing (no I/O)."""
import hashlib

import pytest

from leanorm.config import parse_url
from leanorm.protocol.dialects import LeanCloudDialect, ParseDialect, dialect_named


def test_parse_url_forms():
    cfg = parse_url("parse://APP:KEY@127.0.0.1:1337/parse?master_key=MK")
    assert (cfg["server_url"], cfg["prefix"], cfg["dialect"], cfg["app_id"], cfg["app_key"], cfg["master_key"]) == (
        "http://127.0.0.1:1337", "/parse", "parse", "APP", "KEY", "MK")
    cfg = parse_url("leancloud://APP:KEY@api.example.com?sign=1")
    assert (cfg["server_url"], cfg["prefix"], cfg["sign"], cfg["master_key"]) == (
        "https://api.example.com", "/1.1/", True, None)
    assert parse_url("leancloud+http://A:K@127.0.0.1:3000")["server_url"] == "http://127.0.0.1:3000"
    assert parse_url("parse+https://A:K@h/p")["server_url"] == "https://h"
    assert parse_url("local://:memory:")["database"] == ":memory:"
    assert parse_url("local:///tmp/x.sqlite3")["database"] == "/tmp/x.sqlite3"
    assert parse_url("local://app.sqlite3?dialect=parse")["dialect"] == "parse"
    assert parse_url("local://x?identity_ttl=0")["identity_ttl"] == 0


@pytest.mark.parametrize("url", ["mysql://x", "parse://nokey@h", "local://x?bogus=1"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_url(url)


def test_leancloud_headers_plain_and_master():
    d = LeanCloudDialect()
    assert d.auth_headers("id", "key", "mk", False, None, False) == {"X-LC-Id": "id", "X-LC-Key": "key"}
    assert d.auth_headers("id", "key", "mk", True, "tok", False) == {
        "X-LC-Id": "id", "X-LC-Key": "mk,master", "X-LC-Session": "tok"}


def test_leancloud_signature_is_md5_of_timestamp_and_key():
    headers = LeanCloudDialect().auth_headers("id", "key", "mk", True, None, True)
    digest, ts, master = headers["X-LC-Sign"].split(",")
    assert master == "master" and digest == hashlib.md5((ts + "mk").encode()).hexdigest()
    assert "X-LC-Key" not in headers


def test_parse_headers_send_master_only_when_asked():
    d = ParseDialect()
    assert d.auth_headers("id", "rest", "mk", False, None, False) == {
        "X-Parse-Application-Id": "id", "X-Parse-REST-API-Key": "rest"}
    assert d.auth_headers("id", "rest", "mk", True, "t", False)["X-Parse-Master-Key"] == "mk"


def test_paths_and_parse_count_condition():
    assert LeanCloudDialect().path("classes", "Post") == "/1.1/classes/Post"
    assert dialect_named("parse", "/api/").path("batch") == "/api/batch"
    assert ParseDialect().count_where({}) == {"objectId": {"$exists": True}}
    assert LeanCloudDialect().count_where({}) == {}
