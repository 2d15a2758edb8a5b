"""Issue 9, item 5: one authorisation path for every read. A class whose permissions close find, get
and count to everyone but the master key must stay closed through every other way of reading it:
CQL, ``include``, ``$inQuery``/``$notInQuery``, ``$select``/``$dontSelect``, ``$relatedTo``, batch items."""
import pytest

from tests.security.authz_client import Api, api, refused, server, unique  # noqa: F401 (fixtures)

CLOSED = {"get": {}, "find": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}


@pytest.fixture
def locked(api: Api):
    """A master-only class ``Locked*`` with one row, and a public class pointing at it."""
    name, public = unique("Locked"), unique("Pub")
    row = api.master("POST", f"classes/{name}", {"secret": "s3"})
    api.master("PUT", f"schemas/{name}", {"classLevelPermissions": CLOSED})
    pointer = {"__type": "Pointer", "className": name, "objectId": row["objectId"]}
    pub = api.master("POST", f"classes/{public}", {"ptr": pointer, "key": "s3", "ptrs": [pointer],
                                                   "rel": {"__op": "AddRelation", "objects": [pointer]}})
    return name, public, row["objectId"], pub["objectId"]


def test_direct_reads_are_refused(api, locked):
    name, _, object_id, _ = locked
    for path, params in ((f"classes/{name}", {}), (f"classes/{name}/{object_id}", {}),
                         (f"classes/{name}", {"count": 1, "limit": 0})):
        status, answer = api.call("GET", path, params=params)
        assert refused(status, answer, 119), (path, answer)


def test_cql_is_refused(api, locked):
    if api.dialect != "leancloud":
        pytest.skip("CQL is LeanCloud's")
    name = locked[0]
    for cql in (f"select * from {name}", f"select count(*) from {name}", f"select secret from {name} where secret = 's3'"):
        status, answer = api.call("GET", "cloudQuery", params={"cql": cql})
        assert refused(status, answer, 119), (cql, answer)


def test_subqueries_are_refused(api, locked):
    name, public, _, _ = locked
    inner = {"className": name, "where": {"secret": "s3"}}
    for where in ({"ptr": {"$inQuery": inner}}, {"ptr": {"$notInQuery": inner}},
                  {"key": {"$select": {"query": inner, "key": "secret"}}},
                  {"key": {"$dontSelect": {"query": inner, "key": "secret"}}},
                  {"rel": {"$inQuery": inner}}):
        status, answer = api.call("GET", f"classes/{public}", params={"where": where})
        assert refused(status, answer, 119), (where, answer)


def test_related_to_a_locked_owner_is_refused(api):
    owner_class, member_class = unique("Owner"), unique("Member")
    member = api.master("POST", f"classes/{member_class}", {"n": 1})
    owner = api.master("POST", f"classes/{owner_class}", {"rel": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": member_class, "objectId": member["objectId"]}]}})
    api.master("PUT", f"schemas/{owner_class}", {"classLevelPermissions": CLOSED})
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": owner_class, "objectId": owner["objectId"]},
                            "key": "rel"}}
    status, answer = api.call("GET", f"classes/{member_class}", params={"where": where})
    assert refused(status, answer, 119)


def test_related_to_an_unreadable_owner_selects_nothing(api):
    owner_class, member_class = unique("Owner"), unique("Member")
    member = api.master("POST", f"classes/{member_class}", {"n": 1})
    owner = api.master("POST", f"classes/{owner_class}", {"ACL": {}, "rel": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": member_class, "objectId": member["objectId"]}]}})
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": owner_class, "objectId": owner["objectId"]},
                            "key": "rel"}}
    assert api.results(f"classes/{member_class}", where=where) == []
    assert len(api.master("GET", f"classes/{member_class}", params={"where": where})["results"]) == 1


def test_include_leaves_locked_pointers_unexpanded(api, locked):
    name, public, object_id, _ = locked
    rows = api.results(f"classes/{public}", include="ptr,ptrs")
    assert rows[0]["ptr"] == {"__type": "Pointer", "className": name, "objectId": object_id}
    assert rows[0]["ptrs"] == [{"__type": "Pointer", "className": name, "objectId": object_id}]
    assert "secret" not in str(rows)


def test_batch_items_are_refused(api, locked):
    name, _, object_id, _ = locked
    prefix = "/1.1" if api.dialect == "leancloud" else "/parse"
    answer = api.ok("POST", "batch", {"requests": [
        {"method": "GET", "path": f"{prefix}/classes/{name}"},
        {"method": "GET", "path": f"{prefix}/classes/{name}/{object_id}"}]})
    assert [item.get("error", {}).get("code") for item in answer] == [119, 119]
    assert "s3" not in str(answer)
