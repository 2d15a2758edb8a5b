"""CQL: LeanCloud's cloudQuery, answered by the embedded backend through its one query path."""
from __future__ import annotations

import pytest

from leanorm.errors import LeanCloudError, NotSupported
from leanorm.embedded.endpoints.cql import parse
from leanorm.embedded.answers import ProtocolError
from tests.models import Author, Post


@pytest.fixture
def posts(client):
    if not client.supports("cql"):
        with pytest.raises(NotSupported):
            Post.objects.cql("select * from Post")
        pytest.skip(f"no CQL on {client.backend}")
    author = Author.objects.create(name="Ann")
    for i, title in enumerate(["alpha", "beta", "gamma", "delta", "alphabet"]):
        Post.objects.create(title=title, score=i, **({"author": author} if i < 2 else {}))
    return author


def titles(objs) -> list:
    return [p.title for p in objs]


def test_select_where_order_limit(posts, sent):
    found = Post.objects.cql("select * from Post where score > ? order by score desc limit 2", 1)
    assert titles(found) == ["alphabet", "delta"] and found.total is None
    assert sent[-1].path.endswith("/cloudQuery")


def test_count(posts):
    assert Post.objects.cql("select count(*) from Post where score >= 2").total == 3
    both = Post.objects.cql("select count(*), * from Post where score < 2 order by score")
    assert (both.total, titles(both)) == (2, ["alpha", "beta"])


def test_select_star_with_count_of_object_id(posts):
    """What LeanCloud's JS SDK users write: ``count(objectId)`` counts like ``count(*)``."""
    both = Post.objects.cql("select *, count(objectId) from Post where score >= 3 order by score")
    assert (both.total, titles(both)) == (2, ["delta", "alphabet"])


def test_conditions(posts):
    cql = Post.objects.cql
    assert titles(cql("select * from Post where title like 'alpha%' order by title")) == ["alpha", "alphabet"]
    assert titles(cql("select * from Post where title in ('beta', ?) order by title", "gamma")) == ["beta", "gamma"]
    assert titles(cql("select * from Post where score not in (0, 1, 2) order by score")) == ["delta", "alphabet"]
    assert titles(cql("select * from Post where (score = 0 or score = 4) and title != 'alpha'")) == ["alphabet"]
    assert titles(cql("select * from Post where author is exists order by score")) == ["alpha", "beta"]
    assert len(cql("select * from Post where author is not exists")) == 3
    assert titles(cql("select * from Post where score >= 1 and score <= 2 order by score asc limit 1, 5")) == ["gamma"]


def test_negations(posts):
    """``not like``, ``not in`` and ``not (...)``: the same where JSON ($nor, $nin) as every query; an object
    without the key matches a negated condition."""
    cql = Post.objects.cql
    assert titles(cql("select * from Post where title not like 'alpha%' order by score")) == \
        ["beta", "gamma", "delta"]
    assert titles(cql("select * from Post where title not like ? and score < 3 order by score", "%a")) == []
    assert titles(cql("select * from Post where not (score < 2 or title = 'delta') order by score")) == \
        ["gamma", "alphabet"]
    assert titles(cql("select * from Post where not score > 0 or not (title like '%ta') order by score")) == \
        ["alpha", "gamma", "alphabet"]
    assert titles(cql("select * from Post where not author is exists and not not score >= 3 order by score")) \
        == ["delta", "alphabet"]
    assert titles(cql("select * from Post where not (author = ?) order by score", posts)) == \
        ["gamma", "delta", "alphabet"]  # posts without an author match
    assert cql("select count(*) from Post where not (score in (0, 4)) and title not in ('beta')").total == 2


def test_keys_and_include(posts):
    found = Post.objects.cql("select include author, title from Post where score = 0")
    assert found[0].author.name == "Ann"
    assert found[0].to_dict()["title"] == "alpha"


def test_pointer_and_placeholder_values(posts):
    found = Post.objects.cql("select * from Post where author = ? order by score", posts)
    assert titles(found) == ["alpha", "beta"]
    found = Post.objects.cql(f"select * from Post where author = pointer('Author', '{posts.id}') limit 1")
    assert titles(found) == ["alpha"]


def test_syntax_errors_are_errors(posts):
    with pytest.raises(LeanCloudError):
        Post.objects.cql("select * form Post")


def test_parse_into_where():
    q = parse("select count(*), include a, x from C where n > 1 and (s like 'a_c' or t in (?, 2)) "
              "order by n desc, s limit 3, 4", ["p"])
    assert q["where"] == {"$and": [{"n": {"$gt": 1}}, {"$or": [{"s": {"$regex": "^a.c$"}},
                                                                  {"t": {"$in": ["p", 2]}}]}]}
    assert (q["class_name"], q["order"], q["skip"], q["limit"], q["keys"], q["include"], q["count"]) == \
        ("C", "-n,s", 3, 4, ["x"], ["a"], True)


def test_parse_negations_into_where():
    where = parse("select * from C where not (a = 1 or b > ?) and s not like 'x%' and t not in (1) "
                  "and not = 2", [2])["where"]
    assert where == {"$and": [{"$nor": [{"$or": [{"a": 1}, {"b": {"$gt": 2}}]}]},
                              {"$nor": [{"s": {"$regex": "^x.*$"}}]}, {"t": {"$nin": [1]}}, {"not": 2}]}
    with pytest.raises(ProtocolError):
        parse("select * from C where a not = 1")
