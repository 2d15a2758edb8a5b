"""The compiler's wire output for every lookup, per dialect (no I/O)."""
import json

import pytest

import leanorm
from leanorm import GeoPoint, Q
from leanorm.protocol.dialects import LeanCloudDialect, ParseDialect
from leanorm.errors import FieldError, NotSupported
from leanorm.transport import Transport
from tests.models import Author, Post

LC = leanorm.Client(Transport(), LeanCloudDialect(), "app", "key")
PARSE = leanorm.Client(Transport(), ParseDialect(), "app", "key", backend="parse")


def where(qs, client=LC):
    return qs.using(client).where()


@pytest.mark.parametrize("lookups, expected", [
    ({"score": 3}, {"score": 3}),
    ({"score__ne": 3}, {"score": {"$ne": 3}}),
    ({"score__gt": 3}, {"score": {"$gt": 3}}),
    ({"score__gte": 3, "score__lt": 9}, {"score": {"$gte": 3, "$lt": 9}}),
    ({"score__lte": 3}, {"score": {"$lte": 3}}),
    ({"score__in": [1, 2]}, {"score": {"$in": [1, 2]}}),
    ({"score__nin": (1, 2)}, {"score": {"$nin": [1, 2]}}),
    ({"rating__exists": True}, {"rating": {"$exists": True}}),
    ({"rating__isnull": True}, {"rating": None}),
    ({"rating__isnull": False}, {"rating": {"$ne": None}}),
    ({"title__contains": "a.b"}, {"title": {"$regex": "a\\.b"}}),
    ({"title__icontains": "x"}, {"title": {"$regex": "x", "$options": "i"}}),
    ({"title__startswith": "(x"}, {"title": {"$regex": "^\\(x"}}),
    ({"title__istartswith": "x"}, {"title": {"$regex": "^x", "$options": "i"}}),
    ({"title__endswith": "$"}, {"title": {"$regex": "\\$$"}}),
    ({"title__iendswith": "x"}, {"title": {"$regex": "x$", "$options": "i"}}),
    ({"title__regex": "^a.c"}, {"title": {"$regex": "^a.c"}}),
    ({"title__iregex": "^a"}, {"title": {"$regex": "^a", "$options": "i"}}),
    ({"tags": "x"}, {"tags": "x"}),
    ({"tags": ["x", "y"]}, {"tags": ["x", "y"]}),
    ({"tags__contains": "x"}, {"tags": "x"}),
    ({"tags__all": ["x", "y"]}, {"tags": {"$all": ["x", "y"]}}),
    ({"tags__size": 2}, {"tags": {"$size": 2}}),
    ({"id": "abc"}, {"objectId": "abc"}),
    ({"pk__in": ["a"]}, {"objectId": {"$in": ["a"]}}),
    ({"published_at__gt": leanorm.protocol.encoding.decode_date("2020-01-01T00:00:00.000Z")},
     {"publishedAt": {"$gt": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}}}),
    ({"author__name": "Ann"}, {"author": {"$inQuery": {"where": {"name": "Ann"}, "className": "Author"}}}),
    ({"author__org__name": "O"}, {"author": {"$inQuery": {"where": {"org": {"$inQuery": {
        "where": {"name": "O"}, "className": "Org"}}}, "className": "Author"}}}),
    ({"author__id": "a1"}, {"author": {"__type": "Pointer", "className": "Author", "objectId": "a1"}}),
    ({"author": "a1"}, {"author": {"__type": "Pointer", "className": "Author", "objectId": "a1"}}),
    ({"meta": {"a": 1}}, {"meta": {"a": 1}}),
    ({"place__near": GeoPoint(1, 2)},
     {"place": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0}}}),
    ({"place__within_km": (GeoPoint(1, 2), 5)},
     {"place": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0},
                "$maxDistanceInKilometers": 5}}),
    ({"place__within_miles": (GeoPoint(1, 2), 5)},
     {"place": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0},
                "$maxDistanceInMiles": 5}}),
    ({"place__within_radians": (GeoPoint(1, 2), 0.1)},
     {"place": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0},
                "$maxDistanceInRadians": 0.1}}),
    ({"place__within_box": (GeoPoint(0, 0), GeoPoint(1, 1))},
     {"place": {"$within": {"$box": [{"__type": "GeoPoint", "latitude": 0.0, "longitude": 0.0},
                                     {"__type": "GeoPoint", "latitude": 1.0, "longitude": 1.0}]}}}),
])
def test_each_lookup_compiles_to_its_wire_form(lookups, expected):
    assert where(Post.objects.filter(**lookups)) == expected


