"""Issue 19, items 8, 10 and 11: answers of ``leanorm serve`` in LeanCloud's dialect that its SDKs' own
suites and documentation expect (their recordings of LeanCloud's answers), with Parse's kept as Parse
Server gives them."""
import json
from typing import Any, Dict

import pytest
import requests

from tests.security.raw_http import Raw, refused, unique
from tests.served import APP_ID, APP_KEY, Served, serve, served  # noqa: F401 (fixture)

HOOK_KEY = "served-hook-key"


# -- item 8: LeanCloud's documented REST upload -------------------------------------------------------------
def test_a_file_posted_as_its_own_bytes_is_stored_as_leancloud_answers(served):  # noqa: F811
    lc = Raw(served, "leancloud")
    data = b"Hello, World!"
    status, answer = lc.call("POST", "files/hello.txt", data=data, headers={"Content-Type": "text/plain"})
    assert status == 201, answer
    assert set(answer) == {"size", "bucket", "url", "name", "createdAt", "objectId"}
    assert (answer["size"], answer["name"]) == (13, "hello.txt")
    assert requests.get(answer["url"], timeout=30).content == data
    stored = lc.ok("GET", f"files/{answer['objectId']}")
    assert stored["mime_type"].startswith("text/plain") and stored["metaData"]["size"] == 13


def test_the_sdks_json_upload_still_takes_base64(served):  # noqa: F811
    lc = Raw(served, "leancloud")
    answer = lc.ok("POST", "files/b.txt", {"base64": "aGk=", "metaData": {}})
    assert requests.get(answer["url"], timeout=30).content == b"hi"


# -- item 10: the hook key may skip hooks ------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_hooks(tmp_path_factory: pytest.TempPathFactory):
    with serve(tmp_path_factory.mktemp("hooks") / "app.sqlite3", "--engine", "tests.engine.test_embedded:engine",
               "--hook-key", HOOK_KEY) as running:
        yield running


def _note(served: Served, extra_headers: Dict[str, str]) -> Any:  # noqa: F811
    headers = {"X-LC-Id": APP_ID, "X-LC-Key": APP_KEY, **extra_headers}
    return requests.post(f"{served.base_url}/1.1/classes/EngineNote",
                         json={"title": " quiet ", "__ignore_hooks": ["beforeSave"]}, headers=headers, timeout=30)


def test_ignore_hooks_with_the_hook_key_skips_the_hook(with_hooks):
    created = _note(with_hooks, {"X-LC-Hook-Key": HOOK_KEY})
    assert created.status_code == 201, created.text
    lc = Raw(with_hooks, "leancloud")
    assert lc.ok("GET", f"classes/EngineNote/{created.json()['objectId']}")["title"] == " quiet "  # not upper-cased


@pytest.mark.parametrize("headers", [{}, {"X-LC-Hook-Key": "guessed"}])
def test_ignore_hooks_without_the_hook_key_is_refused(with_hooks, headers):
    refused_ = _note(with_hooks, headers)
    assert (refused_.status_code, refused_.json()["code"]) == (403, 119)


# -- item 11: a batch GET of what is not there -------------------------------------------------------------
def test_a_batch_get_of_a_missing_object_answers_each_dialects_shape(served):  # noqa: F811
    lc, parse = Raw(served, "leancloud"), Raw(served, "parse")
    name = unique("Score")
    created = lc.ok("POST", f"classes/{name}", {"score": 1})
    for api in (lc, parse):
        prefix = "/1.1/" if api.dialect == "leancloud" else "/parse/"
        answers = api.ok("POST", "batch", {"requests": [
            {"method": "GET", "path": f"{prefix}classes/{name}/{created['objectId']}"},
            {"method": "GET", "path": f"{prefix}classes/{name}/fakeId"},
            {"method": "GET", "path": f"{prefix}classes/{unique('NoClass')}/{created['objectId']}"}]})
        assert answers[0]["success"]["score"] == 1
        if api.dialect == "leancloud":  # LeanCloud's recorded answer to the JS SDK's fetchAll
            assert answers[1] == {"success": None}
            assert answers[2]["error"]["code"] == 101
        else:  # Parse Server: each missing object is error 101
            assert answers[1]["error"]["code"] == 101 and answers[2]["error"]["code"] == 101
    # outside a batch, LeanCloud answers a missing object as an empty one (the SDKs' is_existed())
    assert lc.ok("GET", f"classes/{name}/fakeId") == {}
    refused(parse.call("GET", f"classes/{name}/fakeId"), 404, 101)


# -- item 12: a column default value in the answer the SDK's fetchWhenSave reads ------------------------------
def test_a_create_with_fetch_when_save_answers_the_column_default(served):  # noqa: F811
    """A console's column default (here set through the schema API) is in the answer to a create sent as
    the JS SDK's ``save(null, {fetchWhenSave: true})`` sends it (``?new=true``), and to the other forms."""
    lc = Raw(served, "leancloud")
    name = unique("Person")
    lc.ok("PUT", f"schemas/{name}", {"fields": {"company": {"type": "String", "defaultValue": "leancloud"}}},
          master=True)
    for params in ({"new": "true"}, {"fetchWhenSave": "true"}, {}):
        made = lc.ok("POST", f"classes/{name}", {"pname": "dennis"}, params=params)
        assert made["company"] == "leancloud", (params, made)
        assert lc.ok("GET", f"classes/{name}/{made['objectId']}")["company"] == "leancloud"
    given = lc.ok("POST", f"classes/{name}", {"pname": "ann", "company": "other"}, params={"new": "true"})
    assert given["company"] == "other" and given["pname"] == "ann"


def test_a_push_whose_where_has_operators_is_recorded(served):  # noqa: F811
    """A push targeting ``{"deviceType": {"$in": [...]}}`` is recorded (it was refused: a stored object has
    no ``$`` keys), its ``_Notification.where`` the query's JSON text."""
    lc = Raw(served, "leancloud")
    lc.ok("POST", "installations", {"deviceType": "ios", "installationId": unique("device")})
    where = {"deviceType": {"$in": ["ios", "android"]}}
    made = lc.ok("POST", "push", {"data": {"alert": "hi"}, "where": where}, master=True)
    record = lc.ok("GET", f"classes/_Notification/{made['objectId']}", master=True)
    assert json.loads(record["where"]) == where and record["devices"] >= 1


def test_a_class_takes_a_second_geopoint_field_in_the_leancloud_dialect(served):  # noqa: F811
    """LeanCloud's recorded answers show its JS SDK test app saving ``geo`` to a ``Post`` that has a
    ``location``: its dialect takes two GeoPoint fields (the Parse dialect refuses two in one write)."""
    lc = Raw(served, "leancloud")
    name = unique("Post")
    point = {"__type": "GeoPoint", "latitude": 80.01, "longitude": -30.01}
    lc.ok("POST", f"classes/{name}", {"location": point})
    made = lc.ok("POST", f"classes/{name}", {"title": "post1", "geo": point})
    assert lc.ok("GET", f"classes/{name}/{made['objectId']}")["geo"] == point
