"""The embedded aggregate endpoint groups and takes distinct values in SQL, never by loading the objects,
and answers what the row-by-row path answers."""
from __future__ import annotations

import pytest

import leanorm
from leanorm.embedded.endpoints import aggregate as aggregate_module


@pytest.fixture
def client():
    client = leanorm.connect("local://:memory:", default=False)
    author = {"__type": "Pointer", "className": "Writer", "objectId": "w1"}
    rows = [{"cat": "a", "n": 1, "x": 0.5, "on": True, "by": author, "meta": {"k": "v"}},
            {"cat": "a", "n": 4, "on": False}, {"cat": "b", "n": 2, "x": 2.5, "on": True, "by": author},
            {"cat": "c"}, {"n": 7, "on": False}]
    with leanorm.using_master():
        client.batch([("POST", "classes/Agg", row) for row in rows])
    yield client
    client.close()


PIPELINES = [
    [{"$group": {"_id": None, "total": {"$sum": "$n"}, "count": {"$sum": 1}, "mean": {"$avg": "$x"},
                 "low": {"$min": "$n"}, "high": {"$max": "$n"}}}],
    [{"$group": {"_id": "$cat", "total": {"$sum": "$n"}, "count": {"$sum": 1}}}, {"$sort": {"objectId": 1}}],
    [{"$group": {"_id": "$by", "count": {"$sum": 2}, "high": {"$max": "$x"}}}, {"$sort": {"count": -1}}],
    [{"$group": {"_id": {"cat": "$cat", "on": "$on"}, "count": {"$sum": 1}}}],
    [{"$match": {"n": {"$gte": 2}}}, {"$group": {"_id": "$on", "total": {"$sum": "$n"}}},
     {"$match": {"total": {"$gt": 5}}}],
    [{"$match": {"n": {"$gt": 100}}}, {"$group": {"_id": None, "count": {"$sum": 1}}}],
]


def _run(client, pipeline):
    with leanorm.using_master():
        rows = client.request("GET", "aggregate/Agg", {"pipeline": pipeline})["results"]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_sql_groups_answer_as_the_rows_would_without_loading_them(client, pipeline, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the aggregate loaded the objects")

    monkeypatch.setattr(aggregate_module, "query", no_loading)
    in_sql = _run(client, pipeline)
    monkeypatch.undo()
    # the same pipeline on the loaded rows (the path for what SQL does not answer)
    monkeypatch.setattr(aggregate_module, "_group_in_sql", lambda *args: None)
    monkeypatch.setattr(aggregate_module, "_counts_by_key", lambda *args: None)
    assert in_sql == _run(client, pipeline)


def test_group_of_everything_over_no_object_is_no_group(client):
    assert _run(client, PIPELINES[-1]) == []


def test_distinct_in_sql(client, monkeypatch):
    monkeypatch.setattr(aggregate_module, "query", lambda *a, **k: pytest.fail("loaded the objects"))
    with leanorm.using_master():
        cats = client.request("GET", "aggregate/Agg", {"distinct": "cat", "where": {"n": {"$lt": 5}}})["results"]
        by = client.request("GET", "aggregate/Agg", {"distinct": "by"})["results"]
        flags = client.request("GET", "aggregate/Agg", {"distinct": "on"})["results"]
        ids = client.request("GET", "aggregate/Agg", {"distinct": "objectId", "where": {"cat": "a"}})["results"]
        stored = client.request("GET", "classes/Agg", {"where": {"cat": "a"}})["results"]
    assert sorted(cats) == ["a", "b"]
    assert by == [{"__type": "Pointer", "className": "Writer", "objectId": "w1"}]
    assert sorted(flags) == [False, True]
    assert sorted(ids) == sorted(row["objectId"] for row in stored) and len(ids) == 2


def test_a_group_by_an_unsupported_key_still_runs_on_the_rows(client):
    answer = _run(client, [{"$group": {"_id": "$meta.k", "count": {"$sum": 1}}}])  # a key inside an object
    assert answer == [{"objectId": "v", "count": 1}, {"objectId": None, "count": 4}]
