"""What live queries decide before anything connects: the URL, what a LiveQuery server can match, the
waits between reconnection attempts (the protocol itself runs against Parse Server: tests/live/)."""
import asyncio

import pytest

import leanorm
from leanorm import IntegerField, Model, PointerField, Q, StringField
from leanorm.errors import NotSupported
from leanorm.live import Backoff


class Story(Model):
    title = StringField()
    score = IntegerField()
    parent = PointerField("Story")


@pytest.fixture
def parse():
    client = leanorm.connect("parse+https://app:key@example.com/parse", default=False)
    with leanorm.using(client):
        yield client


def test_a_parse_servers_live_url_is_its_own_host_and_path_over_websocket(parse):
    assert Story.objects.live().client.live_connector is not None
    query = Story.objects.filter(score__gte=1).only("title").live(watch=["score"])
    assert (query.where, query.keys, query.watch) == ({"score": {"$gte": 1}}, ["title"], ["score"])


@pytest.mark.parametrize("queryset, named", [
    (lambda: Story.objects.filter(title=None), "equality with null"),
    # a negated comparison compiles to "the opposite, or missing": the message says where the null came from
    (lambda: Story.objects.filter(~Q(score__lt=1)), "negated comparison.*score__gte"),
    (lambda: Story.objects.exclude(score__lt=1), "negated comparison"),
    (lambda: Story.objects.filter(parent__title="x"), "$inQuery"),
    (lambda: Story.objects.all()[:10], "sliced"),
    (lambda: Story.objects.select_related("parent"), "select_related"),
])
def test_what_a_live_query_server_cannot_match_is_refused_not_silently_empty(parse, queryset, named):
    with pytest.raises(NotSupported, match=named.replace("$", r"\$")):
        queryset().live()


def test_a_backend_without_a_known_live_server_says_how_to_give_one():
    client = leanorm.connect("leancloud://app:key@api.example.com", default=False)

    async def subscribe():
        await Story.objects.using(client).live()
    with pytest.raises(NotSupported, match="live_url"):
        asyncio.run(subscribe())


def test_a_live_url_is_a_websocket_url():
    with pytest.raises(ValueError, match="ws://"):
        leanorm.connect("parse://app:key@127.0.0.1:1/parse", live_url="http://127.0.0.1:1/parse", default=False)


def test_reconnection_waits_grow_to_a_cap_and_are_jittered_below_it():
    assert [Backoff(first=0.5, cap=4, draw=lambda: 1.0).delay(n) for n in range(6)] == [0.5, 1, 2, 4, 4, 4]
    assert [Backoff(first=0.5, cap=4, draw=lambda: 0.25).delay(n) for n in range(4)] == [0.125, 0.25, 0.5, 1]
    assert all(0 <= Backoff().delay(n) <= 30 for n in range(100))
