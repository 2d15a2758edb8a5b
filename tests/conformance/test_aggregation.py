"""Aggregation (aggregate, values().annotate(), distinct) on every backend: computed by the server's
aggregate pipeline, master key only, NotSupported where the backend has no aggregate endpoint."""
import pytest

import leanorm
from leanorm.errors import FieldError, NotSupported
from leanorm.query.aggregates import Avg, Count, Max, Min, Sum
from tests.models import Author, Post


def _has_aggregate(client):
    return client.supports("aggregate")


@pytest.fixture
def posts(client):
    ann, bob = Author.objects.create(name="ann"), Author.objects.create(name="bob")
    rows = [("t0", 1, ann), ("t1", 2, ann), ("t0", 3, bob), ("t1", 4, ann), ("t0", 10, None)]
    Post.objects.bulk_create([Post(title=t, score=s, author=a, active=s % 2 == 0, rating=s / 2)
                              for t, s, a in rows])
    return ann, bob


def test_aggregate_returns_each_declared_name(client, posts, sent):
    if not _has_aggregate(client):
        with pytest.raises(NotSupported), leanorm.using_master():
            Post.objects.aggregate(n=Count("id"))
        return
    start = len(sent)
    with leanorm.using_master():
        got = Post.objects.aggregate(total=Sum("score"), n=Count("id"), best=Max("score"), low=Min("score"),
                                     avg=Avg("score"))
    assert got == {"total": 20, "n": 5, "best": 10, "low": 1, "avg": 4.0}
    assert len(sent) - start == 1 and "/aggregate/Post" in sent[start].path  # one request, no object loaded


def test_aggregate_needs_using_master_and_never_escalates(client, posts):
    before = client.request_count
    with pytest.raises(NotSupported) as info:
        Post.objects.aggregate(n=Count("id"))
    assert client.request_count == before  # refused before sending: the master key is never sent unasked
    if _has_aggregate(client):
        assert "using_master" in str(info.value)


def test_aggregate_of_nothing(client, posts):
    if not _has_aggregate(client):
        pytest.skip("no aggregate endpoint")
    with leanorm.using_master():
        assert Post.objects.none().aggregate(n=Count("id"), total=Sum("score")) == {"n": 0, "total": None}
        if client.supports("aggregate_full_match"):
            assert Post.objects.filter(score__gt=100).aggregate(n=Count("id"), total=Sum("score")) == \
                {"n": 0, "total": None}
            assert Post.objects.filter(score__gte=3).aggregate(total=Sum("score")) == {"total": 17}
        else:  # Parse Server on PostgreSQL fails a $match beside a group of everything: refused, unsent
            with pytest.raises(NotSupported):
                Post.objects.filter(score__gte=3).aggregate(total=Sum("score"))


def test_aggregate_refuses_what_it_cannot_compute(client):
    with pytest.raises(FieldError):
        Post.objects.aggregate(x=Sum("title"))
    with pytest.raises(NotSupported):
        Post.objects.aggregate(x=Count("title"))
    with pytest.raises(TypeError):
        Post.objects.aggregate(x="score")


def test_values_annotate_groups_by_field_and_pointer(client, posts):
    ann, bob = posts
    if not _has_aggregate(client):
        with pytest.raises(NotSupported), leanorm.using_master():
            list(Post.objects.values("author").annotate(n=Count("id")))
        return
    with leanorm.using_master():
        by_author = list(Post.objects.values("author").annotate(n=Count("id"), total=Sum("score")).order_by("-n"))
        assert by_author[0] == {"author": ann.id, "n": 3, "total": 7}
        assert sorted(by_author[1:], key=lambda g: g["n"] + g["total"]) == [
            {"author": bob.id, "n": 1, "total": 3}, {"author": None, "n": 1, "total": 10}]
        by_title = Post.objects.filter(score__gt=1).values("title").annotate(n=Count("id"), low=Min("score"))
        assert by_title.order_by("title") == [{"title": "t0", "n": 2, "low": 3}, {"title": "t1", "n": 2, "low": 2}]
        assert list(by_title.order_by("-title")[:1]) == [{"title": "t1", "n": 2, "low": 2}]
        by_flag = Post.objects.values("active").annotate(n=Count("id"), best=Max("rating")).order_by("n")
        assert by_flag == [{"active": False, "n": 2, "best": 1.5}, {"active": True, "n": 3, "best": 5.0}]
        by_both = Post.objects.values("title", "active").annotate(n=Count("id"))
        assert sorted(by_both, key=lambda g: (g["title"], g["active"])) == [
            {"title": "t0", "active": False, "n": 2}, {"title": "t0", "active": True, "n": 1},
            {"title": "t1", "active": True, "n": 2}]


