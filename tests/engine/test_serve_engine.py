"""``leanorm serve --engine module:engine``: clients over HTTP, in both dialects, meet the Engine's
hooks and functions."""
import requests

from tests.served import APP_ID, APP_KEY, ROOT, serve


def test_served_backend_runs_the_engine(tmp_path):
    with serve(tmp_path / "app.sqlite3", "--engine", "tests.engine.test_embedded:engine") as served:
        lc = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
        created = requests.post(f"{served.base_url}/1.1/classes/EngineNote", json={"title": "  quiet "},
                                headers=lc).json()
        assert created["title"] == "QUIET"  # what the before_save hook changed comes back
        stored = requests.get(f"{served.base_url}/1.1/classes/EngineNote/{created['objectId']}", headers=lc).json()
        assert stored["title"] == "QUIET"
        refused = requests.post(f"{served.base_url}/1.1/classes/EngineNote", json={"title": "forbidden"},
                                headers=lc)
        assert (refused.status_code, refused.json()) == (400, {"code": 3001, "error": "no forbidden notes"})
        parse = {"X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": APP_KEY}
        answer = requests.post(f"{served.base_url}/parse/functions/greet", json={"name": "Parse"}, headers=parse)
        assert answer.json() == {"result": "hello Parse from nobody"}


def test_a_function_returning_nothing_answers_as_each_dialect_does(tmp_path):
    """Parse answers no ``result`` (its SDKs read undefined, which Parse-SDK-JS's tests compare); the
    LeanCloud dialect answers ``result: null``, as the official SDKs expect a result key."""
    with serve(tmp_path / "app.sqlite3", "--engine", "tests.engine.served_app:engine") as served:
        parse = {"X-Parse-Application-Id": APP_ID, "X-Parse-REST-API-Key": APP_KEY}
        assert requests.post(f"{served.base_url}/parse/functions/nothing", json={}, headers=parse).json() == {}
        lc = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
        assert requests.post(f"{served.base_url}/1.1/functions/nothing", json={}, headers=lc).json() == {"result": None}


def test_hooks_served_by_leanorm_serve_write_to_the_served_database_as_the_caller(tmp_path):
    """An after_save hook that queries and saves through the ORM reaches the database being served
    (not ./leanorm.sqlite3 of the working directory), with the caller's session."""
    stray = ROOT / "leanorm.sqlite3"
    existed = stray.exists()
    with serve(tmp_path / "app.sqlite3", "--engine", "tests.engine.served_app:engine") as served:
        lc = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
        user = requests.post(f"{served.base_url}/1.1/users", json={"username": "ann", "password": "pw"},
                             headers=lc).json()
        as_ann = {**lc, "X-LC-Session": user["sessionToken"]}
        for title in ("one", "two"):
            saved = requests.post(f"{served.base_url}/1.1/classes/ServedPost", json={"title": title}, headers=as_ann)
            assert saved.status_code == 201, saved.text
        audits = requests.get(f"{served.base_url}/1.1/classes/ServedAudit", params={"order": "posts"},
                              headers=lc).json()["results"]
        assert [(a["note"], a["posts"]) for a in audits] == [("saved one", 1), ("saved two", 2)]
        assert {a["by"]["objectId"] for a in audits} == {user["objectId"]}
        called = requests.post(f"{served.base_url}/1.1/functions/audits", json={}, headers=lc).json()
        assert called == {"result": ["saved one", "saved two"]}
    assert stray.exists() == existed


def test_a_hook_saving_its_own_object_under_serve_runs_once(tmp_path):
    """Issue 19 §2: the served Engine signs the after-hook marker with the server's master key (the Engine
    module sets none), so an after_update that saves its own object does not trigger itself again."""
    with serve(tmp_path / "app.sqlite3", "--engine", "tests.engine.served_app:engine") as served:
        lc = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
        url = f"{served.base_url}/1.1/classes/ServedCounter"
        created = requests.post(url, json={"hits": 0}, headers=lc).json()
        updated = requests.put(f"{url}/{created['objectId']}", json={"hits": 1}, headers=lc)
        assert updated.status_code == 200, updated.text
        stored = requests.get(f"{url}/{created['objectId']}", headers=lc).json()
        assert (stored["hits"], stored["stamped"]) == (1, 1)
        assert "__after" not in stored


def test_served_cloud_code_skips_hooks_with_the_servers_hook_key(tmp_path):
    """As on LeanEngine, cloud code sends the hook key: ``ignore_hook`` works without the master key
    under ``leanorm serve --hook-key K --engine ...``; clients without it are still refused."""
    with serve(tmp_path / "app.sqlite3", "--hook-key", "served-hook", "--engine",
               "tests.engine.served_app:engine") as served:
        lc = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY}
        answer = requests.post(f"{served.base_url}/1.1/functions/quiet", json={"note": "n"}, headers=lc)
        assert answer.json() == {"result": "kept"}, answer.text
        direct = requests.post(f"{served.base_url}/1.1/classes/ServedQuiet",
                               json={"note": "x", "__ignore_hooks": ["beforeSave"]}, headers=lc)
        assert (direct.status_code, direct.json()["code"]) == (403, 119)
        rows = requests.get(f"{served.base_url}/1.1/classes/ServedQuiet", headers=lc).json()["results"]
        assert [r["note"] for r in rows] == ["n"]
