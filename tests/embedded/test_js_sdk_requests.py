"""Requests exactly as LeanCloud's JS SDK (``leancloud-storage`` 4.15) sends them, to the embedded
backend in the LeanCloud dialect: a long query as a batch item with ``params``, ``destroyAll`` as one
DELETE of comma-joined ids, a file DELETE whose body is the literal ``null``, a ``_Role`` without ACL."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from .conftest import MASTER, Api


@pytest.fixture
def items(api: Api) -> List[Dict[str, Any]]:
    created = []
    for n in range(6):
        status, answer = api("POST", "/1.1/classes/JsReqItem", body={"n": n})
        assert status == 201
        created.append({**answer, "n": n})
    return created


def test_a_batch_get_item_honours_its_params(api: Api, items: List[Dict[str, Any]]) -> None:
    wanted = [items[1]["objectId"], items[4]["objectId"]]
    padding = [f"missing-{k:020d}" for k in range(100)]
    status, answer = api("POST", "/1.1/batch", body={"requests": [{
        "method": "GET", "path": "/1.1/classes/JsReqItem",
        "params": {"where": {"objectId": {"$in": padding + wanted}}, "limit": 10, "order": "-n", "count": 1}}]})
    assert status == 200
    success = answer[0]["success"]
    assert [row["n"] for row in success["results"]] == [4, 1]
    assert success["count"] == 2


def test_one_delete_of_comma_joined_ids_deletes_them_all(api: Api, items: List[Dict[str, Any]]) -> None:
    doomed = ",".join(item["objectId"] for item in items[:3])
    status, answer = api("POST", "/1.1/batch", body={"requests": [
        {"method": "DELETE", "path": f"/1.1/classes/JsReqItem/{doomed}"}]})
    assert (status, answer) == (200, [{"success": {}}])
    _, left = api("GET", "/1.1/classes/JsReqItem", {"order": "n"}, headers=MASTER)
    assert [row["n"] for row in left["results"]] == [3, 4, 5]
