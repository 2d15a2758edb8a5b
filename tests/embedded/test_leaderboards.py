"""Issue 19, item 9: LeanCloud's leaderboards (``/1.1/leaderboard/...``) on ``leanorm serve``, raw HTTP in
the shapes LeanCloud answers (its REST guide and the JS SDK's recordings of LeanCloud's answers).

A leaderboard is managed with the master key; a user updates its own statistics; anyone with the app key
reads the rankings, whose user data pass the same read rules as any read of ``_User``."""
from datetime import datetime
from typing import Any, Dict, List

import pytest

from leanorm.embedded.endpoints.leaderboards import next_reset

from tests.security.raw_http import Raw, refused, unique
from tests.served import Served, served  # noqa: F401 (fixture)


@pytest.fixture
def lc(served: Served) -> Raw:  # noqa: F811
    return Raw(served, "leancloud")


def board(lc: Raw, **settings: Any) -> str:
    name = unique("score")
    answer = lc.ok("POST", "leaderboard/leaderboards", {"statisticName": name, **settings}, master=True)
    assert answer["statisticName"] == name
    return name


def players(lc: Raw, count: int, **fields: Any) -> List[Dict[str, Any]]:
    names = [unique("player") for _ in range(count)]
    return [{**lc.ok("POST", "users", {"username": name, "password": "pw", **fields}), "username": name}
            for name in names]


def submit(lc: Raw, user: Dict[str, Any], **values: float) -> Any:
    return lc.ok("POST", f"leaderboard/users/{user['objectId']}/statistics",
                 [{"statisticName": k, "statisticValue": v} for k, v in values.items()],
                 session=user["sessionToken"])


def ranks(lc: Raw, name: str, suffix: str = "", **params: Any) -> List[Dict[str, Any]]:
    return lc.ok("GET", f"leaderboard/leaderboards/{name}/ranks{suffix}", params=params)["results"]


def test_a_leaderboard_is_created_read_changed_and_deleted_with_the_master_key(lc):
    name = unique("score")
    created = lc.ok("POST", "leaderboard/leaderboards", {"statisticName": name, "order": "ascending",
                                                          "updateStrategy": "better",
                                                          "versionChangeInterval": "week"}, master=True)
    assert {k: created[k] for k in ("statisticName", "order", "updateStrategy", "versionChangeInterval",
                                    "version")} == {"statisticName": name, "order": "ascending",
                                                    "updateStrategy": "better", "versionChangeInterval": "week",
                                                    "version": 0}
    assert created["expiredAt"]["__type"] == "Date" and created["activatedAt"]["__type"] == "Date"
    assert created["expiredAt"]["iso"].endswith("T16:00:00.000Z")  # a Monday, 00:00 in China (UTC+8)
    assert lc.ok("GET", f"leaderboard/leaderboards/{name}") == created  # any app-key client reads it
    refused(lc.call("PUT", f"leaderboard/leaderboards/{name}", {"versionChangeInterval": "never"}), 403, 1)
    changed = lc.ok("PUT", f"leaderboard/leaderboards/{name}", {"versionChangeInterval": "day"}, master=True)
    assert changed["versionChangeInterval"] == "day" and changed["objectId"] == created["objectId"]
    assert lc.ok("GET", f"leaderboard/leaderboards/{name}")["versionChangeInterval"] == "day"
    refused(lc.call("DELETE", f"leaderboard/leaderboards/{name}"), 403, 1)
    assert lc.ok("DELETE", f"leaderboard/leaderboards/{name}", master=True) == {}
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}"), 404, 2100)


