"""Batch writes and streaming: round trips counted, partial failures reported per object."""
import json

import pytest

from leanorm.errors import BulkWriteError, ValidationError
from tests.models import Post


def test_bulk_create_is_chunked_to_the_batch_limit(client, sent):
    start = len(sent)
    posts = Post.objects.bulk_create([Post(title=f"p{i}", score=i) for i in range(120)])
    assert len(sent) - start == 3  # 50 + 50 + 20
    assert all(r.path.endswith("/batch") for r in sent[start:])
    assert all(p.id for p in posts) and len({p.id for p in posts}) == 120
    assert Post.objects.count() == 120
    assert sorted(Post.objects.values_list("score", flat=True)) == list(range(120))


def test_bulk_create_validates_everything_before_sending(client):
    before = client.request_count
    with pytest.raises(ValidationError) as info:
        Post.objects.bulk_create([Post(title="ok"), Post(title=None), Post(title="x", score="y")])
    assert set(info.value.errors) == {"[1].title", "[2].score"}
    assert client.request_count == before and Post.objects.count() == 0


def test_bulk_create_reports_partial_failure_per_object(client):
    first = Post(title="typed")
    first["legacy"] = 1
    first.save()
    good1, bad, good2 = Post(title="a"), Post(title="b"), Post(title="c")
    bad["legacy"] = "not a number"  # the server's schema says Number: this item fails alone
    with pytest.raises(BulkWriteError) as info:
        Post.objects.bulk_create([good1, bad, good2])
    err = info.value
    assert err.succeeded == [good1, good2] and [o for o, _ in err.failed] == [bad]
    assert err.failed[0][1].code == 111
    assert good1.id and good2.id and bad.id is None
    assert sorted(Post.objects.values_list("title", flat=True)) == ["a", "c", "typed"]


def test_iterator_streams_by_cursor_without_skip(client, sent):
    Post.objects.bulk_create([Post(title=f"p{i}", score=i % 7) for i in range(230)])
    start = len(sent)
    seen = [p.score for p in Post.objects.filter(score__lt=5).iterator(chunk_size=50)]
    assert len(seen) == len([i for i in range(230) if i % 7 < 5])
    queries = sent[start:]
    assert all("skip" not in r.params for r in queries)
    assert len(queries) == -(-len(seen) // 50) + (1 if len(seen) % 50 == 0 else 0)
    ids = [p.id for p in Post.objects.iterator(chunk_size=100)]
    assert len(ids) == 230 == len(set(ids)) and ids == sorted(ids)


def test_unsliced_queryset_returns_everything_across_pages(client, sent):
    Post.objects.bulk_create([Post(title=f"p{i}") for i in range(1005)])
    start = len(sent)
    assert len(list(Post.objects.all())) == 1005
    pages = [json.loads(json.dumps(r.params)) for r in sent[start:]]
    assert [p.get("skip") for p in pages] == [None, "1000"]


def test_bulk_update_sends_a_queued_operation_as_the_operation(client):
    """``post.score = F("score") + 1`` (or ``increment``) then ``bulk_update([post], ["score"])``: the
    server applies the Increment, as ``save()`` would; sending the local result instead silently undid
    another client's write made in between."""
    from leanorm import F
    post, other = Post.objects.create(title="a", score=0), Post.objects.create(title="b", score=0, tags=["x"])
    for target in (post, other):  # another client's writes, unseen by the instances
        client.request("PUT", f"classes/Post/{target.id}", body={"score": 10})
    post.score = F("score") + 1
    other.increment("score", 5).add("tags", "y")
    assert Post.objects.bulk_update([post, other], ["score", "tags"]) == 2
    stored = dict(Post.objects.values_list("title", "score"))
    assert stored == {"a": 11, "b": 15}
    assert Post.objects.get(title="b").refresh().tags == ["x", "y"]
    assert not post.is_dirty and not other.is_dirty
