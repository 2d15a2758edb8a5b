"""Deliberate mistakes: ``tests/typing/test_checkers.py`` expects mypy and pyright to report an error on
exactly the lines marked ``# E``, and on no other line."""
from leanorm import F
from leanorm.marshal import model_schema

from .models_typed import TypAuthor, TypLegacy, TypPost, TypTag


def mistakes(post: TypPost, tag: TypTag) -> None:
    TypPost.objects.fitler(title="x")  # E
    TypPost.objects.filter(title="x").frist()  # E
    post.score = "high"  # E
    post.title = None  # E
    post.tags = [1, 2]  # E
    post.author = tag  # E
    post.labels = [tag]  # E
    post.labels.add(TypAuthor())  # E
    post.nonexistent  # E
    len(post.subtitle)  # E
    post.author.name  # E
    TypPost.objects.first().title  # E
    TypPost.objects.values_list("title", "score", flat=True)  # E
    model_schema(TypPost)(instance=tag)  # E
    TypPost(titel="x")  # E
    TypPost(score="high")  # E
    TypPost(author=tag)  # E
    TypPost(labels=[tag])  # E
    TypAuthor(name=None)  # E
    TypLegacy(title="x")  # E
    post.get("title")  # E
    TypPost.objects.aggregate(total="score")  # E
    TypPost.objects.update(score=F("score") * 2)  # E
    TypPost.objects.values("author").annotate(n=len)  # E
    TypPost.objects.filter(draft=True).contains(tag)  # E
    TypPost.objects.union(TypAuthor.objects.all())  # E


async def async_mistakes(post: TypPost, tag: TypTag) -> None:
    (await TypPost.objects.afirst()).title  # E
    TypPost.objects.afirst().title  # E
    await TypPost.objects.filter(draft=True).acontains(tag)  # E
    await TypPost.objects.aaggregate(total="score")  # E
    await TypPost.objects.avalues_list("title", "score", flat=True)  # E
    async with TypPost.objects.all():  # E
        pass
