"""A small blog on leanorm: authors, posts, tags, places — runs offline on the embedded backend.

    python examples/blog.py

With no configuration it keeps its data in ./leanorm.sqlite3; set LEANORM_URL to run the same code
against Parse Server (parse://...) or LeanCloud (leancloud://...).
"""
import os
from typing import Optional

import arrow

import leanorm
from leanorm import (DateTimeField, F, GeoPoint, GeoPointField, IntegerField, ListField, Model, PointerField, Q,
                     StringField, signals)


# Each field is annotated with its class and the type it reads, so that mypy and pyright check the
# keywords of Post(...) as well as every read and write (docs/models.md).
class Author(Model):
    name: StringField[str] = StringField(required=True, max_length=100)
    city: StringField[Optional[str]] = StringField()


class Post(Model):
    title: StringField[str] = StringField(required=True)
    score: IntegerField[int] = IntegerField(default=0, min_value=0)
    tags: ListField[list[str]] = ListField(StringField())
    published_at: DateTimeField[Optional[arrow.Arrow]] = DateTimeField(db_field="publishedAt")
    author: PointerField[Author] = PointerField(Author, required=True)
    place: GeoPointField[Optional[GeoPoint]] = GeoPointField()


@signals.before_save.connect_via(Post)
def stamp_publication(sender, instance, **kw):
    """Mirror of a server beforeSave hook: new posts get a publication date."""
    if instance.published_at is None:
        instance.published_at = arrow.utcnow()


def main() -> None:
    # LEANORM_URL when it is set, else the embedded backend in ./leanorm.sqlite3, named (connect() with no
    # URL at all would warn that it picked that file)
    client = leanorm.connect(os.environ.get("LEANORM_URL", "local://leanorm.sqlite3"))
    print(f"backend: {client.backend} ({client.url})")

    # start from a clean slate so the example can run again and again
    removed = Post.objects.all().delete() + Author.objects.all().delete()
    print(f"removed {removed} objects left by an earlier run")

    ann = Author.objects.create(name="Ann", city="Beijing")
    bob = Author.objects.create(name="Bob", city="Shanghai")
    Post.objects.bulk_create([
        Post(title="Hello, leanorm", tags=["intro", "python"], author=ann, place=GeoPoint(39.91, 116.40)),
        Post(title="Queries like Django", score=5, tags=["python", "orm"], author=ann),
        Post(title="Parse Server migration", score=8, tags=["parse", "ops"], author=bob,
             place=GeoPoint(31.23, 121.47)),
        Post(title="Geo lookups", score=3, tags=["geo"], author=bob, place=GeoPoint(22.54, 114.06)),
    ])
    print(f"created {Author.objects.count()} authors and {Post.objects.count()} posts in one batch")

    print("\nposts tagged 'python', best first:")
    for post in Post.objects.filter(tags="python").order_by("-score"):
        print(f"  {post.score:>2}  {post.title}")

    print("\nposts by authors from Shanghai (author__city, one $inQuery request):")
    for post in Post.objects.filter(author__city="Shanghai").select_related("author"):
        print(f"  {post.title} — {post.author.name}")

    print("\nscore >= 5 or tagged 'geo', excluding Bob's 'ops' posts:")
    qs = Post.objects.filter(Q(score__gte=5) | Q(tags="geo")).exclude(tags="ops")
    print("  " + ", ".join(sorted(p.title for p in qs)))

    post = Post.objects.get(title="Hello, leanorm")
    post.increment("score", 2)
    post.add_unique("tags", "welcome")
    post.save()
    Post.objects.filter(author=bob).update(score=F("score") + 1)
    print(f"\natomic updates: '{post.title}' score={post.score} tags={post.tags}")
    print("Bob's scores after update(score=F('score') + 1):",
          sorted(Post.objects.filter(author=bob).values_list("score", flat=True)))

    here = GeoPoint(30.0, 120.0)
    print(f"\nposts with a place, nearest to {here} first:")
    for post in Post.objects.filter(place__near=here):
        assert post.place is not None  # the query matched it by its place
        print(f"  {post.place.kilometers_to(here):7.1f} km  {post.title}")
    print("within 500 km:", [p.title for p in Post.objects.filter(place__within_km=(here, 500))])

    try:
        Post(score=-1).save()  # no title, and a score below its minimum
    except leanorm.errors.ValidationError as exc:
        print(f"\nvalidation before any request: {exc}")

    print(f"\nround trips to the backend: {client.request_count}")


if __name__ == "__main__":
    main()