def test_creating_a_leaderboard_needs_the_master_key_and_valid_settings(lc):
    refused(lc.call("POST", "leaderboard/leaderboards", {"statisticName": unique("score")}), 403, 1)
    refused(lc.call("POST", "leaderboard/leaderboards", {"statisticName": unique("s"), "order": "up"},
                    master=True), 400, 107)
    defaults = lc.ok("POST", "leaderboard/leaderboards", {"statisticName": unique("score")}, master=True)
    assert (defaults["order"], defaults["updateStrategy"], defaults["versionChangeInterval"]) == \
        ("descending", "better", "week")
    refused(lc.call("POST", "leaderboard/leaderboards", {"statisticName": defaults["statisticName"]},
                    master=True), 400, 137)


def test_users_update_their_own_statistics_and_results_rank_them(lc):
    name, other = board(lc, order="ascending"), board(lc, order="ascending", versionChangeInterval="never")
    users = players(lc, 4)
    for index, user in enumerate(users):
        answer = submit(lc, user, **{name: index, other: -index})
        assert answer == {"results": [{"statisticName": name, "version": 0, "statisticValue": index},
                                      {"statisticName": other, "version": 0, "statisticValue": -index}]}
    results = ranks(lc, name)
    assert [(r["rank"], r["statisticValue"], r["user"]["objectId"]) for r in results] == \
        [(i, i, u["objectId"]) for i, u in enumerate(users)]
    assert results[0]["user"] == {"__type": "Pointer", "className": "_User", "objectId": users[0]["objectId"]}
    count = lc.ok("GET", f"leaderboard/leaderboards/{name}/ranks", params={"count": 1, "limit": 0})
    assert count == {"count": 4, "results": []}
    page = ranks(lc, name, skip=1, limit=2)
    assert [r["rank"] for r in page] == [1, 2]
    mine = lc.ok("GET", f"leaderboard/users/{users[2]['objectId']}/statistics",
                 session=users[2]["sessionToken"])["results"]
    assert sorted((s["statisticName"], s["statisticValue"], s["version"]) for s in mine) == \
        sorted([(name, 2, 0), (other, -2, 0)])
    assert all(s["user"]["objectId"] == users[2]["objectId"] for s in mine)
    only = lc.ok("GET", f"leaderboard/users/{users[2]['objectId']}/statistics", params={"statistics": other})
    assert [s["statisticName"] for s in only["results"]] == [other]


def test_a_user_can_not_write_another_users_statistics_but_the_master_key_can(lc):
    name = board(lc)
    ann, bob = players(lc, 2)
    status, answer = lc.call("POST", f"leaderboard/users/{bob['objectId']}/statistics",
                             [{"statisticName": name, "statisticValue": 99}], session=ann["sessionToken"])
    assert status == 403 and answer["code"] in (1, 206), answer
    refused(lc.call("POST", f"leaderboard/users/{bob['objectId']}/statistics",
                    [{"statisticName": name, "statisticValue": 99}]), 403, 206)
    assert ranks(lc, name) == []
    lc.ok("POST", f"leaderboard/users/{bob['objectId']}/statistics",
          [{"statisticName": name, "statisticValue": 5}], master=True)
    assert [r["statisticValue"] for r in ranks(lc, name)] == [5]
    mine = lc.ok("POST", "leaderboard/users/self/statistics", [{"statisticName": name, "statisticValue": 7}],
                 session=ann["sessionToken"])
    assert mine["results"][0]["statisticValue"] == 7
    assert [(r["user"]["objectId"], r["statisticValue"]) for r in ranks(lc, name)] == \
        [(ann["objectId"], 7), (bob["objectId"], 5)]
    refused(lc.call("POST", f"leaderboard/users/{ann['objectId']}/statistics",
                    [{"statisticName": unique("missing"), "statisticValue": 1}], master=True), 404, 2100)
    refused(lc.call("POST", f"leaderboard/users/{ann['objectId']}/statistics",
                    [{"statisticName": name, "statisticValue": "high"}], master=True), 400, 107)


