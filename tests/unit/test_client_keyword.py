"""Every public entry point that talks to a backend takes ``client=``; the call then goes there and only
there, whatever the default client or ``using()`` block says."""
import uuid

import pytest

import leanorm
from leanorm import cloud, push, schema, status


def _two_clients():
    default = leanorm.connect("local://:memory:")
    other = leanorm.connect("local://:memory:", default=False)
    return default, other


def test_schema_calls_go_to_the_client_given():
    default, other = _two_clients()
    schema.set_class_permissions("KwSecret", {"delete": {}}, client=other)
    assert schema.class_permissions("KwSecret", client=other)["delete"] == {}
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


def _codes(client, purpose):
    server = client.transport.server
    return [m["code"] for m in server.outbox if m["purpose"].split(":")[0] == purpose]


def test_user_classmethods_go_to_the_client_given():
    default, other = _two_clients()
    other.transport.server.settings.sms_interval = 0  # several codes a minute
    before = default.request_count
    phone = "13900000042"
    ann = leanorm.User.signup("kw-ann", "pw", email="kw-ann@example.com", mobile_phone_number=phone,
                              client=other)
    assert ann.session_token and ann._client is other
    assert leanorm.User.login("kw-ann", "pw", client=other).id == ann.id
    assert leanorm.User.login(email="kw-ann@example.com", password="pw", client=other).id == ann.id
    assert leanorm.User.login_with_mobile_phone(phone, "pw", client=other).id == ann.id
    assert leanorm.User.become(ann.session_token, client=other).id == ann.id
    leanorm.User.request_login_sms_code(phone, client=other)
    code = _codes(other, "login")[-1]
    assert leanorm.User.login_with_mobile_phone(phone, sms_code=code, client=other).id == ann.id
    leanorm.User.request_password_reset("kw-ann@example.com", client=other)
    leanorm.User.request_email_verify("kw-ann@example.com", client=other)
    leanorm.User.request_password_reset_by_sms_code(phone, client=other)
    leanorm.User.reset_password_by_sms_code(_codes(other, "password_reset")[-1], "pw2", phone, client=other)
    assert leanorm.User.login("kw-ann", "pw2", client=other).id == ann.id
    leanorm.User.request_mobile_phone_verify(phone, client=other)
    leanorm.User.verify_mobile_phone_number(_codes(other, "verify_phone")[-1], client=other)
    assert leanorm.User.login_with("anonymous", {"id": str(uuid.uuid4())}, client=other).id
    bob = leanorm.User.signup("kw-bob", "pw", client=other)
    ann = leanorm.User.login("kw-ann", "pw2", client=other)
    ann.follow(bob)
    assert [row.followee.id for row in leanorm.User.followees(ann.id, client=other)] == [bob.id]
    assert [row.follower.id for row in leanorm.User.followers(bob.id, client=other)] == [ann.id]
    assert default.request_count == before  # the default backend was never asked


def test_user_login_without_client_uses_the_default():
    default, other = _two_clients()
    leanorm.User.signup("kw-cy", "pw", client=other)
    with pytest.raises(leanorm.errors.LeanCloudError):
        leanorm.User.login("kw-cy", "pw")  # only the other backend has her
    assert default.request_count == 1


def test_status_calls_go_to_the_client_given():
    default, other = _two_clients()
    ann = leanorm.User.signup("kw-st-ann", "pw", client=other)
    bob = leanorm.User.signup("kw-st-bob", "pw", client=other)
    before = default.request_count
    with leanorm.as_user(ann):
        sent = status.send_private({"message": "hi"}, bob, client=other)
    with leanorm.as_user(bob):
        assert status.unread_count(inbox_type="private", client=other) == (1, 1)
        [got] = status.inbox(inbox_type="private", client=other)
        assert got.id == sent.id and got.data == {"message": "hi"}
        status.reset_unread_count(inbox_type="private", client=other)
        status.delete_from_inbox(got, client=other)
        assert status.inbox(inbox_type="private", client=other) == []
    with leanorm.as_user(ann):
        status.delete(sent, client=other)
    assert default.request_count == before


def test_a_pointer_loads_through_the_client_given():
    default, other = _two_clients()
    before = default.request_count
    ann = leanorm.User.signup("kw-ptr-ann", "pw", client=other)
    with leanorm.as_user(ann):
        assert leanorm.User.pointer(ann.id, client=other).username == "kw-ptr-ann"
    assert default.request_count == before
