"""``leanorm serve --engine module:engine``: clients over HTTP, in both dialects, meet the Engine's
hooks and functions."""
import requests

from tests.served import APP_ID, APP_KEY, serve


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