@pytest.mark.parametrize("strategy, order, sent, kept", [
    ("better", "descending", [5, 9, 3], 9),
    ("better", "ascending", [5, 9, 3], 3),
    ("last", "descending", [5, 9, 3], 3),
    ("sum", "descending", [5, 9, 3], 17),
])
def test_each_update_strategy_keeps_what_leancloud_keeps(lc, strategy, order, sent, kept):
    name = board(lc, updateStrategy=strategy, order=order)
    (user,) = players(lc, 1)
    for value in sent:
        answer = submit(lc, user, **{name: value})
    assert answer["results"][0]["statisticValue"] == kept
    assert ranks(lc, name)[0]["statisticValue"] == kept


def test_overwrite_ignores_the_strategy_and_needs_the_master_key(lc):
    name = board(lc, updateStrategy="better", order="descending")
    (user,) = players(lc, 1)
    submit(lc, user, **{name: 50})
    path = f"leaderboard/users/{user['objectId']}/statistics"
    body = [{"statisticName": name, "statisticValue": 1}]
    refused(lc.call("POST", path, body, params={"overwrite": 1}, session=user["sessionToken"]), 403, 1)
    assert lc.ok("POST", path, body, params={"overwrite": 1}, master=True)["results"][0]["statisticValue"] == 1


def test_results_around_a_user_center_on_it(lc):
    name = board(lc, order="ascending")
    users = players(lc, 4)
    for index, user in enumerate(users):
        submit(lc, user, **{name: index})
    around_self = lc.ok("GET", f"leaderboard/leaderboards/{name}/ranks/self", params={"limit": 3},
                        session=users[2]["sessionToken"])["results"]
    assert [r["rank"] for r in around_self] == [1, 2, 3]
    around_first = ranks(lc, name, f"/{users[1]['objectId']}", limit=3)
    assert [(r["rank"], r["statisticValue"]) for r in around_first] == [(0, 0), (1, 1), (2, 2)]
    around_last = ranks(lc, name, f"/{users[3]['objectId']}", limit=3)
    assert [r["rank"] for r in around_last] == [1, 2, 3]
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/ranks/self"), 403, 206)


def test_results_carry_selected_user_keys_included_pointers_and_other_statistics(lc):
    name, other = board(lc, order="ascending"), board(lc)
    company = lc.ok("POST", "classes/Company", {"name": "LeanCloud"})
    pointer = {"__type": "Pointer", "className": "Company", "objectId": company["objectId"]}
    users = players(lc, 2, company=pointer)
    for index, user in enumerate(users):
        submit(lc, user, **{name: index, other: 10 + index})
    results = ranks(lc, name, selectUserKeys="username,company", includeUser="company", includeStatistics=other)
    assert results[1]["user"]["username"] == users[1]["username"]
    assert results[1]["user"]["company"]["name"] == "LeanCloud"
    assert results[1]["statistics"] == [{"statisticName": other, "statisticValue": 11, "version": 0}]
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/ranks", params={"includeStatistics": "fake"}),
            400, 2100)


def test_includeUserKeys_never_leaks_what_the_read_rules_hide(lc):
    """A user's email is hidden from other users (protected fields), and a user whose ACL hides it from
    the caller shows as a bare pointer: the rankings are a read of _User like any other."""
    name = board(lc)
    hidden = lc.ok("POST", "users", {"username": unique("hidden"), "password": "pw",
                                     "email": f"{unique('h')}@example.com"})
    lc.ok("PUT", f"users/{hidden['objectId']}", {"ACL": {hidden["objectId"]: {"read": True, "write": True}}},
          session=hidden["sessionToken"])
    public = lc.ok("POST", "users", {"username": unique("public"), "password": "pw",
                                     "email": f"{unique('p')}@example.com"})
    submit(lc, hidden, **{name: 2})
    submit(lc, public, **{name: 1})
    (viewer,) = players(lc, 1)
    for params in ({"selectUserKeys": "email,username", "includeUser": "email"},
                   {"selectKeys": "email,username", "includeKeys": "email"}):
        results = lc.ok("GET", f"leaderboard/leaderboards/{name}/ranks", params=params,
                        session=viewer["sessionToken"])["results"]
        by_id = {r["user"]["objectId"]: r["user"] for r in results}
        assert "email" not in by_id[public["objectId"]] and by_id[public["objectId"]]["username"]
        assert by_id[hidden["objectId"]] == {"__type": "Pointer", "className": "_User",
                                             "objectId": hidden["objectId"]}
    own = lc.ok("GET", f"leaderboard/leaderboards/{name}/ranks", params={"selectUserKeys": "email"},
                session=hidden["sessionToken"])["results"]
    assert [r["user"].get("email") for r in own if r["user"]["objectId"] == hidden["objectId"]] == \
        [hidden_email(lc, hidden)]


