"""The rest of Django's QuerySet API that maps to the protocol, on every backend (docs/querying.md)."""
import pytest

from leanorm.errors import BulkWriteError, ValidationError
from tests.models import Author, Post


@pytest.fixture
def three(client):
    return Post.objects.bulk_create([Post(title=f"p{i}", score=i) for i in range(3)])


def test_bulk_update_sends_only_the_listed_fields(client, three, sent):
    for post in three:
        post.score += 10
    start = len(sent)
    assert Post.objects.bulk_update(three, ["score"]) == 3
    assert len(sent) - start == 1 and sent[-1].path.endswith("/batch")
    assert sorted(Post.objects.values_list("score", flat=True)) == [10, 11, 12]
    three[0].title = "changed"
    with pytest.raises(ValueError):  # an unsaved change to a field not listed would be lost
        Post.objects.bulk_update(three, ["score"])
    three[1].score = "x"
    with pytest.raises(ValidationError):
        Post.objects.bulk_update(three[1:], ["score"])


def test_bulk_update_reports_failures_per_object(client, three):
    three[0].delete()
    for post in three:
        post.title = "t"
    with pytest.raises(BulkWriteError) as info:
        Post.objects.bulk_update(three, ["title"])
    assert [o for o, _ in info.value.failed] == [three[0]] and info.value.succeeded == three[1:]


def test_earliest_latest_and_contains(client, three):
    assert Post.objects.earliest("score") == three[0]
    assert Post.objects.latest("score") == three[2]
    assert Post.objects.latest().created_at == max(p.created_at for p in three)
    with pytest.raises(Post.DoesNotExist):
        Post.objects.filter(score__gt=10).earliest("score")
    assert Post.objects.filter(score__gte=1).contains(three[1])
    assert not Post.objects.filter(score__gte=1).contains(three[0])
    with pytest.raises(TypeError):
        Post.objects.contains(Author(name="x"))


def test_union_intersection_difference_map_to_or_and(client, three, sent):
    low, high = Post.objects.filter(score=0), Post.objects.filter(score=2)
    start = len(sent)
    assert sorted(p.score for p in low.union(high)) == [0, 2]
    assert len(sent) - start == 1  # one query with $or
    assert sorted(p.score for p in Post.objects.filter(score__gte=1).intersection(Post.objects.filter(score__lte=1))) == [1]
    assert sorted(p.score for p in Post.objects.all().difference(low, high)) == [1]
    assert list(Post.objects.none().union(Post.objects.none())) == []
    assert sorted(p.score for p in Post.objects.none().union(high)) == [2]


def test_values_with_a_pointers_fields(client, sent):
    ann = Author.objects.create(name="ann")
    Post.objects.create(title="a", author=ann, score=1)
    Post.objects.create(title="b", score=2)
    start = len(sent)
    rows = Post.objects.order_by("score").values("title", "author", "author__name")
    assert rows == [{"title": "a", "author": ann.id, "author__name": "ann"},
                    {"title": "b", "author": None, "author__name": None}]
    assert len(sent) - start == 1  # include, not a request per pointer
    assert Post.objects.values("title").count() == 2 and len(sent) - start == 2  # a count, not the rows


def test_defer_loads_the_deferred_field_on_access(client, three):
    post = Post.objects.filter(score=1).defer("title")[0]
    assert post.score == 1 and post.title == "p1"
