"""Bugs a review of the ORM found (issue 21), each as a user meets it on the embedded backend."""
import os

import pytest

import leanorm
from leanorm import IntegerField, Model, Q, StringField
from leanorm.errors import ConfigurationError, NoEffect, OutcomeUnknown
from leanorm.models import registry
from leanorm.transport import Response, Transport


class RvArticle(Model):
    title: StringField[str] = StringField()
    score: IntegerField[int] = IntegerField(default=0)

    class Meta:
        class_name = "RvPost"  # its Python name is another wire class's name


class RvPost(Model):  # no: "RvPost" on the wire is RvArticle's class; this model's class is "RvPostRow"
    class Meta:
        class_name = "RvPostRow"


class RvScore(Model):
    score: IntegerField[int] = IntegerField(default=0)


@pytest.fixture
def client():
    client = leanorm.connect("local://:memory:", default=False)
    with leanorm.using(client):
        yield client
    client.close()


def test_a_wire_class_named_like_another_models_python_name_decodes_as_its_own_model(client):
    class RvNamed(Model):
        class Meta:
            class_name = "RvWire"

    assert registry.get("RvNamed") is None  # the Python name is no protocol class name
    assert registry.model_for("RvNamed") is RvNamed  # it still serves a field's forward reference
    assert registry.get("RvPost") is RvArticle
    assert registry.get("RvPostRow") is RvPost


def test_a_pointer_to_an_unmodelled_class_named_like_a_model_stays_a_pointer(client):
    class RvHolder(Model):
        class Meta:
            class_name = "RvHolderRow"

    class RvGhost(Model):  # Python name "RvGhost", wire class "RvGhostRow"
        class Meta:
            class_name = "RvGhostRow"

    with leanorm.using_master():
        row = client.request("POST", "classes/RvHolderRow",
                             body={"other": {"__type": "Pointer", "className": "RvGhost", "objectId": "p1"}})
    holder = RvHolder.objects.get(id=row["objectId"])
    assert holder["other"] == {"__type": "Pointer", "className": "RvGhost", "objectId": "p1"}


@pytest.mark.parametrize("order", ["-score", "score"])
def test_update_and_delete_ignore_the_ordering(client, order):
    for score in (3, 1, 2):
        RvScore.objects.create(score=score)
    assert RvScore.objects.order_by(order).update(score=5) == 3
    assert sorted(s.score for s in RvScore.objects.all()) == [5, 5, 5]
    assert RvScore.objects.order_by(order).delete() == 3
    assert RvScore.objects.count() == 0


def test_a_sliced_ordered_update_still_touches_the_slice(client):
    for score in (3, 1, 2):
        RvScore.objects.create(score=score)
    assert RvScore.objects.order_by("-score")[:1].update(score=9) == 1
    assert sorted(s.score for s in RvScore.objects.all()) == [1, 2, 9]


def test_save_with_where_and_no_changes_still_checks_where(client):
    obj = RvScore.objects.create(score=1)
    assert obj.save(where=Q(score=1)) is obj  # holds: nothing to write, no error
    with pytest.raises(NoEffect):
        obj.save(where=Q(score=2))


def test_an_in_memory_server_leaves_no_files_folder(client):
    server = client.transport.server
    folder = server.settings.files_dir
    assert os.path.isdir(folder)
    client.close()
    assert not os.path.exists(folder)


def test_using_master_without_a_master_key_is_a_configuration_error():
    client = leanorm.connect("leancloud+http://app:key@127.0.0.1:9", default=False)
    with leanorm.using_master(), pytest.raises(ConfigurationError, match="master key"):
        client.request("GET", "classes/X")
    client.close()


class _Answering(Transport):
    def __init__(self, status, body):
        self.status, self.body = status, body

    def send(self, request):
        return Response(self.status, self.body)

    def close(self):
        pass


@pytest.mark.parametrize("status", [403, 404, 429, 502])
def test_an_error_without_a_protocol_code_is_no_protocol_error(status):
    """A proxy's 403 is not the server's PermissionDenied: its HTTP status is no protocol code."""
    client = leanorm.connect("leancloud+http://app:key@127.0.0.1:9", default=False)
    client.transport = _Answering(status, b'{"message": "blocked by the gateway"}')
    with pytest.raises(OutcomeUnknown, match=str(status)):
        client.request("GET", "classes/X")


def test_every_public_error_is_exported():
    from leanorm import errors
    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.LeanORMError)}
    assert classes <= set(errors.__all__)


def test_a_using_block_sends_an_instances_writes_where_it_says():
    """``using(other)`` sends the block's requests through ``other``: an instance loaded elsewhere no
    longer wins silently (the instance's client serves what it holds: lazy fields, pointers)."""
    home = leanorm.connect("local://:memory:", default=False)
    other = leanorm.connect("local://:memory:", default=False)
    try:
        obj = RvScore(score=1)
        obj.assign_id()
        obj.save(client=home)
        with leanorm.using_master():
            other.request("POST", "classes/RvScore", body={"objectId": obj.id, "score": 1})
        obj.score = 7
        with leanorm.using(other):
            obj.save()
        assert RvScore.objects.using(other).get(id=obj.id).score == 7
        assert RvScore.objects.using(home).get(id=obj.id).score == 1
        obj.score = 8
        obj.save(client=home)  # an explicit client still wins over everything
        assert RvScore.objects.using(home).get(id=obj.id).score == 8
    finally:
        home.close()
        other.close()