def hidden_email(lc: Raw, user: Dict[str, Any]) -> str:
    return lc.ok("GET", f"users/{user['objectId']}", master=True)["email"]


def test_results_are_bounded_like_any_query(lc):
    name = board(lc)
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/ranks", params={"limit": 1001}), 400, 102)
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/ranks", params={"limit": "many"}), 400, 102)


def test_deleting_statistics_takes_the_user_off_the_board(lc):
    name = board(lc)
    ann, bob = players(lc, 2)
    submit(lc, ann, **{name: 1})
    submit(lc, bob, **{name: 2})
    refused(lc.call("DELETE", f"leaderboard/users/{ann['objectId']}/statistics", params={"statistics": name},
                    session=bob["sessionToken"]), 403, 1)
    assert lc.ok("DELETE", f"leaderboard/users/{ann['objectId']}/statistics", params={"statistics": name},
                 session=ann["sessionToken"]) == {}
    assert [r["user"]["objectId"] for r in ranks(lc, name)] == [bob["objectId"]]


def test_reset_starts_a_new_version_and_archives_the_old_one(lc):
    name = board(lc, order="descending")
    (user,) = players(lc, 1)
    submit(lc, user, **{name: 10})
    refused(lc.call("PUT", f"leaderboard/leaderboards/{name}/incrementVersion"), 403, 1)
    reset = lc.ok("PUT", f"leaderboard/leaderboards/{name}/incrementVersion", master=True)
    assert reset["version"] == 1 and reset["activatedAt"]["__type"] == "Date"
    assert ranks(lc, name) == []
    assert [r["statisticValue"] for r in ranks(lc, name, version=0)] == [10]
    assert submit(lc, user, **{name: 3})["results"][0] == {"statisticName": name, "version": 1,
                                                            "statisticValue": 3}
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/archives"), 403, 1)
    archives = lc.ok("GET", f"leaderboard/leaderboards/{name}/archives", master=True)["results"]
    assert [(a["statisticName"], a["version"], a["status"]) for a in archives] == [(name, 0, "completed")]
    assert archives[0]["activatedAt"]["__type"] == "Date" and archives[0]["deactivatedAt"]["__type"] == "Date"


