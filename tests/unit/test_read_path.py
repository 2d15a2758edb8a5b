"""The read path's building blocks, without I/O: identity map, page decoding, lazy fields, dates.

Nothing here sends a request: instances are built from wire rows the way a query page builds them.
"""
import datetime as dt

import arrow
import pytest

import leanorm
from leanorm import identity, signals
from leanorm.protocol.dialects import LeanCloudDialect
from leanorm.protocol.encoding import decode_date
from leanorm.identity import IdentityMap
from leanorm.transport import Transport
from tests.models import Author, Post


def new_client(**kw):
    return leanorm.Client(Transport(), LeanCloudDialect(), "app", "key", **kw)


def row(oid, **fields):
    data = {"objectId": oid, "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z"}
    data.update(fields)
    return data


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(identity, "monotonic", fake)
    return fake


# -- identity map ------------------------------------------------------------------------------------
def test_identity_map_entries_expire_after_ttl(clock):
    imap = IdentityMap(ttl=10, maxsize=100)
    a, b = object(), object()
    imap.put("anon", "Post", "a", a)
    clock.now += 6
    imap.put("anon", "Post", "b", b)
    assert imap.get_many("anon", "Post", ["a", "b", "c"]) == [a, b, None]
    clock.now += 5  # a is 11 s old, b 5 s
    assert imap.get("anon", "Post", "a") is None and imap.get("anon", "Post", "b") is b
    assert len(imap) == 1
    imap.put("anon", "Post", "b", b)  # storing again restarts the TTL
    clock.now += 9
    assert imap.get("anon", "Post", "b") is b


def test_identity_map_is_scoped_and_bounded(clock):
    imap = IdentityMap(ttl=60, maxsize=3)
    objs = {k: object() for k in "abcd"}
    imap.put_many("anon", "Post", list("abc"), [objs[k] for k in "abc"])
    imap.put("anon", "Post", "a", objs["a"])  # a is now the most recently stored
    imap.put("anon", "Post", "d", objs["d"])  # full: b, stored longest ago, makes room
    assert imap.get_many("anon", "Post", list("abcd")) == [objs["a"], None, objs["c"], objs["d"]]
    assert imap.get("master", "Post", "a") is None and imap.get("anon", "Author", "a") is None
    imap.put("master", "Post", "a", objs["b"])
    imap.discard("Post", "a")
    assert imap.get("anon", "Post", "a") is None and imap.get("master", "Post", "a") is None
    imap.clear()
    assert len(imap) == 0


def test_identity_map_evicts_oldest_across_classes_and_purges_expired(clock):
    imap = IdentityMap(ttl=60, maxsize=3)
    for name, (cls, oid) in enumerate([("Post", "a"), ("Author", "x"), ("Post", "b"), ("Author", "y")]):
        clock.now += 1
        imap.put("anon", cls, oid, name)
    assert imap.get("anon", "Post", "a") is None  # stored first: evicted first, whatever its class
    clock.now += 1
    imap.put("anon", "Author", "z", 4)
    assert [imap.get("anon", c, o) for c, o in [("Author", "x"), ("Post", "b"), ("Author", "y"),
                                               ("Author", "z")]] == [None, 2, 3, 4]
    clock.now += 61  # everything expired; the next store drops the expired entries themselves
    imap.put("anon", "Post", "c", 5)
    assert imap._partition(False).scopes["anon"] == {"Post": {"c": (clock.now + 60, 5)}}


def test_identity_map_off_keeps_nothing():
    imap = IdentityMap(ttl=0)
    imap.put("anon", "Post", "a", object())
    assert not imap.enabled and imap.get("anon", "Post", "a") is None and len(imap) == 0


# -- page decoding -----------------------------------------------------------------------------------
def test_page_rows_become_identity_mapped_instances():
    client = new_client()
    first = Post._from_wire_many([row("p1", title="a"), row("p2", title="b")], client)
    again = Post._from_wire_many([row("p2", title="b2"), row("p1", title="a2")], client)
    assert again == first[::-1] and again[0] is first[1] and again[1] is first[0]
    assert [p.title for p in first] == ["a2", "b2"]  # refreshed in place


def test_same_object_twice_in_one_page_is_one_instance():
    client = new_client()
    a, b = Post._from_wire_many([row("p1", title="old"), row("p1", title="new")], client)
    assert a is b and a.title == "new"


def test_identity_map_off_builds_fresh_instances():
    client = new_client(identity_ttl=0)
    (a,) = Post._from_wire_many([row("p1", title="a")], client)
    (b,) = Post._from_wire_many([row("p1", title="a")], client)
    assert a is not b and a == b


