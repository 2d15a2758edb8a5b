"""Requests exactly as LeanCloud's JS SDK (``leancloud-storage`` 4.15) sends them, to the embedded
backend in the LeanCloud dialect: a long query as a batch item with ``params``, ``destroyAll`` as one
DELETE of comma-joined ids, a file DELETE whose body is the literal ``null``, a ``_Role`` without ACL."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest
import requests

from tests.served import served  # noqa: F401  (the fixture)

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


def test_a_file_delete_with_the_body_null_deletes_it(api: Api) -> None:
    status, created = api("POST", "/1.1/files/bye.txt", body={"base64": "Ynll"})
    assert status == 201
    # an anonymous upload may be deleted with the master key only (docs/files.md)
    status, answer = api("DELETE", f"/1.1/files/{created['objectId']}", body=b"null", headers=MASTER)
    assert (status, answer) == (200, {})
    assert api("GET", f"/1.1/files/{created['objectId']}")[0] == 404


def test_file_tokens_let_a_form_of_unknown_length_stream_in(served) -> None:
    """The provider fileTokens names takes an upload whose size nobody knows beforehand (the JS SDK
    refuses to stream to ``s3`` without one): a multipart form sent chunked, as the SDK sends it."""
    headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
    tokens = requests.post(f"{served.base_url}/1.1/fileTokens", json={"name": "stream.bin"}, headers=headers,
                           timeout=30).json()
    assert tokens["provider"] == "qcloud"
    data = bytes(range(256)) * 5000
    boundary = "leanorm-test-boundary"

    def form() -> Iterator[bytes]:  # a generator: requests sends it chunked, with no Content-Length
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="op"\r\n\r\nupload\r\n'
               f'--{boundary}\r\nContent-Disposition: form-data; name="fileContent"; filename="stream.bin"\r\n'
               f"Content-Type: application/octet-stream\r\n\r\n").encode()
        for start in range(0, len(data), 100_000):
            yield data[start:start + 100_000]
        yield f"\r\n--{boundary}--\r\n".encode()

    sent = requests.post(f"{tokens['upload_url']}?sign={tokens['token']}", data=form(), timeout=30,
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert sent.status_code == 200, sent.text
    assert requests.post(f"{served.base_url}/1.1/fileCallback", json={"token": tokens["token"], "result": True},
                         headers=headers, timeout=30).ok
    assert requests.get(tokens["url"], timeout=30).content == data
    stored = requests.get(f"{served.base_url}/1.1/files/{tokens['objectId']}", headers=headers, timeout=30).json()
    assert stored["metaData"]["size"] == len(data)


def test_a_role_without_an_acl_is_refused_as_leancloud_refuses_it(api: Api) -> None:
    status, answer = api("POST", "/1.1/roles", body={"name": "no-acl"})
    assert (status, answer["code"]) == (400, 1)
    assert api("GET", "/1.1/classes/_Role", headers=MASTER)[1]["results"] == []
    status, _ = api("POST", "/1.1/roles", body={"name": "with-acl", "ACL": {"*": {"read": True}}})
    assert status == 201
