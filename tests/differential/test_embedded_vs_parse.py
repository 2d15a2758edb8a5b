"""Differential test: random where-clauses must select the same objects, in the same order, on the
embedded backend and on Parse Server.

One seeded dataset (edge cases included: missing fields, nulls, empty arrays, unicode, case) is loaded
into both backends with the same objectIds; hypothesis then generates queries from the lookup registry,
and each is run on both. Related lookups run as subqueries: into shops holding a place (geo operators
inside the subquery) and into a class that has no objects, no table and no schema on either backend.
"""
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leanorm
from leanorm import (BooleanField, FloatField, GeoPoint, GeoPointField, IntegerField, ListField, Model, PointerField,
                     Q, StringField)
from leanorm.errors import NotSupported
from tests.conftest import make_client


class DiffShop(Model):
    name = StringField()
    place = GeoPointField()

    class Meta:
        class_name = "DiffShop"


class DiffGhost(Model):
    """Never written: a related lookup into it meets a class that does not exist yet."""
    name = StringField()

    class Meta:
        class_name = "DiffGhost"


class DiffDoc(Model):
    title = StringField()
    score = IntegerField()
    rating = FloatField()
    tags = ListField(StringField())
    flag = BooleanField()
    shop = PointerField(DiffShop)
    ghost = PointerField(DiffGhost)

    class Meta:
        class_name = "DiffDoc"


WORDS = ["alpha", "Alpha", "beta", "b.ta", "gamma", "Δelta", "", "a*b", "zeta"]
TAGS = ["x", "y", "z", "X"]
N_DOCS = 60
SHOP_NAMES = ["north", "south", "east", "west", "centre", "harbour", "hill", "market"]
CENTRE = GeoPoint(30.0, 120.0)


def _shops():
    rng = random.Random(20261201)
    shops = []
    for i, name in enumerate(SHOP_NAMES):
        shop = {"objectId": f"s{i:09d}", "name": name}
        if i != 3:  # one shop without a place
            shop["place"] = {"__type": "GeoPoint", "latitude": round(30 + rng.uniform(-4, 4), 4),
                             "longitude": round(120 + rng.uniform(-4, 4), 4)}
        shops.append(shop)
    return shops


def _dataset():
    rng = random.Random(20261124)
    docs = []
    for i in range(N_DOCS):
        doc = {"objectId": f"d{i:09d}"}
        if rng.random() < 0.85:
            doc["title"] = rng.choice(WORDS) + rng.choice(["", " one", " Two"])
        if rng.random() < 0.8:
            doc["score"] = rng.randint(-3, 6)
        if rng.random() < 0.6:
            doc["rating"] = rng.choice([0.5, 1.0, 2.25, -1.5])
        if rng.random() < 0.8:
            doc["tags"] = rng.sample(TAGS, rng.randint(0, 3))
        if rng.random() < 0.7:
            doc["flag"] = rng.random() < 0.5
        if rng.random() < 0.75:
            doc["shop"] = {"__type": "Pointer", "className": "DiffShop",
                           "objectId": f"s{rng.randrange(len(SHOP_NAMES)):09d}"}
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def clients():
    if not os.environ.get("LEANORM_PARSE_URL"):
        if os.environ.get("LEANORM_REQUIRE_PARSE") == "1":
            pytest.fail("LEANORM_REQUIRE_PARSE=1 but LEANORM_PARSE_URL is not set")
        pytest.skip("the differential test needs Parse Server")
    # The embedded backend speaks the Parse dialect here: where the two protocols differ on their own
    # (missing values sort last ascending on Parse/PostgreSQL, first on LeanCloud/MongoDB) it follows
    # the dialect it is spoken to in.
    pair = (leanorm.connect("local://:memory:?dialect=parse", default=False), make_client("parse"))
    for client in pair:
        with leanorm.using_master():
            for class_name in ("DiffDoc", "DiffShop", "DiffGhost"):
                try:
                    client.request("DELETE", "purge/" + class_name)
                except leanorm.errors.LeanCloudError:
                    pass
            outcomes = client.batch([("POST", "classes/DiffShop", shop) for shop in _shops()] +
                                    [("POST", "classes/DiffDoc", doc) for doc in _dataset()])
        assert not [o for o in outcomes if isinstance(o, Exception)]
    return pair