def test_post_init_fires_only_for_new_instances():
    client = new_client()
    seen = []

    def receiver(sender, instance, **kw):
        seen.append((sender, instance.id))

    signals.post_init.connect(receiver)
    try:
        Post._from_wire_many([row("p1"), row("p2")], client)
        Post._from_wire_many([row("p1"), row("p3")], client)
    finally:
        signals.post_init.disconnect(receiver)
    assert seen == [(Post, "p1"), (Post, "p2"), (Post, "p3")]


def test_loaded_instances_track_changes_like_built_ones():
    client = new_client()
    (post,) = Post._from_wire_many([row("p1", title="t", tags=["x"], score=3, legacyKey={"k": 1})], client)
    assert not post.is_dirty and post.changed_keys() == set()
    post.tags.append("y")  # in place: noticed against the wire value
    assert post.changed_keys() == {"tags"}
    post.increment("score", 2)
    assert post.score == 5 and post.changed_keys() == {"tags", "score"}
    assert post._payload(False) == {"tags": ["x", "y"], "score": {"__op": "Increment", "amount": 2}}
    assert post["legacyKey"] == {"k": 1} and post.extra == {"legacyKey": {"k": 1}}


def test_refresh_keeps_local_changes_and_takes_the_rest():
    client = new_client()
    (post,) = Post._from_wire_many([row("p1", title="t", score=1)], client)
    post.title = "local"
    (same,) = Post._from_wire_many([row("p1", title="server", score=7)], client)
    assert same is post and post.title == "local" and post.score == 7 and post.changed_keys() == {"title"}


def test_fields_decode_on_first_read_and_keep_their_value():
    client = new_client()
    wire_tags = ["a", "b"]
    (post,) = Post._from_wire_many([row(
        "p1", title="t", score=4.0, rating=2, active=True, tags=wire_tags,
        publishedAt={"__type": "Date", "iso": "2024-03-04T05:06:07.089Z"},
        author={"__type": "Pointer", "className": "Author", "objectId": "a1"}, flags=None)], client)
    assert post._cache == {}
    assert post.score == 4 and isinstance(post.score, int)
    assert post.rating == 2 and post.active is True and post.flags is None and post.meta is None
    assert post.tags == wire_tags and post.tags is not wire_tags and post.tags is post.tags
    assert post.published_at == arrow.get("2024-03-04T05:06:07.089+00:00")
    assert post.published_at is post.published_at
    assert isinstance(post.author, Author) and post.author.id == "a1" and post.author._deferred
    assert post.created_at == arrow.get("2024-01-01T00:00:00+00:00")


@pytest.mark.parametrize("iso", [
    "2024-03-04T05:06:07.089Z", "2024-03-04T05:06:07Z", "2024-03-04T05:06:07.089+00:00",
    "2024-03-04T13:06:07.089+08:00", "2024-03-04T05:06:07.089", "2024-03-04",
])
def test_decode_date_matches_arrow(iso):
    got = decode_date(iso)
    expected = arrow.get(iso)  # arrow reads strings without an offset as UTC, as the protocol does
    assert isinstance(got, arrow.Arrow) and got == expected
    assert got.utcoffset() == expected.utcoffset()
    assert got.shift(hours=1) - got == dt.timedelta(hours=1)  # a complete Arrow, not a shell


# -- pointers, GeoPoints and integers of a page ----------------------------------------------------------
def pointer(oid):
    return {"__type": "Pointer", "className": "Author", "objectId": oid}


def test_pointers_of_a_page_to_one_object_are_one_mapped_stub():
    client = new_client()
    posts = Post._from_wire_many([row("p1", author=pointer("a1")), row("p2", author=pointer("a1")),
                                  row("p3", author=pointer("a2"))], client)
    first, second, other = (post.author for post in posts)
    assert first is second and other is not first
    assert first.id == "a1" and first._deferred and first._data == {"objectId": "a1"}
    (loaded,) = Author._from_wire_many([row("a1", name="Ann")], client)  # a later query maps the same one
    assert loaded is first and first.name == "Ann"
    (later,) = Post._from_wire_many([row("p4", author=pointer("a1"))], client)
    assert later.author is first  # another page finds it in the identity map


