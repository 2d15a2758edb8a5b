"""What type checkers infer for everyday leanorm code: ``tests/typing/test_checkers.py`` runs mypy and
pyright on this file and expects no error (each ``assert_type`` is checked by both)."""
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type, Union

import arrow
from typing_extensions import assert_type

from leanorm import ACL, F, File, Q, QuerySet, User, atomic, cloud
from leanorm.query.aggregates import Avg, Count, Max, Min, Sum
from leanorm.query.values import ValuesQuery
from leanorm.live import LiveEvent, LiveQuery, MissedChanges
from leanorm.marshal import ModelSchema, model_schema
from leanorm.relations import RelationManager
from leanorm.transactions import Transaction

from .models_typed import WHEN, TypAuthor, TypPortedTodo, TypQRCode, TypLegacy, TypNote, TypNoteQuerySet, TypPost, TypTag


def check_manager_and_querysets() -> None:
    assert_type(TypPost.objects, QuerySet[TypPost])
    assert_type(TypPost.drafts().first(), Optional[TypPost])
    assert_type(TypPost.objects.all(), QuerySet[TypPost])
    qs = TypPost.objects.filter(Q(score__gte=1) | Q(tags="x"), title="a")
    assert_type(qs, QuerySet[TypPost])
    assert_type(qs.exclude(draft=True).order_by("-score").only("title"), QuerySet[TypPost])
    assert_type(qs.select_related("author").prefetch_related("labels").reverse(), QuerySet[TypPost])
    assert_type(qs[:10], QuerySet[TypPost])
    assert_type(qs[0], TypPost)
    assert_type(qs.first(), Optional[TypPost])
    assert_type(qs.last(), Optional[TypPost])
    assert_type(TypPost.objects.get(id="x"), TypPost)
    assert_type(TypPost.objects.create(title="x", editor=TypAuthor()), TypPost)
    assert_type(TypPost.objects.get_or_create(title="x")[0], TypPost)
    assert_type(TypPost.objects.get_or_create(title="x"), Tuple[TypPost, bool])
    assert_type(qs.count(), int)
    assert_type(qs.exists(), bool)
    assert_type(qs.values("title"), ValuesQuery)
    assert_type(qs.values("title")[0], Dict[str, Any])
    assert_type(qs.values_list("title", flat=True), List[Any])
    assert_type(qs.values_list("title", "score"), List[Tuple[Any, ...]])
    assert_type(TypPost.objects.in_bulk(["a"]), Dict[str, TypPost])
    assert_type(TypPost.objects.iterator(), Iterator[TypPost])
    assert_type(qs.update(score=F("score") + 1), int)
    for post in qs:
        assert_type(post, TypPost)
    assert_type([p.title for p in TypPost.objects.filter(draft=False)], List[str])


def check_aggregation_and_queryset_api(posts: List[TypPost]) -> None:
    qs = TypPost.objects.filter(draft=False)
    assert_type(qs.aggregate(total=Sum("score"), n=Count("id"), best=Max("score"), low=Min("score"),
                             avg=Avg("score")), Dict[str, Any])
    grouped = qs.values("author").annotate(n=Count("id")).filter(n__gte=2).order_by("-n")[:5]
    assert_type(grouped, ValuesQuery)
    for row in grouped:
        assert_type(row, Dict[str, Any])
    assert_type(qs.distinct("title"), List[Any])
    assert_type(qs.values("title").distinct(), ValuesQuery)
    assert_type(qs.aggregate(Sum("score"), n=Count("id")), Dict[str, Any])
    assert_type(qs.earliest("score"), TypPost)
    assert_type(qs.latest(), TypPost)
    assert_type(qs.contains(posts[0]), bool)
    assert_type(qs.union(TypPost.objects.filter(score=1)), QuerySet[TypPost])
    assert_type(qs | TypPost.objects.all(), QuerySet[TypPost])
    assert_type(qs.intersection(qs).difference(qs), QuerySet[TypPost])
    assert_type(qs.defer("title"), QuerySet[TypPost])
    assert_type(TypPost.objects.bulk_update(posts, ["score"]), int)
    assert_type(TypNote.objects.pinned().union(TypNote.objects.all()), TypNoteQuerySet)
    with atomic():
        assert_type(TypPost.objects.create(title="x", editor=TypAuthor()), TypPost)


