"""Issue 19, items 19 and 22: the endpoints Parse Dashboard opens its screens with. ``serverInfo`` tells
the console what the server supports (each flag true only for what ``leanorm serve`` does); the jobs,
audiences, webhooks and log screens read lists that are empty when there is nothing. All master key only."""
from __future__ import annotations

import json

import pytest
import requests

from tests.embedded.parse_targets import Target, served_target, target  # noqa: F401  (fixtures)
from tests.served import serve

LISTS = {"cloud_code/jobs": [], "cloud_code/jobs/data": {"in_use": [], "jobs": []},
         "push_audiences": {"results": []}, "hooks/functions": [], "hooks/triggers": []}


def test_server_info_answers_parse_servers_shape(target):
    info = target.rest("GET", "serverInfo", master=True)
    assert info.status_code == 200, info.text
    answer = info.json()
    assert isinstance(answer["parseServerVersion"], str) and answer["parseServerVersion"][0].isdigit()
    features = answer["features"]
    assert {"schemas", "logs", "globalConfig", "hooks", "cloudCode", "push"} <= set(features)
    for flag in ("addField", "removeField", "addClass", "removeClass", "clearAllDataFromClass",
                 "editClassLevelPermissions"):
        assert features["schemas"][flag] is True, flag
    assert features["globalConfig"]["read"] is True and features["globalConfig"]["update"] is True
    assert target.rest("GET", "serverInfo").status_code == 403


def test_server_info_answers_the_dashboards_enveloped_post(target):
    # what the dashboard sends: a text/plain POST carrying the keys and the method
    answer = target.envelope("serverInfo", {}, method="GET", master=True)
    assert answer.status_code == 200, answer.text
    assert "schemas" in answer.json()["features"]


def test_server_info_claims_only_what_leanorm_serve_does(served_target):
    features = served_target.rest("GET", "serverInfo", master=True).json()["features"]
    assert features["hooks"]["create"] is False  # webhooks are declared in an Engine, not over REST
    assert features["logs"]["level"] is False  # no server log is kept to read
    assert features["schemas"]["editPointerPermissions"] is False  # pointer permissions are not enforced


@pytest.mark.parametrize("path", sorted(LISTS))
def test_console_lists_are_empty_when_there_is_nothing(target, path):
    answer = target.rest("GET", path, master=True)
    assert answer.status_code == 200, answer.text
    assert answer.json() == LISTS[path]
    refused = target.rest("GET", path)
    assert refused.status_code == 403, refused.text


def test_scriptlog_is_a_list(target):
    answer = target.rest("GET", "scriptlog", master=True, params={"level": "info", "n": "10"})
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), list)
    assert target.rest("GET", "scriptlog").status_code == 403


def test_the_served_engines_functions_hooks_and_jobs_are_listed(tmp_path):
    with serve(tmp_path / "app.sqlite3", "--engine", "tests.embedded.console_cloud:engine") as running:
        target = Target(running.base_url + "/parse", running.app_id, running.app_key, running.master_key,
                        running.app_key)
        functions = target.rest("GET", "hooks/functions", master=True).json()
        triggers = target.rest("GET", "hooks/triggers", master=True).json()
        jobs = target.rest("GET", "cloud_code/jobs/data", master=True).json()
    assert jobs == {"in_use": [], "jobs": ["nightly"]}  # what the dashboard (and Parse.Cloud.getJobsData) lists
    names = {f["functionName"] for f in functions}
    assert "hello" in names, functions
    assert all(set(f) >= {"functionName"} for f in functions)
    assert {"className": "Listed", "triggerName": "beforeSave"} in [
        {"className": t["className"], "triggerName": t["triggerName"]} for t in triggers], json.dumps(triggers)


def test_the_leancloud_dialect_answers_server_info_too(served_target):
    base = served_target.base[:-len("/parse")] + "/1.1/serverInfo"
    answer = requests.get(base, timeout=30, headers={"X-LC-Id": served_target.app_id,
                                                      "X-LC-Key": f"{served_target.master_key},master"})
    assert answer.status_code == 200, answer.text
    assert "schemas" in answer.json()["features"]
