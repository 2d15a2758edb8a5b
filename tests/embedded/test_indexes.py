"""``create_index`` indexes exactly the expression the query compiler emits, so SQLite's planner uses it
for equality, ranges, ``$in``, ordering and counts; dropping the compiler's type guards for fields whose
schema type is known keeps every answer the same."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from leanorm.embedded import EmbeddedServer
from leanorm.embedded.caller import Caller
from leanorm.embedded.storage.query_compiler import QueryCompiler

from .conftest import Api

POSTS = "/1.1/classes/Post"


@pytest.fixture
def indexed(api: Api, server: EmbeddedServer) -> None:
    for i in range(30):
        assert api("POST", POSTS, body={"score": i % 10, "title": f"t{i}", "when": {
            "__type": "Date", "iso": f"2024-01-{i % 28 + 1:02d}T00:00:00Z"}})[0] == 201
    for field in ("score", "title", "when"):
        server.create_index("Post", field)


def plan(server: EmbeddedServer, where: Dict[str, Any], order: str = "", count: bool = False) -> List[str]:
    """SQLite's plan for the query the compiler makes of ``where`` (as an anonymous caller: ACL checked)."""
    with server.store.read() as conn:
        compiler = QueryCompiler(server.store, conn, Caller(), "leancloud")
        cond = compiler.readable("Post", "t0", where)
        terms = compiler.order("Post", "t0", order)
        what = "COUNT(*)" if count else "t0.objectId"
        sql = f'SELECT {what} FROM "c_Post" AS t0 WHERE {cond}' + (f" ORDER BY {', '.join(terms)}" if terms else "")
        return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, compiler.params)]


@pytest.mark.parametrize("where, index", [
    ({"score": 3}, "c_Post__score"),
    ({"score": {"$gte": 2, "$lt": 4}}, "c_Post__score"),
    ({"score": {"$in": [1, 2]}}, "c_Post__score"),
    ({"title": "t5"}, "c_Post__title"),
    ({"title": {"$in": ["t1", "t2"]}}, "c_Post__title"),
    ({"when": {"$gt": {"__type": "Date", "iso": "2024-01-20T00:00:00Z"}}}, "c_Post__when"),
])
def test_queries_search_the_index(server: EmbeddedServer, indexed: None, where: Dict[str, Any], index: str) -> None:
    for count in (False, True):
        steps = plan(server, where, count=count)
        assert any(step.startswith("SEARCH t0 USING") and index in step for step in steps), steps


def test_ordering_by_an_indexed_field_needs_no_sort(server: EmbeddedServer, indexed: None) -> None:
    steps = plan(server, {"score": {"$gte": 2}}, order="score")
    assert any("c_Post__score" in step for step in steps) and not any("TEMP B-TREE" in s for s in steps), steps


def test_answers_keep_the_protocol_types(api: Api, indexed: None) -> None:
    """Without the type guards a Number field still never equals a string, and a String field never a
    number; the guards stay for fields the schema does not know."""
    def count(where: str) -> int:
        return api("GET", POSTS, params={"where": where, "count": "1", "limit": "0"})[1]["count"]

    assert count('{"score": 3}') == 3
    assert count('{"score": "3"}') == 0
    assert count('{"score": {"$gt": "1"}}') == 0
    assert count('{"title": "t3"}') == 1
    assert count('{"title": {"$in": ["t3", 3]}}') == 1
    assert count('{"title": {"$gte": "t8"}}') == 2  # text order: t8, t9
    assert count('{"nothing": 3}') == 0
