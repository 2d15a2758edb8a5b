"""What the black-box HTTP fuzzer (``test_http_fuzz.py``) found, each as the one request that showed it,
against a real ``leanorm serve`` (docs/security.md, "The fuzzing tier")."""
from __future__ import annotations

import json

import requests

from tests.served import Served, served  # noqa: F401 (fixture)


def _typed_error(resp: requests.Response) -> None:
    answer = resp.json()
    assert type(answer.get("code")) is int and isinstance(answer.get("error"), str), answer


def test_an_operations_endpoint_refuses_a_method_with_a_typed_error(served: Served) -> None:  # noqa: F811
    """``POST /health`` answered 405 ``{"status": "error", "error": ...}``: the only 4xx without a code."""
    for method, path in (("POST", "/health"), ("DELETE", "/ready"), ("PUT", "/health")):
        resp = requests.request(method, served.base_url + path, timeout=30)
        assert resp.status_code == 405
        _typed_error(resp)
        assert resp.json()["status"] == "error"  # what a load balancer reads stays


def test_a_number_beyond_any_double_is_refused_as_malformed_json(served: Served) -> None:  # noqa: F811
    """``POST leaderboard/users/<id>/statistics [{"statisticName": "s", "statisticValue": 99...9}]`` (400
    digits) answered 500: the endpoint's range check converted the integer to a float, which overflowed.
    No client's JSON holds such a number (JavaScript reads it as Infinity), so the request's parse refuses
    it, as it refuses ``NaN`` and ``Infinity``, before any endpoint sees it."""
    master = {"X-LC-Id": served.app_id, "X-LC-Key": f"{served.master_key},master"}
    base = served.base_url + "/1.1/"
    assert requests.post(base + "leaderboard/leaderboards", json={"statisticName": "huge"}, headers=master,
                         timeout=30).status_code == 200
    user = requests.post(base + "users", json={"username": "huge-number", "password": "pw"}, headers=master,
                         timeout=30).json()
    huge = "9" * 400
    for path, body in ((f"leaderboard/users/{user['objectId']}/statistics",
                        f'[{{"statisticName": "huge", "statisticValue": {huge}}}]'),
                       ("classes/Huge", f'{{"n": {huge}}}'), ("classes/Huge", '{"n": 1e999}')):
        resp = requests.post(base + path, data=body, headers={**master, "Content-Type": "application/json"},
                             timeout=30)
        assert resp.status_code == 400 and resp.json()["code"] == 107, (path, resp.text)
    statistics = requests.get(base + f"leaderboard/users/{user['objectId']}/statistics", headers=master,
                              timeout=30).json()
    assert statistics == {"results": []}


def test_a_file_route_without_a_name_reads_its_body_as_json(served: Served) -> None:  # noqa: F811
    """``POST /parse/files/`` (the name left out) with bytes answered 500 on both stores: its body was
    passed on as an upload's stream, but the path (``files``) is the JSON endpoint naming the file in its
    body, which could not parse a stream."""
    keys = {"X-Parse-Application-Id": served.app_id, "X-Parse-REST-API-Key": served.app_key}
    for body, code in ((b"hello", 107), (b'{"name": 1}', None)):
        resp = requests.post(served.base_url + "/parse/files/", data=body, timeout=30,
                             headers={**keys, "Content-Type": "text/plain"})
        assert 400 <= resp.status_code < 500, resp.text
        _typed_error(resp)
        assert code is None or resp.json()["code"] == code


def test_values_compared_one_by_one_are_charged_to_the_requests_budget(served: Served) -> None:  # noqa: F811
    """``POST batch`` of one ``GET classes/Fz`` whose ``where`` is ``{"a": {"$all": [0, 1, ..., 999999]}}``
    (7 MB, app key only) held a thread for 56 s before its 102 ("too complex to run"); ``$in`` of a million
    numbers 20 s. Each value of an ``$all``, and of an ``$in``/``$nin`` that is not all strings or all
    pointers, is its own SQL comparison: SQLite refuses past about a thousand, after the whole list was
    compiled. The request's budget now counts them and refuses past ``budget.MAX_COMPARED_VALUES``
    before compiling, naming the bound; within it they answer as before."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    base = served.base_url + "/1.1/"
    row = requests.post(base + "classes/Compared", json={"n": 3, "a": [1, 2]}, headers=keys, timeout=30).json()

    def found(where: dict) -> requests.Response:
        return requests.post(base + "batch", headers=keys, timeout=120, json={"requests": [
            {"method": "GET", "path": "/1.1/classes/Compared", "params": {"where": where}}]})

    for where in ({"a": {"$all": list(range(1_000_000))}}, {"n": {"$in": list(range(1_000_000))}},
                  {"$or": [{"n": {"$nin": list(range(300))}}, {"a": {"$all": list(range(300))}}]}):
        [item] = found(where).json()
        assert item["error"]["code"] == 102 and "500 values" in item["error"]["error"], item
    for where in ({"n": {"$in": list(range(500))}}, {"a": {"$all": [1, 2]}}, {"n": {"$in": [3, None]}}):
        [item] = found(where).json()
        assert [r["objectId"] for r in item["success"]["results"]] == [row["objectId"]], item


#: a query within every bound of the request's budget that SQLite refuses as too complex: a ``where`` of
#: 1,100 keys (their conditions are one chain of ANDs, past SQLite's expression depth of 1,000)
TOO_COMPLEX = {"where": {f"k{i}": i for i in range(1100)}}


def test_a_batch_item_the_database_refuses_is_that_items_error(served: Served) -> None:  # noqa: F811
    """``POST batch [POST classes/Fz {...}, GET classes/Fz?where={"n": {"$in": [0, ..., 999]}}]`` (or
    ``?where={"k0": 0, ..., "k1099": 1099}``)
    answered 400 "too complex to run" for the whole batch while the first item's object was stored: the
    client was told nothing was done (and a retry stored it twice). A query SQLite finds too complex is
    now that item's error, as any other refusal is, and the items before it answer their success."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    base = served.base_url + "/1.1/"
    resp = requests.post(base + "batch", headers=keys, timeout=60, json={"requests": [
        {"method": "POST", "path": "/1.1/classes/TooComplex", "body": {"tag": "first"}},
        {"method": "GET", "path": "/1.1/classes/TooComplex", "params": TOO_COMPLEX}]})
    assert resp.status_code == 200, resp.text
    written, refused = resp.json()
    assert "objectId" in written["success"], resp.text
    if served.store_url is None:  # PostgreSQL answers it
        assert refused["error"]["code"] == 102, resp.text


