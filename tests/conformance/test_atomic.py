"""``with leanorm.atomic():`` on every backend: one transactional batch, all or nothing; NotSupported at
the first write where the backend has no transactional batch."""
import pytest

import leanorm
from leanorm.errors import NotSupported, TransactionFailed
from tests.conftest import BACKENDS
from tests.models import Author, Post


@pytest.fixture(params=[*BACKENDS, "served-parse"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every backend, and ``leanorm serve`` in the Parse dialect too (which has a transactional batch)."""
    return request.param


def _transactional(client):
    return client.supports("transactions")


def _bad_post(title="bad"):
    post = Post(title=title)
    post["legacy"] = "not a number"  # the stored schema says Number: the server refuses this item
    return post


@pytest.fixture
def typed(client):
    first = Post(title="typed")
    first["legacy"] = 1
    first.save()
    return first


def test_block_is_one_batch_sent_at_the_end(client, sent):
    if not _transactional(client):
        with pytest.raises(NotSupported), leanorm.atomic():
            Post.objects.create(title="a")
        assert Post.objects.count() == 0
        return
    start = len(sent)
    with leanorm.atomic():
        a = Post.objects.create(title="a", score=1)
        b = Post(title="b")
        b.save()
        assert a.id is None and b.id is None and len(sent) == start  # queued, nothing sent yet
        assert Post.objects.count() == 0  # reads see the database, not the queued writes
    assert len(sent) - start == 2  # the count, then ONE batch
    assert '"transaction":true' in sent[-1].body.decode()
    assert a.id and b.id
    assert sorted(Post.objects.values_list("title", flat=True)) == ["a", "b"]


def test_a_failing_item_stores_nothing(client, typed):
    if not _transactional(client):
        pytest.skip("no transactional batch")
    keep = Post.objects.create(title="keep", score=1)
    with pytest.raises(TransactionFailed) as info:
        with leanorm.atomic():
            created = Post.objects.create(title="c")
            bad = _bad_post()
            bad.save()
            keep.score = 5
            keep.save()
            Post.objects.filter(title="typed").delete()
    assert [obj for obj, _ in info.value.failed] == [created, bad, keep, typed]
    assert Post.objects.count() == 2 and Post.objects.get(id=keep.id).score == 1
    assert created.id is None and bad.id is None
    if client.backend == "embedded":  # the embedded backend says which item failed
        assert info.value.failed[1][1].code == 111


def test_an_exception_in_the_block_sends_nothing(client, sent):
    start = len(sent)
    with pytest.raises(RuntimeError):
        with leanorm.atomic():
            if _transactional(client):
                Post.objects.create(title="x")
            raise RuntimeError("boom")
    assert len(sent) == start and Post.objects.count() == 0


def test_nested_blocks_and_bulk_writes_are_one_transaction(client, typed):
    if not _transactional(client):
        pytest.skip("no transactional batch")
    ann = Author.objects.create(name="ann")
    with leanorm.atomic():
        Post.objects.bulk_create([Post(title="p1"), Post(title="p2")])
        with leanorm.atomic():
            Post.objects.filter(title="typed").update(score=7)
            ann.delete()
    assert sorted(Post.objects.values_list("title", "score")) == [("p1", 0), ("p2", 0), ("typed", 7)]
    assert Author.objects.count() == 0
    with pytest.raises(TransactionFailed):
        with leanorm.atomic():
            with leanorm.atomic():
                Post.objects.bulk_create([Post(title="p3")])
            _bad_post().save()
    assert Post.objects.count() == 3


def test_requests_that_cannot_join_are_refused(client):
    if not _transactional(client):
        pytest.skip("no transactional batch")
    post = Post.objects.create(title="p")
    with pytest.raises(NotSupported), leanorm.atomic():
        post.score = 3
        post.save(where=leanorm.Q(score=0))  # a conditional write carries a query parameter
    before = client.request_count
    with pytest.raises(NotSupported), leanorm.atomic():
        client.request("POST", "functions/hello", body={})
    assert client.request_count == before
    with leanorm.atomic():  # a batch of reads (what prefetch_related sends) is no write: it is sent
        found = client.batch([("GET", f"classes/Post/{post.id}", None)])
    assert found[0]["objectId"] == post.id


def test_changes_of_an_abandoned_block_never_reach_the_server_later(client):
    if not _transactional(client):
        pytest.skip("no transactional batch")
    post = Post.objects.create(title="p", score=1)
    with pytest.raises(RuntimeError):
        with leanorm.atomic():
            Post.objects.filter(id=post.id).update(score=leanorm.F("score") + 5)  # queued on the mapped instance
            raise RuntimeError("abandon the block")
    post.title = "renamed"
    post.save()  # sends only what this save changes, not the abandoned increment
    assert Post.objects.filter(id=post.id).values_list("title", "score") == [("renamed", 1)]


def test_an_inner_block_ended_by_an_exception_undoes_the_whole_transaction(client):
    """Without savepoints an inner block cannot be undone alone: its exception, even when the outer block
    catches it, abandons the whole transaction (never commits the writes the inner block queued)."""
    if not _transactional(client):
        pytest.skip("no transactional batch")
    with pytest.raises(TransactionFailed) as info:
        with leanorm.atomic():
            outer = Post.objects.create(title="outer")
            try:
                with leanorm.atomic():
                    inner = Post.objects.create(title="inner")
                    raise RuntimeError("inner failure")
            except RuntimeError:
                pass
            with pytest.raises(leanorm.errors.LeanORMError, match="inner atomic"):
                Post.objects.create(title="after")  # the transaction is lost already: refused, not queued
    assert "inner failure" in str(info.value)
    assert [obj for obj, _ in info.value.failed] == [outer, inner]
    assert outer.id is None and inner.id is None
    assert Post.objects.count() == 0
    with leanorm.atomic():  # the next block works
        Post.objects.create(title="next")
    assert Post.objects.values_list("title", flat=True) == ["next"]