scalar_lookups = st.one_of(
    st.tuples(st.just("score"), st.sampled_from(["exact", "ne", "gt", "gte", "lt", "lte"]), st.integers(-3, 6)),
    st.tuples(st.just("score"), st.sampled_from(["in", "nin"]), st.lists(st.integers(-3, 6), max_size=3)),
    st.tuples(st.just("rating"), st.sampled_from(["gt", "lte", "exact"]), st.sampled_from([0.5, 1.0, 2.0])),
    st.tuples(st.sampled_from(["score", "rating", "title", "tags", "flag"]), st.sampled_from(["exists", "isnull"]),
              st.booleans()),
    st.tuples(st.just("title"), st.sampled_from(["exact", "contains", "icontains", "startswith", "istartswith",
                                                 "endswith", "iendswith"]),
              st.sampled_from(["alpha", "a", "A", "b.ta", "*", "one", "Two", "Δ", "zeta one"])),
    st.tuples(st.just("tags"), st.sampled_from(["exact", "contains"]), st.sampled_from(TAGS)),
    st.tuples(st.just("tags"), st.sampled_from(["all", "in", "nin"]), st.lists(st.sampled_from(TAGS), min_size=1,
                                                                                 max_size=2, unique=True)),
    st.tuples(st.just("flag"), st.just("exact"), st.booleans()),
)

points = st.builds(GeoPoint, st.sampled_from([29.0, 30.0, 31.5, 33.0]), st.sampled_from([117.0, 119.5, 120.0, 122.0]))
#: related lookups, run as subqueries: geo operators inside them, and a class with nothing in it
related_lookups = st.one_of(
    st.tuples(st.just("shop__place"), st.sampled_from(["within_km", "within_miles"]),
              st.tuples(points, st.sampled_from([50, 150, 400]))),
    st.tuples(st.just("shop__place"), st.just("within_box"),
              st.sampled_from([(GeoPoint(28, 117), GeoPoint(31, 121)), (GeoPoint(30, 119), GeoPoint(35, 125))])),
    st.tuples(st.just("shop__place"), st.just("exists"), st.booleans()),
    st.tuples(st.just("shop__name"), st.sampled_from(["exact", "startswith"]), st.sampled_from(SHOP_NAMES + ["h"])),
    st.tuples(st.just("ghost__name"), st.sampled_from(["exact", "ne"]), st.sampled_from(["x", ""])),
    st.tuples(st.just("ghost__name"), st.just("exists"), st.booleans()),
)


def _q(leaf):
    name, lookup, value = leaf
    return Q(**{f"{name}__{lookup}": value})


queries = st.recursive(
    scalar_lookups.map(_q),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda q: ~q),
    ),
    max_leaves=4,
)


related_queries = st.recursive(
    st.one_of(related_lookups.map(_q), scalar_lookups.map(_q)),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda q: ~q),
    ),
    max_leaves=3,
)


def _run(client, q, order):
    with leanorm.using(client):
        try:
            return [d.id for d in DiffDoc.objects.filter(q).order_by(*order)[:200]]
        except NotSupported:
            return "not supported"


@settings(max_examples=int(os.environ.get("LEANORM_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries, order=st.sampled_from([("id",), ("-id",), ("score", "id"), ("-score", "id"),
                                         ("title", "id"), ("-rating", "-id")]))
def test_same_objects_in_the_same_order(clients, q, order):
    embedded, parse = clients
    expected = _run(embedded, q, order)
    got = _run(parse, q, order)
    if "not supported" in (expected, got):
        return
    assert got == expected, f"{q!r} ordered by {order}"


# The embedded side of these is issue 10 item 14, fixed on branch compat: until it is merged the embedded
# backend answers 500 for geo operators and classes without a table inside a subquery (and nothing at
# all for within_box). Non-strict: it passes once that fix is in; then drop the mark.
@pytest.mark.xfail(reason="issue 10 item 14 (subqueries: geo operators, empty classes), fixed on branch compat",
                   strict=False)
@settings(max_examples=int(os.environ.get("LEANORM_DIFF_EXAMPLES", "150")) // 2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=related_queries, order=st.sampled_from([("id",), ("-score", "id")]))
def test_subqueries_select_the_same_objects(clients, q, order):
    """Geo operators inside a subquery, and lookups into a class that does not exist (issue 10, item 14)."""
    embedded, parse = clients
    expected = _run(embedded, q, order)
    got = _run(parse, q, order)
    if "not supported" in (expected, got):
        return
    assert got == expected, f"{q!r} ordered by {order}"
