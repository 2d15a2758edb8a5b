"""The status API (issue 10, item 6): statuses to queries, followers and one user; inboxes with message
ids, unread counts and their reset; deletion. Parse Server has no status API: NotSupported."""
from __future__ import annotations

import uuid

import pytest

import leanorm
from leanorm import User, as_user, status
from leanorm.errors import LeanCloudError, LeanORMError, NotSupported


def unique(prefix: str = "st") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def people(client):
    if not client.supports("statuses"):
        pytest.skip(f"{client.backend} has no status API")
    return {name: User.signup(username=unique(name), password="pw") for name in ("ann", "bob", "cid")}


def test_parse_has_no_status_api(client):
    if client.supports("statuses"):
        pytest.skip("this backend has the status API")
    user = User.signup(username=unique(), password="pw")
    with as_user(user), pytest.raises(NotSupported):
        status.send_private({"message": "hi"}, user)


def test_private_status_unread_count_and_reset(people):
    ann, bob = people["ann"], people["bob"]
    with as_user(ann):
        sent = status.send_private({"message": "lunch?", "when": 12}, bob)
    assert sent.id and sent.source_id == ann.id and sent.inbox_type == "private"
    with as_user(bob):
        assert status.unread_count(inbox_type="private") == (1, 1)
        assert status.unread_count() == (0, 0)  # the default inbox is another one
        [got] = status.inbox(inbox_type="private")
        assert (got.id, got.data, got.source_id) == (sent.id, {"message": "lunch?", "when": 12}, ann.id)
        assert got.message_id is not None
        status.reset_unread_count(inbox_type="private")
        assert status.unread_count(inbox_type="private") == (1, 0)
    with as_user(ann):  # an inbox is its owner's
        with pytest.raises(LeanCloudError):
            status.inbox(owner=bob, inbox_type="private")
    with leanorm.using_master():
        assert [s.id for s in status.inbox(owner=bob, inbox_type="private")] == [sent.id]


def test_followers_get_statuses_newest_first_with_since_and_max(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    for follower in (bob, cid):
        with as_user(follower):
            follower.follow(ann)
    with as_user(ann):
        first = status.send_to_followers({"message": "one"})
        second = status.send_to_followers({"message": "two"})
    for follower in (bob, cid):
        with as_user(follower):
            entries = status.inbox()
            assert [s.id for s in entries] == [second.id, first.id]
            newest, oldest = entries
            assert [s.id for s in status.inbox(since_id=oldest.message_id)] == [second.id]
            assert [s.id for s in status.inbox(max_id=oldest.message_id)] == [first.id]
    with as_user(ann):
        assert status.inbox() == []  # followers get it, not the sender


def test_a_status_to_a_query_and_its_deletion(people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    with as_user(ann):
        sent = status.send({"message": "to b and c"}, User.objects.filter(id__in=[bob.id, cid.id]))
    with as_user(bob):
        [entry] = status.inbox()
        with pytest.raises(LeanCloudError):  # only its sender deletes a status
            status.delete(entry)
        status.delete_from_inbox(entry)
        assert status.inbox() == []
    with as_user(ann):
        status.delete(sent)
    with as_user(cid):
        assert status.inbox() == [] and status.unread_count() == (0, 0)


def test_bad_input_is_refused_before_any_request(people, sent):
    before = len(sent)
    with pytest.raises(LeanORMError):
        status.inbox()  # nobody to read the inbox of
    with as_user(people["ann"]), pytest.raises(LeanORMError):
        status.send_private({1: "x"}, people["bob"])  # type: ignore[dict-item]
    assert len(sent) == before
