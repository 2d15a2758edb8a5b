"""Issue 9, item 14: an ``X-LC-Sign`` signature is good for 15 minutes, not for ever.

``md5(timestamp + key),timestamp[,master]``: the timestamp was never checked, so ``md5(KEY)+","`` (an
empty timestamp), or any signature ever seen on the wire, worked for ever, the master key's included.
"""
import hashlib
import time

import pytest

import leanorm
from leanorm.protocol.dialects import request_sign
from tests.security.raw_http import Raw, refused, unique
from tests.served import served  # noqa: F401 (fixture)


def signed(served, timestamp: str, master: bool = False) -> dict:  # noqa: F811 (fixture)
    key = served.master_key if master else served.app_key
    return {"X-LC-Id": served.app_id, "X-LC-Sign": request_sign(timestamp, key) + "," + timestamp
            + (",master" if master else ""), "X-LC-Key": ""}


def now_ms(offset: float = 0.0) -> str:
    return str(int((time.time() + offset) * 1000))


@pytest.mark.parametrize("master", [False, True])
def test_a_fresh_signature_is_taken(served, master: bool) -> None:  # noqa: F811 (fixture)
    api = Raw(served, "leancloud")
    name = unique("Signed")
    for timestamp in (now_ms(), now_ms(-600), now_ms(600), str(int(time.time()))):  # ms as SDKs send; seconds
        api.ok("POST", f"classes/{name}", {"t": timestamp}, headers=signed(served, timestamp, master))
    assert len(api.rows(name)) == 4


@pytest.mark.parametrize("master", [False, True])
def test_a_stale_or_malformed_signature_is_refused_and_changes_nothing(served, master: bool) -> None:  # noqa: F811
    api = Raw(served, "leancloud")
    name = unique("Signed")
    for timestamp in (now_ms(-16 * 60), now_ms(16 * 60), "", "abc", "1e12", " " + now_ms(), now_ms() + ".5",
                      "-" + now_ms(), "\xb2"):
        refused(api.call("POST", f"classes/{name}", {"t": timestamp}, headers=signed(served, timestamp, master)),
                401, 401)
    key = served.master_key if master else served.app_key
    forever = {"X-LC-Id": served.app_id, "X-LC-Key": "",
               "X-LC-Sign": hashlib.md5(key.encode()).hexdigest() + "," + (",master" if master else "")}
    refused(api.call("POST", f"classes/{name}", {"t": "forever"}, headers=forever), 401, 401)
    assert api.rows(name) == []


def test_the_signing_client_still_works(served) -> None:  # noqa: F811 (fixture)
    client = leanorm.connect(served.leanorm_url + "&sign=1", default=False)
    name = unique("Signed")
    client.request("POST", f"classes/{name}", body={"n": 1})
    assert [r["n"] for r in client.request("GET", f"classes/{name}")["results"]] == [1]
