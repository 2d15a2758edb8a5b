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
