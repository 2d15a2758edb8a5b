"""Every public entry point that talks to a backend takes ``client=``; the call then goes there and only
there, whatever the default client or ``using()`` block says."""
import leanorm
from leanorm import cloud, push, schema


def _two_clients():
    default = leanorm.connect("local://:memory:")
    other = leanorm.connect("local://:memory:", default=False)
    return default, other


def test_schema_calls_go_to_the_client_given():
    default, other = _two_clients()
    schema.set_class_permissions("KwSecret", {"delete": {}}, client=other)
    assert schema.class_permissions("KwSecret", client=other) == {"delete": {}}
    assert schema.class_permissions("KwSecret") is None  # the default backend never saw it
    assert default.request_count == 1 and other.request_count >= 2


def test_cloud_and_push_calls_go_to_the_client_given():
    default, other = _two_clients()
    before = default.request_count
    assert cloud.get_server_time(client=other).year >= 2024
    with leanorm.using_master():
        sent = push.send({"alert": "hi"}, channels=["news"], client=other)
    assert sent.id is not None
    assert default.request_count == before
    assert other.request_count == 2