def test_filter_on_an_annotation(client, posts):
    if not _has_aggregate(client):
        pytest.skip("no aggregate endpoint")
    grouped = Post.objects.values("title").annotate(n=Count("id"), best=Max("score"))
    with leanorm.using_master():
        if client.supports("aggregate_full_match"):
            assert list(grouped.filter(best__gte=5)) == [{"title": "t0", "n": 3, "best": 10}]
            assert list(grouped.filter(n=2)) == [{"title": "t1", "n": 2, "best": 4}]
        else:
            with pytest.raises(NotSupported):
                list(grouped.filter(best__gte=5))
    with pytest.raises(FieldError):
        grouped.filter(score__gt=1)


def test_distinct_values(client, posts):
    ann, bob = posts
    if not _has_aggregate(client):
        with pytest.raises(NotSupported), leanorm.using_master():
            Post.objects.distinct("title")
        return
    with leanorm.using_master():
        assert sorted(Post.objects.distinct("title")) == ["t0", "t1"]
        assert sorted(Post.objects.distinct("author")) == sorted([ann.id, bob.id])
        assert sorted(Post.objects.filter(score__lt=3).distinct("score")) == [1, 2]


def test_positional_aggregates_take_djangos_default_names(client, posts):
    """Django names ``aggregate(Sum("score"))`` ``score__sum``, and ``annotate(Count("id"))`` ``id__count``."""
    if not _has_aggregate(client):
        pytest.skip("no aggregate endpoint")
    with leanorm.using_master():
        assert Post.objects.aggregate(Sum("score"), Max("score"), n=Count("id")) == \
            {"score__sum": 20, "score__max": 10, "n": 5}
        rows = Post.objects.values("title").annotate(Count("id")).order_by("title")
        assert list(rows) == [{"title": "t0", "id__count": 3}, {"title": "t1", "id__count": 2}]


def test_annotating_objects_says_what_there_is(client):
    """Django's ``Post.objects.annotate(...)`` (a value per object) has no protocol form: a clear
    NotSupported pointing at ``values(...).annotate(...)``, not an AttributeError."""
    with pytest.raises(NotSupported, match=r"values\(.*\)\.annotate"):
        Post.objects.filter(score__gt=1).annotate(n=Count("id"))


def test_values_distinct_gives_each_combination_once(client, posts):
    """Django's ``values("title").distinct()``: the distinct rows, grouped by the server."""
    if not _has_aggregate(client):
        with pytest.raises(NotSupported), leanorm.using_master():
            list(Post.objects.values("title").distinct())
        return
    with leanorm.using_master():
        titles = Post.objects.values("title").distinct()
        assert titles.order_by("-title") == [{"title": "t1"}, {"title": "t0"}]
        assert titles.count() == 2 and list(titles.order_by("title")[:1]) == [{"title": "t0"}]
        pairs = Post.objects.values("title", "active").distinct()
        assert sorted(pairs, key=lambda g: (g["title"], g["active"])) == [
            {"title": "t0", "active": False}, {"title": "t0", "active": True}, {"title": "t1", "active": True}]


class AggShelf(leanorm.Model):
    name = leanorm.StringField()
    size = leanorm.IntegerField()
    books = leanorm.RelationField(Post)


def test_distinct_of_a_class_with_a_relation_field(client):
    """Parse Server (PostgreSQL) fails ``distinct`` on any class whose schema has a Relation field
    ("Cannot create property 'books' on string ..."): the values still come back."""
    if not _has_aggregate(client):
        pytest.skip("no aggregate endpoint")
    post = Post.objects.create(title="p")
    shelves = [AggShelf.objects.create(name=n, size=s) for n, s in (("a", 1), ("b", 2), ("a", 3), (None, 4))]
    shelves[0].books.add(post)  # the schema now has the Relation field
    with leanorm.using_master():
        try:
            assert sorted(AggShelf.objects.distinct("name")) == ["a", "b"]
            assert sorted(AggShelf.objects.filter(size__gt=1).distinct("name")) == ["a", "b"]
            assert sorted(AggShelf.objects.distinct("size")) == [1, 2, 3, 4]
        finally:
            AggShelf.objects.all().delete()