def check_custom_manager() -> None:
    assert_type(TypNote.objects, TypNoteQuerySet)
    assert_type(TypNote.objects.filter(id="x").pinned(), TypNoteQuerySet)
    assert_type(TypNote.objects.pinned().order_by("id")[:3], TypNoteQuerySet)
    assert_type(TypNote.objects.pinned().first(), Optional[TypNote])
    assert_type(TypNote.objects.get(id="x"), TypNote)


def check_fields(post: TypPost) -> None:
    assert_type(post.title, str)
    assert_type(post.subtitle, Optional[str])
    assert_type(post.lang, str)
    assert_type(post.score, int)
    assert_type(post.views, Optional[int])
    assert_type(post.rating, Optional[float])
    assert_type(post.draft, bool)
    assert_type(post.published, Optional[arrow.Arrow])
    assert_type(post.stamped, arrow.Arrow)
    assert_type(post.meta, Optional[Dict[str, Any]])
    assert_type(post.tags, List[str])
    assert_type(post.counts, List[int])
    assert_type(post.anything, List[Any])
    assert_type(post.author, Optional[TypAuthor])
    assert_type(post.editor, TypAuthor)
    assert_type(post.editor.name, str)
    assert_type(post.labels, RelationManager[TypTag])
    assert_type(post.labels.all(), QuerySet[TypTag])
    assert_type(post.labels.filter(label="x").first(), Optional[TypTag])
    assert_type(post.save(), TypPost)
    assert_type(post.refresh(), TypPost)
    assert_type(post.increment("score").add_unique("tags", "x").save(), TypPost)
    if post.author is not None:
        assert_type(post.author.name, str)


def check_constructors(author: TypAuthor) -> None:
    # every field may be left out, as at runtime (``required`` is checked on save)
    assert_type(TypPost(), TypPost)
    assert_type(TypPost(title="x", subtitle=None, score=F("score") + 1, tags=["a"], author=author,
                        published=WHEN, acl=ACL({"*": {"read": True}})), TypPost)
    assert_type(TypNote(pinned=True), TypNote)
    assert_type(User(username="ann", email=None), User)
    assert_type(File("a.txt", b"x"), File)
    assert_type(TypLegacy().title, str)


def check_writes(post: TypPost, tag: TypTag) -> None:
    post.title = "new"
    post.subtitle = None
    post.score = F("score") + 1
    post.published = WHEN
    post.tags = ["a", "b"]
    post.author = TypAuthor(name="Ann")
    post.labels.add(tag)


def check_schema(post: TypPost) -> None:
    assert_type(model_schema(TypPost), Type[ModelSchema[TypPost]])
    assert_type(model_schema(TypPost)().load_instance({"title": "x"}), TypPost)
    assert_type(model_schema(TypPost)(instance=post, partial=True).load_instance({}), TypPost)


def check_file_subclass() -> None:
    qr = TypQRCode("qr.png", b"png")  # File's constructor, kept by the subclass
    assert_type(qr, TypQRCode)
    assert_type(qr.save(), TypQRCode)
    assert_type(qr.label, Optional[str])
    assert_type(TypQRCode.objects.get(id="x"), TypQRCode)
    assert_type(TypQRCode.objects.filter(label="a").first(), Optional[TypQRCode])
    assert_type(TypQRCode.create_with_url("a.png", "https://example.com/a.png"), TypQRCode)
    assert_type(File.objects.get(id="x"), File)


