"""Push: installations on every backend; ``push.send`` checks its arguments before sending; the
embedded backend records notifications with their targets, Parse Server (no push adapter) raises
NotSupported.

The Parse Server is shared with other suites: every test uses its own channel and installation ids,
and deletes the installations it made.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Iterator, List

import pytest

import leanorm
from leanorm import push
from leanorm.errors import LeanCloudError, NotSupported, PermissionDenied, ValidationError
from leanorm.push import Installation, Notification
from tests.models import Post


@pytest.fixture
def tag() -> str:
    """A name no other test uses (channels and installation ids start with it)."""
    return "push-" + uuid.uuid4().hex[:12]


@pytest.fixture
def devices(client: leanorm.Client, tag: str) -> Iterator[List[Installation]]:
    """Three devices: an Android phone on news and sport, an iPhone on news, a tablet switched off."""
    made = [
        Installation(device_type="android", installation_id=f"{tag}-phone", channels=[f"{tag}-news", f"{tag}-sport"]),
        Installation(device_type="ios", device_token=f"{tag}-iphone", channels=[f"{tag}-news"], badge=3),
        Installation(device_type="android", installation_id=f"{tag}-tablet", channels=[f"{tag}-news"]),
    ]
    for device in made:
        device.save()
    yield made
    with leanorm.using_master():
        Installation.objects.filter(_mine(tag)).delete()


def _mine(tag: str) -> leanorm.Q:
    return leanorm.Q(installation_id__startswith=tag) | leanorm.Q(device_token__startswith=tag)


def test_installation_round_trip(client, tag, devices):
    phone = devices[0]
    phone["appVersion"] = "2.1"  # not declared: kept like any unknown key
    phone.add_unique("channels", f"{tag}-weather")
    phone.save()
    phone.refresh()
    assert phone.device_type == "android"
    assert sorted(phone.channels) == [f"{tag}-news", f"{tag}-sport", f"{tag}-weather"]  # Parse may reorder
    assert phone.extra["appVersion"] == "2.1"
    with leanorm.using_master():  # Parse lets only the master key list installations
        found = Installation.objects.filter(channels=f"{tag}-news").order_by("created_at")
        assert [d.id for d in found] == [d.id for d in devices]
        assert Installation.objects.get(device_token=f"{tag}-iphone").badge == 3


def test_a_device_registers_once(client, tag, devices):
    again = Installation(device_type="android", installation_id=f"{tag}-phone", channels=[f"{tag}-quiet"]).save()
    with leanorm.using_master():
        same = Installation.objects.filter(installation_id=f"{tag}-phone")
        assert same.count() == 1
        assert same.get().channels == [f"{tag}-quiet"]
        assert same.get().id == devices[0].id
    if again.id is not None:  # Parse answers such a save without the objectId
        assert again.id == devices[0].id


def test_an_installation_needs_a_device_type_and_an_id(client, tag, sent):
    with pytest.raises(ValidationError):
        Installation(installation_id=f"{tag}-x").save()
    assert sent == []
    with pytest.raises(LeanCloudError) as info:
        Installation(device_type="android", channels=[tag]).save()
    assert info.value.code == 135


@pytest.mark.parametrize("kwargs, error", [
    (dict(data="hello"), TypeError),
    (dict(channels="news"), TypeError),
    (dict(channels=[]), TypeError),
    (dict(where="deviceType = 'ios'"), TypeError),
    (dict(where=Post.objects.filter(title="x")), TypeError),
    (dict(where=Installation.objects.none()), ValueError),
    (dict(where=Installation.objects.all()[:10]), ValueError),
    (dict(where=Installation.objects.all(), cql="select * from _Installation"), ValueError),
    (dict(expiration_time=dt.datetime(2030, 1, 1), expiration_interval=60), ValueError),
    (dict(push_time=dt.datetime(2030, 1, 2), expiration_time=dt.datetime(2030, 1, 1)), ValueError),
    (dict(push_time="2030-01-01"), TypeError),
    (dict(expiration_interval=0), ValueError),
    (dict(expiration_interval=dt.timedelta(seconds=1.5)), ValueError),
    (dict(flow_control=True), TypeError),
    (dict(prod="production"), ValueError),
])
def test_send_checks_arguments_before_sending(client, sent, kwargs, error):
    kwargs.setdefault("data", {"alert": "hi"})
    with leanorm.using_master(), pytest.raises(error):
        push.send(**kwargs)
    assert sent == []


def test_push_needs_the_master_key(client, tag, devices):
    with pytest.raises(PermissionDenied):
        push.send({"alert": "hi"}, channels=[f"{tag}-news"])


def test_push_encodes_what_leancloud_expects(client, sent, tag):
    beijing = dt.timezone(dt.timedelta(hours=8))
    with leanorm.using_master():
        try:
            push.send({"alert": "hi"}, channels=[f"{tag}-news"], where=Installation.objects.filter(device_type="ios"),
                      push_time=dt.datetime(2031, 5, 1, 8, 0, tzinfo=beijing),
                      expiration_interval=dt.timedelta(hours=1), flow_control=1000, prod="dev")
        except NotSupported:
            pass
    sent_body = json.loads(sent[-1].body)
    assert sent[-1].method == "POST" and sent[-1].path.endswith("/push")
    assert sent_body == {"data": {"alert": "hi"}, "channels": [f"{tag}-news"], "where": {"deviceType": "ios"},
                         "push_time": "2031-05-01T00:00:00.000Z", "expiration_interval": 3600,
                         "flow_control": 1000, "prod": "dev"}


def test_parse_without_push_adapter_is_not_supported(client, tag, devices):
    if client.backend != "parse":
        pytest.skip("the project's Parse Server has no push adapter")
    with leanorm.using_master(), pytest.raises(NotSupported) as info:
        push.send({"alert": "hi"}, channels=[f"{tag}-news"])
    assert info.value.backend == "parse" and "push adapter" in str(info.value)


@pytest.fixture
def embedded(client: leanorm.Client) -> leanorm.Client:
    if client.backend != "embedded":
        pytest.skip("only the embedded backend records who a push reached")
    return client


def test_channels_where_and_cql_choose_the_installations(embedded, tag, devices):
    phone, iphone, tablet = devices
    tablet.valid = False  # switched off: receives nothing
    tablet.save()
    with leanorm.using_master():
        news = push.send({"alert": "news"}, channels=[f"{tag}-news"])
        sport = push.send({"alert": "sport"}, channels=[f"{tag}-sport", "nobody-listens"])
        ios = push.send({"alert": "ios"}, where=Installation.objects.filter(device_type="ios"))
        both = push.send({"alert": "both"}, channels=[f"{tag}-sport"], where=Installation.objects.filter(badge=3))
        by_cql = push.send({"alert": "cql"}, cql="select * from _Installation where deviceType = 'android'")
        everyone = push.send({"alert": "all"})
        assert set(news.installation_ids) == {phone.id, iphone.id}
        assert news.devices == news.successes == 2 and news.status == "done"
        assert sport.installation_ids == [phone.id]
        assert ios.installation_ids == [iphone.id]
        assert both.installation_ids == [] and both.devices == 0
        assert by_cql.installation_ids == [phone.id]
        assert set(everyone.installation_ids) == {phone.id, iphone.id}
        assert [d.id for d in sport.installations()] == [phone.id]


def test_notifications_are_recorded_for_the_master_key(embedded, tag, devices):
    with leanorm.using_master():
        sent = push.send({"alert": "later", "badge": "Increment"}, channels=[f"{tag}-sport"],
                         push_time=dt.datetime(2099, 1, 1), expiration_time=dt.datetime(2099, 1, 2), prod="dev")
        stored = Notification.objects.get(id=sent.id)
        assert stored.status == "scheduled"
        assert stored.data == {"alert": "later", "badge": "Increment"}
        assert stored.channels == [f"{tag}-sport"] and stored.prod == "dev"
        assert stored.push_time.isoformat() == "2099-01-01T00:00:00+00:00"
        assert stored.expiration_time.isoformat() == "2099-01-02T00:00:00+00:00"
        assert Notification.objects.filter(data__alert="later").count() == 1
    assert Notification.objects.count() == 0  # their ACL is empty: clients see none


def test_client_push_when_the_server_allows_it(embedded, tag, devices):
    server = embedded.transport.inner.server
    server.settings.client_push = True  # this in-memory server only: LeanCloud's "allow client push" switch
    sent = push.send({"alert": "from a client"}, channels=[f"{tag}-news"])
    assert sent.id
    with leanorm.using_master():
        assert sent.devices == 3