def test_entity_and_object_leaderboards(lc):
    """LeanCloud's later leaderboards rank an entity (a string) or an object of a class (``memberType``);
    their statistics are written with the master key and their results come from ``leaderboards/<type>/``."""
    teams = board(lc, memberType="_Entity")
    for team, value in (("red", 3), ("blue", 8)):
        lc.ok("POST", f"leaderboard/entities/{team}/statistics", [{"statisticName": teams, "statisticValue": value}],
              master=True)
    refused(lc.call("POST", "leaderboard/entities/red/statistics",
                    [{"statisticName": teams, "statisticValue": 100}]), 403, 1)
    results = lc.ok("GET", f"leaderboard/leaderboards/entity/{teams}/ranks")["results"]
    assert [(r["rank"], r["entity"], r["statisticValue"]) for r in results] == [(0, "blue", 8), (1, "red", 3)]
    assert lc.ok("GET", "leaderboard/entities/red/statistics")["results"][0]["statisticValue"] == 3
    cars = board(lc, memberType="Car")
    car = lc.ok("POST", "classes/Car", {"model": "fast"})
    lc.ok("POST", f"leaderboard/objects/{car['objectId']}/statistics",
          [{"statisticName": cars, "statisticValue": 1.5}], master=True)
    refused(lc.call("POST", "leaderboard/objects/nosuchcar/statistics",
                    [{"statisticName": cars, "statisticValue": 1}], master=True), 404, 101)
    (ranked,) = lc.ok("GET", f"leaderboard/leaderboards/object/{cars}/ranks",
                      params={"selectKeys": "model"})["results"]
    assert {k: ranked["object"][k] for k in ("__type", "className", "objectId", "model")} == \
        {"__type": "Pointer", "className": "Car", "objectId": car["objectId"], "model": "fast"}
    # a user board is not written through another member type's path
    refused(lc.call("POST", "leaderboard/entities/red/statistics",
                    [{"statisticName": board(lc), "statisticValue": 1}], master=True), 400, 107)


def test_leaderboards_are_leanclouds_only(served):  # noqa: F811
    parse = Raw(served, "parse")
    refused(parse.call("GET", "leaderboard/leaderboards/x", master=True), 404, 1)


def test_a_version_whose_period_ended_is_archived_at_the_next_request(lc, served):  # noqa: F811
    name = board(lc, versionChangeInterval="day")
    (user,) = players(lc, 1)
    submit(lc, user, **{name: 4})
    served.sql("UPDATE _leaderboards SET expires_at='2001-01-01T16:00:00.000Z' WHERE name=?", (name,))  # passed
    current = lc.ok("GET", f"leaderboard/leaderboards/{name}")
    assert current["version"] == 1 and current["expiredAt"]["iso"] > current["activatedAt"]["iso"]
    assert ranks(lc, name) == [] and [r["statisticValue"] for r in ranks(lc, name, version=0)] == [4]


@pytest.mark.parametrize("period, now, end", [
    ("day", "2019-09-19T08:25:07+00:00", "2019-09-19T16:00:00.000Z"),
    ("day", "2019-09-19T17:00:00+00:00", "2019-09-20T16:00:00.000Z"),
    ("week", "2019-09-19T08:25:07+00:00", "2019-09-22T16:00:00.000Z"),  # LeanCloud's answer, recorded
    ("week", "2019-09-22T16:00:00+00:00", "2019-09-29T16:00:00.000Z"),
    ("month", "2019-12-31T15:59:00+00:00", "2019-12-31T16:00:00.000Z"),
    ("month", "2019-12-31T16:00:00+00:00", "2020-01-31T16:00:00.000Z"),
    ("never", "2019-09-19T08:25:07+00:00", None),
])
def test_periods_end_at_midnight_in_leanclouds_zone(period, now, end):
    assert next_reset(period, datetime.fromisoformat(now)) == end


def test_the_later_sdks_typed_paths_and_parameter_names(lc):
    """The C# and Objective-C SDKs read ``leaderboards/user/<name>/ranks[/<id>]`` with ``startPosition``
    and ``maxResultsCount``."""
    name = board(lc, order="ascending")
    users = players(lc, 4)
    for index, user in enumerate(users):
        submit(lc, user, **{name: index})
    page = ranks(lc, f"user/{name}", startPosition=1, maxResultsCount=2)
    assert [(r["rank"], r["user"]["objectId"]) for r in page] == [(1, users[1]["objectId"]), (2, users[2]["objectId"])]
    around = ranks(lc, f"user/{name}", f"/{users[0]['objectId']}", maxResultsCount=3)
    assert [r["rank"] for r in around] == [0, 1, 2]
    refused(lc.call("GET", f"leaderboard/leaderboards/entity/{name}/ranks"), 400, 107)
    refused(lc.call("GET", f"leaderboard/leaderboards/{name}/elsewhere/x"), 404, 1)
