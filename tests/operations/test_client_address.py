"""``leanorm serve`` hands the app the address each connection comes from: the limits kept per client
address (wrong code guesses) count each client apart, not every client of the server as one."""
from __future__ import annotations

import http.client
import json
import random
from pathlib import Path

from tests.served import Served, serve


def _guess(served: Served, source: str) -> int:
    """One wrong SMS code guess from ``source`` (a loopback address): the error code answered."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30, source_address=(source, 0))
    try:
        phone = "+86186" + "".join(random.choice("0123456789") for _ in range(8))
        connection.request("POST", "/1.1/verifySmsCode/123456", json.dumps({"mobilePhoneNumber": phone}),
                           {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key, "Content-Type": "application/json"})
        return int(json.loads(connection.getresponse().read())["code"])
    finally:
        connection.close()


def test_one_client_running_out_of_guesses_leaves_the_others_theirs(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1") as served:
        codes = [_guess(served, "127.0.0.2") for _ in range(25)]
        assert codes[-1] == 219  # that address is out of guesses
        assert _guess(served, "127.0.0.3") == 603  # another client's guess is still judged
