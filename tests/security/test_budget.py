"""Issue 18, findings 10 and 11: one cost budget per request, over plain HTTP in both dialects.

Before it, each clause had a bound of its own and a request could repeat a cheap clause at will: a
``$or`` of 300 different ``$regex`` patterns (10 KB, app key only) cost 8-17 s of server time, CQL's
``limit 100000000`` answered every row, and a batch of 500 finds of 1,000 rows answered 112 MiB. Each
test below sends what an attacker sent and expects the named 4xx, with the server still answering.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from leanorm.embedded import budget
from tests.security.raw_http import DIALECTS, Raw, raw, refused, unique  # noqa: F401 (fixtures)
from tests.served import serve, served  # noqa: F401 (fixture)


def _seed(raw: Raw, name: str, count: int) -> None:
    """``count`` objects of ``name`` (``n`` = 0..count-1, ``s`` a word), a batch of 100 at a time."""
    prefix = raw.url("")[len(raw.served.base_url):]
    for start in range(0, count, 100):
        raw.ok("POST", "batch", {"requests": [
            {"method": "POST", "path": f"{prefix}classes/{name}", "body": {"n": n, "s": f"word{n}"}}
            for n in range(start, min(start + 100, count))]})


def _find(raw: Raw, name: str, where: Any, **params: Any) -> Any:
    return raw.call("GET", f"classes/{name}", params={"where": where, **params})


def _names_bound(answer: Any, bound: int) -> None:
    """A 400 with error 102 whose message names ``bound``."""
    refused(answer, 400, 102)
    assert str(bound) in answer[1]["error"], answer


# -- finding 10: a where's cost is bounded per request, not per clause --------------------------------------
def test_an_or_of_300_regex_patterns_is_refused_before_it_runs(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 3)
    attack = {"$or": [{"s": {"$regex": f"^w.*{i}x?$"}} for i in range(300)]}
    refused(_find(raw, name, attack), 400, 102)
    fewer_branches = {"$or": [{"s": {"$regex": f"^w.*{i}x?$"}} for i in range(budget.MAX_REGEXES + 1)]}
    _names_bound(_find(raw, name, fewer_branches), budget.MAX_REGEXES)
    # within the budget the same kind of query answers
    found = _find(raw, name, {"$or": [{"s": {"$regex": f"^word{i}$"}} for i in range(3)]}, order="n")
    assert found[0] == 200 and [r["n"] for r in found[1]["results"]] == [0, 1, 2]


def test_six_pattern_floods_at_once_leave_a_plain_query_answering(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 200)
    attack = {"$or": [{"s": {"$regex": f"^w.*{i}x?$"}} for i in range(300)]}
    answers: List[Any] = []
    floods = [threading.Thread(target=lambda: answers.append(_find(raw, name, attack, limit=1000)))
              for _ in range(6)]
    for flood in floods:
        flood.start()
    plain = raw.call("GET", f"classes/{name}", params={"where": {"n": 7}})
    for flood in floods:
        flood.join(60)
    assert plain[0] == 200 and [r["n"] for r in plain[1]["results"]] == [7]
    assert len(answers) == 6 and all(a[0] == 400 and a[1]["code"] == 102 for a in answers)


def test_regex_patterns_are_bounded_by_their_total_length(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 1)
    long_pattern = "w" + "[a-z]?" * 200  # 1,201 characters: four of them pass the total
    _names_bound(_find(raw, name, {"$and": [{"s": {"$regex": long_pattern}} for _ in range(4)]}),
                 budget.MAX_REGEX_CHARS)


def test_or_branches_are_bounded_across_a_request(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 1)
    _names_bound(_find(raw, name, {"$or": [{"n": i} for i in range(budget.MAX_BRANCHES + 1)]}),
                 budget.MAX_BRANCHES)


def test_polygon_points_are_bounded_in_all_not_per_polygon(raw: Raw) -> None:
    name = unique("Budget")
    raw.ok("POST", f"classes/{name}", {"at": {"__type": "GeoPoint", "latitude": 1, "longitude": 1}})
    half = budget.MAX_POLYGON_POINTS // 2 + 1
    ring = [[i / half, (i % 2) / 10] for i in range(half)]  # each polygon alone is within the bound
    where = {"$or": [{"at": {"$geoWithin": {"$polygon": ring}}}, {"at": {"$geoWithin": {"$polygon": ring}}}]}
    _names_bound(_find(raw, name, where), budget.MAX_POLYGON_POINTS)


def test_sub_queries_are_bounded_across_a_request(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 1)
    inner = {"objectId": {"$exists": True}}
    where = {"$and": [{"self": {"$inQuery": {"className": name, "where": inner}}}
                      for _ in range(budget.MAX_SUBQUERIES + 1)]}
    _names_bound(_find(raw, name, where), budget.MAX_SUBQUERIES)


def test_include_is_bounded_in_depth(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 1)
    deep = ".".join(["next"] * (budget.MAX_INCLUDE_DEPTH + 1))
    _names_bound(_find(raw, name, {}, include=deep), budget.MAX_INCLUDE_DEPTH)
    assert _find(raw, name, {}, include="next.next")[0] == 200


def test_cql_limit_is_the_classes_limit(served) -> None:  # noqa: F811 (fixture)
    leancloud = Raw(served, "leancloud")
    name = unique("Budget")
    _seed(leancloud, name, 2)
    for cql in (f"select * from {name} limit 100000000", f"select * from {name} limit 0, 1001"):
        _names_bound(leancloud.call("GET", "cloudQuery", params={"cql": cql}), 1000)
    answer = leancloud.call("GET", "cloudQuery", params={"cql": f"select * from {name} limit ?",
                                                         "pvalues": [100000000]})
    _names_bound(answer, 1000)
    status, found = leancloud.call("GET", "cloudQuery", params={"cql": f"select * from {name} limit 1000"})
    assert status == 200 and len(found["results"]) == 2


# -- finding 11: a batch costs what one request may ---------------------------------------------------------
def test_a_batch_has_a_documented_maximum_of_items(raw: Raw) -> None:
    name = unique("Budget")
    prefix = raw.url("")[len(raw.served.base_url):]
    items = [{"method": "POST", "path": f"{prefix}classes/{name}", "body": {"n": n}}
             for n in range(budget.MAX_BATCH_ITEMS + 1)]
    answer = raw.call("POST", "batch", {"requests": items})
    refused(answer, 400, 107)
    assert str(budget.MAX_BATCH_ITEMS) in answer[1]["error"]
    assert raw.call("GET", f"classes/{name}", params={"count": 1, "limit": 0}, master=True)[1].get("count", 0) == 0


def test_the_rows_a_batch_answers_are_bounded_in_all(raw: Raw) -> None:
    name = unique("Budget")
    _seed(raw, name, 1000)
    prefix = raw.url("")[len(raw.served.base_url):]
    pages = budget.MAX_ROWS // 1000 + 1  # one page of 1,000 rows more than a request may answer
    answers: List[Dict[str, Any]] = raw.ok("POST", "batch", {"requests": [
        {"method": "GET", "path": f"{prefix}classes/{name}", "params": {"limit": 1000}} for _ in range(pages)]})
    answered = sum(len(a["success"]["results"]) for a in answers if "success" in a)
    assert answered <= budget.MAX_ROWS
    assert answers[-1]["error"]["code"] == 102 and str(budget.MAX_ROWS) in answers[-1]["error"]["error"]
    # the next request has a budget of its own
    assert len(raw.ok("GET", f"classes/{name}", params={"limit": 1000})["results"]) == 1000


def test_an_inbox_page_has_the_classes_limit(served) -> None:  # noqa: F811 (fixture)
    leancloud = Raw(served, "leancloud")
    user = leancloud.signup()
    owner = {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    asked = {"owner": owner, "limit": 100000000}
    _names_bound(leancloud.call("GET", "subscribe/statuses", params=asked, session=user["sessionToken"]), 1000)
    answer = leancloud.ok("GET", "subscribe/statuses", params={"owner": owner, "limit": 1000, "count": 1},
                          session=user["sessionToken"])
    assert answer == {"results": [], "count": 0}


# -- the deadline: what the static budget lets through still ends ----------------------------------------------
@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_read_past_the_query_timeout_answers_124_and_the_server_goes_on(tmp_path: Path, dialect: str) -> None:
    with serve(tmp_path / "app.sqlite3", "--query-timeout", "0.001") as running:
        api = Raw(running, dialect)
        name = unique("Budget")
        _seed(api, name, 1000)  # a write's statements get at least budget.WRITE_FLOOR
        heavy = {"$or": [{"n": {"$gt": i}} for i in range(100)]}
        refused(_find(api, name, heavy, order="-s", limit=1000), 400, 124)
        assert "0.001 s" in _find(api, name, heavy, order="-s", limit=1000)[1]["error"]
        created = api.ok("POST", f"classes/{name}", {"n": -1})
        # a read of a few SQLite steps ends before its first look at the deadline: it answers
        assert api.ok("GET", f"classes/{name}/{created['objectId']}")["n"] == -1