def check_compat_mixin(todo: TypPortedTodo) -> None:
    assert_type(todo.title, Optional[str])
    assert_type(todo.get("title"), Any)
    assert_type(todo.set("title", "x"), TypPortedTodo)
    assert_type(todo.set({"title": "x", "done": True}).save(), TypPortedTodo)
    assert_type(todo.dump(), Dict[str, Any])
    assert_type(todo.fetch(), TypPortedTodo)
    assert_type(todo.has("title"), bool)
    assert_type(TypPortedTodo.objects.get(id="x"), TypPortedTodo)
    assert_type(TypPortedTodo(title="x"), TypPortedTodo)


async def check_async_api(post: TypPost, tag: TypTag) -> None:
    assert_type(await TypPost.objects.afirst(), Optional[TypPost])
    assert_type(await TypPost.objects.filter(draft=True).alast(), Optional[TypPost])
    assert_type(await TypPost.objects.aget(id="x"), TypPost)
    assert_type(await TypPost.objects.acount(), int)
    assert_type(await TypPost.objects.aexists(), bool)
    assert_type(await TypPost.objects.acreate(title="x", editor=TypAuthor()), TypPost)
    assert_type(await TypPost.objects.aget_or_create(title="x"), Tuple[TypPost, bool])
    assert_type(await TypPost.objects.aupdate_or_create(title="x"), Tuple[TypPost, bool])
    assert_type(await TypPost.objects.abulk_create([post]), List[TypPost])
    assert_type(await TypPost.objects.ain_bulk(["a"]), Dict[str, TypPost])
    assert_type(await TypPost.objects.aupdate(score=F("score") + 1), int)
    assert_type(await TypPost.objects.adelete(), int)
    assert_type(await TypNote.objects.pinned().afirst(), Optional[TypNote])
    async for one in TypPost.objects.filter(draft=False):
        assert_type(one, TypPost)
    async for streamed in TypPost.objects.aiterator(chunk_size=10):
        assert_type(streamed, TypPost)
    assert_type(await post.asave(), TypPost)
    assert_type(await post.arefresh(), TypPost)
    assert_type(await post.adelete(), None)
    assert_type(await post.labels.aadd(tag), None)
    async for label in post.labels:
        assert_type(label, TypTag)
    assert_type(await User.alogin("ann", "pw"), User)
    assert_type(await User.asignup("ann", "pw"), User)
    assert_type(await User.acurrent(), Optional[User])
    assert_type(await File("a.txt", b"x").asave(), File)
    assert_type(await cloud.arun("hello"), Any)
    assert_type(await TypPost.objects.avalues("title"), List[Dict[str, Any]])
    assert_type(await TypPost.objects.avalues_list("title", flat=True), List[Any])
    assert_type(await TypPost.objects.avalues_list("title", "score"), List[Tuple[Any, ...]])
    async for event in TypPost.objects.filter(draft=False).live():
        assert_type(event, Union[LiveEvent[TypPost], MissedChanges])
        if not isinstance(event, MissedChanges):
            assert_type(event.instance, TypPost)
            assert_type(event.original, Optional[TypPost])
    assert_type(await TypPost.objects.live(watch=["score"]), LiveQuery[TypPost])
    # a dict of the names given: Python's types cannot make keyword names a TypedDict's keys
    assert_type(await TypPost.objects.aaggregate(total=Sum("score"), n=Count("id")), Dict[str, Any])
    async for row in TypPost.objects.values("author").annotate(n=Count("id")):
        assert_type(row, Dict[str, Any])
    assert_type(await TypPost.objects.adistinct("title"), List[Any])
    assert_type(await TypPost.objects.aearliest("score"), TypPost)
    assert_type(await TypPost.objects.alatest(), TypPost)
    assert_type(await TypPost.objects.acontains(post), bool)
    assert_type(await TypPost.objects.abulk_update([post], ["score"]), int)
    assert_type(await TypNote.objects.pinned().aearliest(), TypNote)
    async with atomic() as block:
        assert_type(block, Transaction)
        assert_type(await TypPost.objects.acreate(title="x", editor=TypAuthor()), TypPost)
    with atomic() as sync_block:
        assert_type(sync_block, Transaction)
