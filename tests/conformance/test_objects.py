"""Objects: save, load, change tracking, atomic operations, conditional writes — on every backend."""
import datetime as dt
import json

import arrow
import pytest

import leanorm
from leanorm import F, GeoPoint, Q
from leanorm.errors import (DuplicateValue, InvalidType, NoEffect, NotSupported, ObjectNotFound,
                            ValidationError)
from tests.models import Author, Org, Post


def body(request):
    return json.loads(request.body) if request.body else None


def test_every_field_type_round_trips(client):
    org = Org.objects.create(name="Acme")
    author = Author.objects.create(name="Ann", age=30, org=org)
    when = arrow.get("2024-05-06T07:08:09.123Z")
    post = Post.objects.create(title="Hello", score=7, rating=4.5, active=True, tags=["a", "b"],
                               meta={"k": [1, {"x": "y"}]}, data=b"\x00\xffbytes", place=GeoPoint(39.9, 116.4),
                               published_at=when, author=author, flags=5)
    assert post.id and post.created_at and post.updated_at
    client.identity_map.clear()
    got = Post.objects.get(id=post.id)
    assert got is not post
    assert (got.title, got.score, got.rating, got.active, got.tags) == ("Hello", 7, 4.5, True, ["a", "b"])
    assert got.meta == {"k": [1, {"x": "y"}]}
    assert got.data == b"\x00\xffbytes"
    assert got.place == GeoPoint(39.9, 116.4)
    assert got.published_at == when and isinstance(got.published_at, arrow.Arrow)
    assert got.author.id == author.id and got.author.name == "Ann"
    assert got.author.org.name == "Acme"
    assert got.created_at == post.created_at



def test_a_float_field_reads_floats_whatever_json_the_server_writes(client):
    """Parse Server (JavaScript) writes the number 2.0 as ``2``: a FloatField still reads the float 2.0, as
    an IntegerField reads 3.0 as the integer 3 (``isinstance(..., float)``, ``json.dumps`` and the typed
    ``float`` agree on every backend)."""
    post = Post.objects.create(title="whole", rating=2.0)
    client.identity_map.clear()
    got = Post.objects.get(id=post.id)
    assert got.rating == 2.0 and type(got.rating) is float
    assert [type(v) for v in Post.objects.values_list("rating", flat=True)] == [float]
    assert [type(r["rating"]) for r in Post.objects.values("rating")] == [float]

def test_naive_datetimes_are_utc(client):
    post = Post.objects.create(title="t", published_at=dt.datetime(2020, 1, 2, 3, 4, 5))
    client.identity_map.clear()
    assert Post.objects.get(id=post.id).published_at == arrow.get("2020-01-02T03:04:05Z")


def test_save_sends_only_changed_fields(client, sent):
    post = Post.objects.create(title="t", score=1, tags=["x"])
    post.score = 2
    post.save()
    assert sent[-1].method == "PUT" and body(sent[-1]) == {"score": 2}
    post.tags.append("y")  # in-place change of a list is detected too
    post.save()
    assert body(sent[-1]) == {"tags": ["x", "y"]}
    count = client.request_count
    post.save()  # nothing changed: nothing sent
    assert client.request_count == count
    client.identity_map.clear()
    assert Post.objects.get(id=post.id).tags == ["x", "y"]


def test_validation_lists_every_field_and_sends_nothing(client):
    before = client.request_count
    with pytest.raises(ValidationError) as info:
        Post(title=None, score="high", tags=["ok", 3]).save()
    assert set(info.value.errors) == {"title", "score", "tags"}
    with pytest.raises(ValidationError) as info:
        Author(name="x" * 101, age=-1).save()
    assert set(info.value.errors) == {"name", "age"}
    assert client.request_count == before


def test_custom_validators_and_choices(client):
    class Ticket(leanorm.Model):
        state = leanorm.StringField(choices=["open", "closed"])
        code = leanorm.StringField(validators=[lambda v: v.isupper()])

    with pytest.raises(ValidationError) as info:
        Ticket(state="maybe", code="abc").save()
    assert set(info.value.errors) == {"state", "code"}
    assert Ticket(state="open", code="ABC").save().id


