"""The identity map and the signals."""
import pytest

import leanorm
from leanorm import signals
from tests.models import Author, Post


def test_get_by_id_twice_costs_one_request(client):
    post = Post.objects.create(title="t")
    client.identity_map.clear()
    before = client.request_count
    a = Post.objects.get(id=post.id)
    b = Post.objects.get(id=post.id)
    assert a is b and client.request_count == before + 1


def test_query_results_are_the_same_instances_and_refresh_them(client):
    post = Post.objects.create(title="t", score=1)
    client.request("PUT", f"classes/Post/{post.id}", body={"score": 2})  # another client writes
    (again,) = list(Post.objects.filter(id=post.id))
    assert again is post and post.score == 2


def test_unsaved_changes_survive_a_refreshing_query(client):
    post = Post.objects.create(title="t", score=1)
    post.title = "local edit"
    client.request("PUT", f"classes/Post/{post.id}", body={"score": 5})
    (again,) = list(Post.objects.filter(id=post.id))
    assert again is post and post.title == "local edit" and post.score == 5


def test_identity_scoped_by_auth_identity(client):
    post = Post.objects.create(title="t")
    anon = Post.objects.get(id=post.id)
    with leanorm.using_master():
        as_master = Post.objects.get(id=post.id)
    assert anon is not as_master and anon == as_master


def test_identity_map_can_be_turned_off(backend):
    from tests.conftest import make_client
    client = make_client(backend)
    client.identity_map.ttl = 0
    with leanorm.using(client):
        post = Post.objects.create(title="t")
        before = client.request_count
        Post.objects.get(id=post.id)
        Post.objects.get(id=post.id)
        assert client.request_count == before + 2


def test_signals_fire_in_order_with_the_instance(client):
    events = []

    def record(name):
        def receiver(sender, instance, **kw):
            events.append((name, sender, instance.title))
        return receiver

    receivers = {name: record(name) for name in
                 ("before_save", "after_save", "before_update", "after_update", "before_delete", "after_delete")}
    for name, fn in receivers.items():
        getattr(signals, name).connect(fn, sender=Post)
    try:
        post = Post.objects.create(title="t")
        post.title = "u"
        post.save()
        post.delete()
        Post.objects.bulk_create([Post(title="b1"), Post(title="b2")])
        Post.objects.update(score=3)
        Post.objects.all().delete()
    finally:
        for name, fn in receivers.items():
            getattr(signals, name).disconnect(fn, sender=Post)
    names = [(n, t) for n, s, t in events if s is Post]
    assert names[:6] == [("before_save", "t"), ("after_save", "t"), ("before_update", "u"),
                         ("after_update", "u"), ("before_delete", "u"), ("after_delete", "u")]
    rest = names[6:]
    assert rest.count(("before_save", "b1")) == 1 and rest.count(("after_save", "b2")) == 1
    assert sorted(n for n, _ in rest if n.endswith("update")) == ["after_update"] * 2 + ["before_update"] * 2
    assert sorted(n for n, _ in rest if n.endswith("delete")) == ["after_delete"] * 2 + ["before_delete"] * 2


def test_before_save_receivers_fill_required_fields_for_bulk_create_too(client):
    def title_from_score(sender, instance, **kw):
        if instance.title is None:
            instance.title = f"untitled {instance.score}"

    signals.before_save.connect(title_from_score, sender=Post)
    try:
        Post.objects.create(score=1)
        Post.objects.bulk_create([Post(score=2), Post(score=3)])
    finally:
        signals.before_save.disconnect(title_from_score, sender=Post)
    assert sorted(Post.objects.values_list("title", flat=True)) == ["untitled 1", "untitled 2", "untitled 3"]


def test_exception_in_before_receiver_aborts_the_write(client):
    def refuse(sender, instance, **kw):
        raise PermissionError("no drafts")

    signals.before_save.connect(refuse, sender=Author)
    try:
        before = client.request_count
        with pytest.raises(PermissionError):
            Author.objects.create(name="x")
        assert client.request_count == before
    finally:
        signals.before_save.disconnect(refuse, sender=Author)
    assert Author.objects.count() == 0


def test_post_init_fires_for_new_and_loaded_instances(client):
    seen = []
    signals.post_init.connect(lambda sender, instance: seen.append(sender), sender=Author, weak=False)
    try:
        a = Author.objects.create(name="x")
        client.identity_map.clear()
        Author.objects.get(id=a.id)
    finally:
        signals.post_init.receivers.clear()
    assert seen.count(Author) == 2
