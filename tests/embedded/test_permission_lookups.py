"""A request reads a class's permissions once however many checks it makes (the permission to find, to
count, the protected fields), and a request that sets them answers what it set."""
from __future__ import annotations

from typing import Iterator, List

import pytest

from leanorm.embedded import EmbeddedServer

from .conftest import MASTER, Api


@pytest.fixture
def memory_api() -> Iterator[Api]:
    server = EmbeddedServer(":memory:")  # one shared connection: every statement of a request is seen
    yield Api(server)
    server.close()


def _lookups(api: Api) -> List[str]:
    statements: List[str] = []
    with api.server.store.read() as conn:
        conn.set_trace_callback(statements.append)
    return statements


def test_a_listing_with_its_count_reads_the_permissions_once(memory_api: Api) -> None:
    rules = {"find": {"*": True}, "count": {"*": True}, "create": {"*": True}, "addField": {"*": True},
             "protectedFields": {"*": ["secret"]}}
    assert memory_api("PUT", "/1.1/schemas/Post", body={"classLevelPermissions": rules}, headers=MASTER)[0] == 200
    assert memory_api("POST", "/1.1/classes/Post", body={"title": "a", "secret": "s"})[0] == 201
    statements = _lookups(memory_api)
    status, answer = memory_api("GET", "/1.1/classes/Post", {"count": "1"})
    assert status == 200 and answer["count"] == 1 and answer["results"][0]["title"] == "a"
    assert "secret" not in answer["results"][0]
    assert sum("_class_permissions" in s for s in statements) == 1


def test_setting_the_permissions_answers_the_new_ones(memory_api: Api) -> None:
    for rules in ({"find": {"*": True}}, {"find": {"role:Admin": True}}):
        status, answer = memory_api("PUT", "/1.1/schemas/Post", body={"classLevelPermissions": rules},
                                    headers=MASTER)
        # the answer is the setting in Parse's full shape (operations left out answered as enforced)
        assert status == 200 and {k: answer["classLevelPermissions"][k] for k in rules} == rules