def test_callable_defaults(client):
    stamp = arrow.get("2021-01-01T00:00:00Z")

    class Event(leanorm.Model):
        at = leanorm.DateTimeField(default=lambda: stamp)
        labels = leanorm.ListField(leanorm.StringField())

    a, b = Event(), Event()
    a.labels.append("x")
    assert b.labels == [] and a.at == stamp
    a.save()
    client.identity_map.clear()
    assert Event.objects.get(id=a.id).labels == ["x"]


def test_undeclared_fields_are_kept_and_round_tripped(client):
    created = client.request("POST", "classes/Post", body={"title": "legacy", "legacyCount": 3,
                                                           "legacyWhen": {"__type": "Date",
                                                                          "iso": "2020-01-01T00:00:00.000Z"}})
    post = Post.objects.get(id=created["objectId"])
    assert post.extra == {"legacyCount": 3, "legacyWhen": arrow.get("2020-01-01T00:00:00Z")}
    post["legacyCount"] = 4
    post.title = "renamed"
    post.save()
    client.identity_map.clear()
    again = Post.objects.get(id=post.id)
    assert again["legacyCount"] == 4 and again["legacyWhen"] == arrow.get("2020-01-01T00:00:00Z")


def test_delete_and_refresh(client):
    post = Post.objects.create(title="t", score=1)
    other = Post.objects.create(title="keep")
    post.delete()
    assert not Post.objects.filter(id=post.id).exists()
    with pytest.raises(Post.DoesNotExist):
        Post.objects.get(id=post.id)
    with pytest.raises(ObjectNotFound):
        post.refresh()
    other.title = "local"
    other.refresh()
    assert other.title == "keep"


def test_a_deleted_object_read_again_is_the_models_does_not_exist_on_every_backend(client):
    """``except Author.DoesNotExist`` (Django's habit) catches a refresh or a lazy pointer load of a deleted
    object on every backend: Parse Server answers such a GET with error 101, LeanCloud with ``{}``."""
    author = Author.objects.create(name="gone")
    post = Post.objects.create(title="p", author=author)
    stale = Author.objects.get(id=author.id)
    Author.objects.filter(id=author.id).delete()
    with pytest.raises(Author.DoesNotExist):
        stale.refresh()
    client.identity_map.clear()
    with pytest.raises(Author.DoesNotExist):
        Post.objects.get(id=post.id).author.name


def test_equality_hash_and_repr(client):
    a = Post.objects.create(title="t")
    client.identity_map.clear()
    b = Post.objects.get(id=a.id)
    assert a == b and hash(a) == hash(b) and a is not b
    assert Post(title="x") != Post(title="x")
    with pytest.raises(TypeError):
        hash(Post(title="x"))
    assert repr(a).startswith(f"<Post id='{a.id}'")


def test_increment_and_array_ops(client):
    post = Post.objects.create(title="t", score=1, tags=["a"])
    other = Post.objects.get(id=post.id)
    client.identity_map.clear()
    stale = Post.objects.get(id=post.id)  # a second, stale copy
    stale.increment("score", 5).save()
    other.increment("score").decrement("score", 3)  # merged into one Increment(-2)
    other.save()
    client.identity_map.clear()
    assert Post.objects.get(id=post.id).score == 1 + 5 - 2
    post.add("tags", "b", "c").save()
    post.add_unique("tags", "a", "d").save()
    post.remove("tags", "b").save()
    client.identity_map.clear()
    # Parse on PostgreSQL does not keep the order of the remaining elements after Remove
    assert sorted(Post.objects.get(id=post.id).tags) == ["a", "c", "d"]
    post.unset("rating").save()
    post.rating = 2.5
    post.save()
    post.unset("rating").save()
    client.identity_map.clear()
    fresh = Post.objects.get(id=post.id)
    assert fresh.rating is None and "rating" not in fresh._data