def test_a_page_pointer_read_under_another_identity_is_that_identitys_stub():
    client = new_client()
    p1, p2, p3 = Post._from_wire_many([row(f"p{i}", author=pointer("a1")) for i in (1, 2, 3)], client)
    anonymous = p1.author
    with leanorm.using_master():
        as_master = p2.author
    assert as_master is not anonymous and as_master._scope == "master" and anonymous._scope == "anonymous"
    assert p3.author is anonymous


def test_a_page_does_not_serve_a_stub_loaded_under_another_identity_since():
    client = new_client()
    p1, p2 = Post._from_wire_many([row("p1", author=pointer("a1")), row("p2", author=pointer("a1"))], client)
    stub = p1.author
    with leanorm.using_master():
        stub._loaded_under(client)  # what a lazy load as master does after taking the master's data
    assert p2.author is not stub and p2.author._scope == "anonymous"


def test_a_page_pointer_read_in_another_unit_of_work_is_that_units_stub():
    client = new_client()
    p1, p2 = Post._from_wire_many([row("p1", author=pointer("a1")), row("p2", author=pointer("a1"))], client)
    outside = p1.author
    with leanorm.session():
        inside = p2.author
        assert client.identity_map.get("anonymous", "Author", "a1") is inside
    assert inside is not outside and inside.id == outside.id == "a1"


def test_page_pointers_with_the_identity_map_off_are_new_stubs():
    client = new_client(identity_ttl=0)
    p1, p2 = Post._from_wire_many([row("p1", author=pointer("a1")), row("p2", author=pointer("a1"))], client)
    assert p1.author is not p2.author and p1.author == p2.author


def test_post_init_fires_once_per_new_stub():
    client = new_client()
    seen = []

    def receiver(sender, instance, **kw):
        if sender is Author:
            seen.append(instance.id)

    posts = Post._from_wire_many([row(f"p{i}", author=pointer("a1" if i < 3 else "a2")) for i in range(4)],
                                 client)
    signals.post_init.connect(receiver)
    try:
        for post in posts:
            post.author
    finally:
        signals.post_init.disconnect(receiver)
    assert seen == ["a1", "a2"]


def test_pointer_to_an_undeclared_class_reads_as_the_wire_dict():
    client = new_client()
    (post,) = Post._from_wire_many([row("p1", meta={"who": {"__type": "Pointer", "className": "Nobody",
                                                            "objectId": "n1"}})], client)
    assert post.meta == {"who": {"__type": "Pointer", "className": "Nobody", "objectId": "n1"}}


@pytest.mark.parametrize("wire, expected", [
    ({"latitude": 39.9, "longitude": 116.4}, (39.9, 116.4)),
    ({"latitude": 0, "longitude": -180}, (0.0, -180.0)),  # integers: converted by the constructor
    ({"latitude": -90.0, "longitude": 180.0}, (-90.0, 180.0)),
])
def test_geopoint_from_wire_matches_the_constructor(wire, expected):
    from leanorm.protocol.geo import GeoPoint
    point = GeoPoint.from_wire({"__type": "GeoPoint", **wire})
    assert type(point) is GeoPoint and point == GeoPoint(*expected)
    assert (point.latitude, point.longitude) == expected and all(type(v) is float for v in expected)
    assert point.to_wire() == {"__type": "GeoPoint", "latitude": expected[0], "longitude": expected[1]}


@pytest.mark.parametrize("wire", [{"latitude": 91.0, "longitude": 0.0}, {"latitude": 0.0, "longitude": -180.5},
                                  {"latitude": float("nan"), "longitude": 0.0}, {"latitude": True, "longitude": 0.0},
                                  {"latitude": "1", "longitude": 0.0}])
def test_geopoint_from_wire_refuses_what_the_constructor_refuses(wire):
    from leanorm.protocol.geo import GeoPoint
    with pytest.raises(ValueError):
        GeoPoint.from_wire(wire)


def test_page_geopoints_decode_on_read():
    client = new_client()
    (post,) = Post._from_wire_many([row("p1", place={"__type": "GeoPoint", "latitude": 1.5, "longitude": 2})],
                                   client)
    assert post.place.latitude == 1.5 and post.place.longitude == 2.0 and post.place is post.place


def test_integer_reads_skip_only_their_own_decoder():
    from leanorm import IntegerField

    class Cents(IntegerField):
        def from_wire(self, value, instance=None):
            return value * 100

    class PricedPost(Post):
        price = Cents()

    client = new_client()
    (post,) = PricedPost._from_wire_many([row("p1", score=3.0, flags=7, price=2)], client)
    assert post.score == 3 and type(post.score) is int and post.flags == 7
    assert post.price == 200  # a field class's own decoder still sees integers