def test_a_client_stores_no_object_larger_than_the_bound(served: Served) -> None:  # noqa: F811
    """``POST classes/Fz {"a": [0, 1, ..., 1999999]}`` (15 MB, app key only) was stored, and then every
    query of the class paid for it: each condition or order key of each row reads the document again, one
    SQLite step that the deadline cannot cut (a find ordered by 40 keys took 8 s under a 2 s
    ``--query-timeout``; by 500 keys past a minute). A client's object is at most
    ``Settings.max_object_size`` (1 MiB by default) as stored, on create and on update; the master key (an import) is not bound."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key, "Content-Type": "application/json"}
    master = {**keys, "X-LC-Key": f"{served.master_key},master"}
    base = served.base_url + "/1.1/classes/Large"
    big = '{"a": [' + ",".join(["1234567"] * 200_000) + "]}"  # 1.6 MB
    row = requests.post(base, json={"n": 1}, headers=keys, timeout=30).json()
    for method, url in (("POST", base), ("PUT", f"{base}/{row['objectId']}")):
        resp = requests.request(method, url, data=big, headers=keys, timeout=60)
        assert resp.status_code == 413 and "1048576" in resp.json()["error"], resp.text
    stored = requests.get(base, headers=master, params={"keys": "n"}, timeout=30).json()["results"]
    assert [r["objectId"] for r in stored] == [row["objectId"]]
    assert requests.post(base, data=big, headers=master, timeout=60).status_code == 201


def test_an_integer_past_64_bits_in_a_where_handed_on_is_refused_as_in_any_where(served: Served) -> None:  # noqa: F811
    """``GET users/<id>/followers?where={"s": {"$in": {"n": 99999999999999999999}}}`` answered 500 on both
    stores: the endpoint hands its ``where`` on to a query of ``_Follower`` re-encoded, and the encoder
    could not spell an integer past 64 bits. Re-encoded, it now reaches the query, which refuses it (102)
    as it refuses it in any ``where``."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    for suffix in ("followers", "followees", "followersAndFollowees"):
        for where in ({"s": {"$in": {"n": 2 ** 70}}}, {"s": 2 ** 70}):
            resp = requests.get(served.base_url + f"/1.1/users/someone/{suffix}", headers=keys, timeout=30,
                                params={"where": json.dumps(where)})
            assert resp.status_code == 400 and resp.json()["code"] == 102, (suffix, resp.text)


def test_an_order_names_at_most_the_bound_of_keys(served: Served) -> None:  # noqa: F811
    """``GET classes/Fz?order=k0,k1,...,k1699`` answered 500 on PostgreSQL (it refuses a query of that many
    terms) and "too complex" on SQLite after reading every row's document once per key. ``order`` names at
    most ``budget.MAX_ORDER_KEYS`` (32, MongoDB's sort limit) keys, refused before any is compiled."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    base = served.base_url + "/1.1/classes/Ordered"
    row = requests.post(base, json={"k0": 1}, headers=keys, timeout=30).json()
    for count in (33, 1700):
        resp = requests.get(base, headers=keys, timeout=60, params={"order": ",".join(f"k{i}" for i in range(count))})
        assert resp.status_code == 400 and resp.json()["code"] == 102 and "32" in resp.json()["error"], resp.text
    resp = requests.get(base, headers=keys, timeout=30, params={"order": ",".join(f"-k{i}" for i in range(32))})
    assert [r["objectId"] for r in resp.json()["results"]] == [row["objectId"]]


def test_a_path_too_long_for_any_files_key_is_an_unknown_endpoint(served: Served) -> None:  # noqa: F811
    """``GET /xxxx...`` (5,000 characters: any path outside the API may be a file's key) answered 500 with no
    body: looking the key up matched the file's URL with a pattern past the request's budget of regex
    characters, refused outside any handler. No key is that long: it is a path the server does not know."""
    for method in ("GET", "HEAD"):
        resp = requests.request(method, served.base_url + "/" + "x" * 5000, timeout=30)
        assert resp.status_code == 404, resp.status_code
    _typed_error(requests.get(served.base_url + "/1.1/../" + "x" * 5000, timeout=30))


def test_an_object_holding_an_integer_past_64_bits_compares_equal_to_nothing(served: Served) -> None:  # noqa: F811
    """``GET classes/Fz?where={"o": {"k": 99999999999999999999}}`` answered 500 on both stores: the value is
    compared in its stored form, whose encoder could not spell the integer. No stored object holds one, so
    it now matches nothing."""
    keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    requests.post(served.base_url + "/1.1/classes/Wide", json={"o": {"k": 1}}, headers=keys, timeout=30)
    for path in ("classes/Wide", "users/someone/followers"):
        resp = requests.get(served.base_url + "/1.1/" + path, headers=keys, timeout=30,
                            params={"where": json.dumps({"o": {"k": 2 ** 70}})})
        assert resp.status_code == 200 and resp.json()["results"] == [], resp.text
