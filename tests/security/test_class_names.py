"""Issue 9, item 4: class names are exact. SQLite folds case in table names, so ``vaultx`` and ``Vaultx``
(or ``_user`` and ``_User``) would share one table while permissions were checked for another class."""
from tests.security.authz_client import api, refused, server, unique  # noqa: F401 (fixtures)

LOCKED = {op: {} for op in ("get", "find", "count", "create", "update", "delete", "addField")}


def test_a_case_twin_of_a_locked_class_is_refused(api):
    name = unique("Vault")
    api.master("POST", f"classes/{name}", {"secret": "s3"})
    api.master("PUT", f"schemas/{name}", {"classLevelPermissions": LOCKED})
    twin = name.lower()
    status, answer = api.call("POST", f"classes/{twin}", {})
    assert refused(status, answer, 103) and "case" in answer["error"]
    status, answer = api.call("GET", f"classes/{twin}")
    assert not (status == 200 and answer["results"]), answer  # never the locked rows
    status, answer = api.call("PUT", f"schemas/{twin}", {}, master=True)
    assert refused(status, answer, 103)  # not even the master key makes a twin
    assert [r["secret"] for r in api.master("GET", f"classes/{name}")["results"]] == ["s3"]
    assert twin not in api.master("GET", "schemas").get(twin, {}) if api.dialect == "leancloud" else True


def test_system_classes_have_one_spelling(api):
    victim = api.signup(authData={"anonymous": {"id": unique("anon-id-long-enough")}})
    for twin in ("_user", "_USER", "_role", "_installation"):
        status, answer = api.call("POST", f"classes/{twin}", {})
        assert refused(status, answer, 103), (twin, status, answer)
        status, answer = api.call("GET", f"classes/{twin}")
        assert refused(status, answer, 103), (twin, status, answer)
    rows = api.results("classes/_User", where={"objectId": victim["objectId"]})
    assert rows and "authData" not in rows[0]
