"""Units of work and auth identities: what one caller loaded is never served to another, on every backend."""
from __future__ import annotations

import uuid

import pytest

import leanorm
from leanorm import ACL, Model, PointerField, StringField, User, as_user


class UowSecret(Model):
    text = StringField()


class UowNote(Model):
    secret = PointerField(UowSecret)
    tag = StringField()


def _user(name):
    return User.signup(username=f"{name}-{uuid.uuid4().hex[:10]}", password="s3cret-pass")


@pytest.fixture
def bobs_secret(client):
    alice, bob = _user("alice"), _user("bob")
    with as_user(bob):
        secret = UowSecret(text="bob's private text")
        secret.acl = ACL({bob.id: {"read": True, "write": True}})  # bob's only
        secret.save()
        note = UowNote.objects.create(secret=secret)  # public: anyone sees that it points somewhere
    return alice, bob, secret.id, note.id


@pytest.mark.parametrize("load", ["lazy field read", "refresh"])
def test_stub_loaded_as_master_is_not_served_to_the_user_who_made_it(client, bobs_secret, load):
    alice, _, secret_id, note_id = bobs_secret
    with as_user(alice):
        stub = UowNote.objects.get(id=note_id).secret  # a pointer stub, made in alice's scope
    with leanorm.using_master():
        if load == "refresh":
            stub.refresh()
        else:
            assert stub.text == "bob's private text"
    with as_user(alice):
        sent = client.request_count
        with pytest.raises(UowSecret.DoesNotExist):
            UowSecret.objects.get(id=secret_id)
        assert client.request_count > sent  # asked the server, as alice


def test_stub_loaded_as_another_user_is_not_served_to_the_first(client, bobs_secret):
    alice, bob, secret_id, note_id = bobs_secret
    with as_user(alice):
        stub = UowNote.objects.get(id=note_id).secret
    with as_user(bob):
        assert stub.text == "bob's private text"
        assert UowSecret.objects.get(id=secret_id) is stub  # now bob's instance
    with as_user(alice):
        with pytest.raises(UowSecret.DoesNotExist):
            UowSecret.objects.get(id=secret_id)
        assert list(UowSecret.objects.filter(id=secret_id)) == []


def test_included_object_is_kept_under_the_identity_that_read_it(client, bobs_secret):
    alice, bob, secret_id, note_id = bobs_secret
    with leanorm.using_master():
        note = UowNote.objects.select_related("secret").get(id=note_id)
    with as_user(alice):
        assert note.secret.text == "bob's private text"  # alice holds the master's object: her choice
        with pytest.raises(UowSecret.DoesNotExist):
            UowSecret.objects.get(id=secret_id)  # but it is not mapped as hers


def test_a_session_block_has_instances_of_its_own(client):
    note = UowNote.objects.create()
    outside = UowNote.objects.get(id=note.id)
    with leanorm.session():
        inside = UowNote.objects.get(id=note.id)
        assert inside is not outside and UowNote.objects.get(id=note.id) is inside
    assert UowNote.objects.get(id=note.id) is outside


def test_a_create_sent_again_with_its_client_id_is_stored_once(client):
    first = UowNote()
    object_id = first.assign_id()
    first.save()
    assert first.id == object_id
    again = UowNote()  # as if the first attempt's answer had been lost and the create were sent again
    again.assign_id(object_id)
    assert again.save().id == object_id and again.created_at == first.created_at
    assert UowNote.objects.filter(id=object_id).count() == 1


def test_bulk_create_with_client_ids_sent_again_stores_each_object_once(client):
    notes = [UowNote() for _ in range(3)]
    UowNote.objects.bulk_create(notes, client_ids=True)
    again = [UowNote() for _ in range(3)]
    for note, twin in zip(again, notes):
        note.assign_id(twin.id)
    assert UowNote.objects.bulk_create(again) == again
    assert [n.id for n in again] == [n.id for n in notes]
    assert UowNote.objects.filter(id__in=[n.id for n in notes]).count() == 3


def test_a_create_with_a_client_id_refused_for_another_unique_field_says_so():
    client = leanorm.connect("local://:memory:", default=False)
    client.transport.server.create_index("UowNote", "tag", unique=True)
    with leanorm.using(client):
        UowNote(tag="taken").save()
        twin = UowNote(tag="taken")
        twin.assign_id()
        with pytest.raises(leanorm.errors.DuplicateValue):
            twin.save()
        assert twin.id is None and UowNote.objects.count() == 1