def test_keys_inside_a_dict_field():
    assert where(Post.objects.filter(meta__lang="en", meta__a__b__gt=1)) == {"meta.lang": "en", "meta.a.b": {"$gt": 1}}
    with pytest.raises(FieldError):
        Post.objects.filter(meta__lang={"$gt": 1})


def test_geo_distance_is_radians_on_parse():
    w = where(Post.objects.filter(place__within_km=(GeoPoint(1, 2), 63.71)), PARSE)
    assert w["place"]["$maxDistance"] == pytest.approx(0.01)


def test_array_contains_is_all_on_parse():
    assert where(Post.objects.filter(tags="x"), PARSE) == {"tags": {"$all": ["x"]}}


def test_size_is_refused_on_parse_before_sending():
    with pytest.raises(NotSupported) as info:
        where(Post.objects.filter(tags__size=2), PARSE)
    assert info.value.backend == "parse"


def test_or_and_not():
    qs = Post.objects.filter(Q(score=1) | Q(score=2), ~Q(title="x"))
    assert where(qs) == {"$or": [{"score": 1}, {"score": 2}], "title": {"$ne": "x"}}


def test_exclude_keeps_missing_values_like_django():
    assert where(Post.objects.exclude(score__gt=3)) == {"$or": [{"score": {"$lte": 3}}, {"score": None}]}


def test_de_morgan_pushes_negation_to_leaves():
    assert where(Post.objects.exclude(score=1, title="x")) == {
        "$or": [{"score": {"$ne": 1}}, {"title": {"$ne": "x"}}]}


def test_negated_related_lookup_uses_not_in_query_and_keeps_missing():
    assert where(Post.objects.exclude(author__name="Ann")) == {"$or": [
        {"author": {"$notInQuery": {"where": {"name": "Ann"}, "className": "Author"}}}, {"author": None}]}


def test_negated_text_lookup_is_a_lookahead_that_keeps_missing():
    w = where(Post.objects.exclude(title__contains="a+"))
    assert w == {"$or": [{"title": {"$regex": "^(?![\\s\\S]*?(?:a\\+))"}}, {"title": None}]}


def test_colliding_conditions_use_and():
    w = where(Post.objects.filter(score=1).filter(score__gt=0))
    assert w == {"$and": [{"score": 1}, {"score": {"$gt": 0}}]}


@pytest.mark.parametrize("lookups", [
    {"meta": {"$ne": 1}},             # operator injection through a dict value
    {"title": {"$ne": 1}},
    {"title": ["a"]},
    {"score": "3"},
    {"score__in": "abc"},
    {"title__contains": 3},
    {"nope": 1},
    {"score__nope": 1},
    {"title__name": 1},
    {"author": Author()},             # unsaved target
    {"place__near": (1, 2)},
    {"tags__size": -1},
])
def test_bad_lookups_raise_before_any_request(lookups):
    with pytest.raises(FieldError):
        Post.objects.filter(**lookups)


def test_order_keys_use_wire_names():
    qs = Post.objects.order_by("-published_at", "id", "created_at")
    assert qs.using(LC).explain()["order"] == "-publishedAt,objectId,createdAt"
    with pytest.raises(FieldError):
        Post.objects.order_by("nope")


def test_select_related_and_only_build_include_and_keys():
    params = Post.objects.select_related("author__org").only("title").using(LC).explain()
    assert params["include"] == "author.org"
    assert params["keys"] == "title,author"


def test_slicing_sets_skip_and_limit():
    params = Post.objects.all()[10:25].using(LC).explain()
    assert (params["skip"], params["limit"]) == (10, 15)
    assert json.dumps(params)


def test_a_one_shot_iterable_in_a_lookup_is_read_once_and_kept():
    """``score__in=(s for s in ...)``: filter() checks the values when called and the query compiles them
    later (and again for each evaluation); a generator read by the check must not compile as the empty
    list (which matches nothing), silently."""
    qs = Post.objects.filter(score__in=(s for s in [1, 2]), tags__all=iter(["a"]))
    assert where(qs) == where(qs) == {"score": {"$in": [1, 2]}, "tags": {"$all": ["a"]}}
    assert where(Post.objects.filter(Q(score__nin=map(int, "12")))) == {"score": {"$nin": [1, 2]}}