def test_fetch_when_save_returns_server_values(client):
    post = Post.objects.create(title="t", score=10)
    client.request("PUT", f"classes/Post/{post.id}", body={"score": {"__op": "Increment", "amount": 100}})
    post.increment("score")
    post.save(fetch_when_save=True)
    assert post.score == 111


def test_bit_operations(client):
    post = Post.objects.create(title="t", flags=0b1100)
    post.bit_and("flags", 0b0101)
    if not client.supports("bit_ops"):
        before = client.request_count
        with pytest.raises(NotSupported) as info:
            post.save()
        assert info.value.backend == client.backend and client.request_count == before
        return
    post.save()
    post.bit_or("flags", 0b0011).save()
    post.bit_xor("flags", 0b0001).save()
    client.identity_map.clear()
    assert Post.objects.get(id=post.id).flags == ((0b1100 & 0b0101) | 0b0011) ^ 0b0001


def test_conditional_save_and_delete(client):
    post = Post.objects.create(title="t", score=3)
    post.score = 4
    if not client.supports("conditional_update"):
        with pytest.raises(NotSupported):
            post.save(where=Q(score=3))
        return
    post.save(where=Q(score=3))
    post.score = 5
    with pytest.raises(NoEffect) as info:
        post.save(where=Q(score=3))
    assert info.value.code == 305
    client.identity_map.clear()
    assert Post.objects.get(id=post.id).score == 4
    with pytest.raises(NoEffect):
        post.delete(where=Q(score=99))
    post.delete(where=Q(score=4))
    assert Post.objects.count() == 0


def test_queryset_update_with_f_and_values(client):
    for i in range(5):
        Post.objects.create(title=f"p{i}", score=i)
    assert Post.objects.filter(score__gte=2).update(score=F("score") + 10, active=True) == 3
    client.identity_map.clear()
    assert sorted(Post.objects.values_list("score", flat=True)) == [0, 1, 12, 13, 14]
    assert Post.objects.filter(active=True).count() == 3
    with pytest.raises(ValidationError):
        Post.objects.update(score="x")


def test_queryset_update_writes_only_its_fields_not_a_loaded_instances_unsaved_edits(client):
    """Django's ``update()`` writes the fields it names; an instance of the unit of work holding unsaved
    edits (a half-filled form) keeps them unsaved, instead of having them written by someone else's
    ``update()``."""
    post = Post.objects.create(title="orig", score=0)
    post.title = "draft, unsaved"
    post.increment("flags")
    assert Post.objects.filter(id=post.id).update(score=5) == 1
    stored = client.request("GET", f"classes/Post/{post.id}")
    assert (stored["title"], stored["score"], stored.get("flags")) == ("orig", 5, None)
    assert post.score == 5 and post.title == "draft, unsaved" and post.changed_keys() == {"title", "flags"}
    post.save()  # the edits are still the instance's to save
    stored = client.request("GET", f"classes/Post/{post.id}")
    assert (stored["title"], stored["score"], stored["flags"]) == ("draft, unsaved", 5, 1)


def test_queryset_delete_is_batched(client, sent):
    Post.objects.bulk_create([Post(title=f"p{i}", score=i) for i in range(60)])
    start = len(sent)
    assert Post.objects.filter(score__lt=55).delete() == 55
    batches = [r for r in sent[start:] if r.path.endswith("/batch")]
    assert len(batches) == 2  # 55 deletes in batches of 50
    assert Post.objects.count() == 5


def test_duplicate_object_id_is_a_typed_error(client):
    client.request("POST", "classes/Post", body={"objectId": "dupId00001", "title": "a"})
    with pytest.raises(DuplicateValue) as info:
        client.request("POST", "classes/Post", body={"objectId": "dupId00001", "title": "b"})
    assert info.value.code == 137


def test_wrong_type_for_existing_field_is_a_typed_error(client):
    Post.objects.create(title="t", score=1)
    with pytest.raises(InvalidType) as info:
        client.request("POST", "classes/Post", body={"title": "x", "score": "not a number"})
    assert info.value.code == 111
