"""Full-text search (``field__search``) and ``field__contained_by``, on every backend: the objects that
come back where the backend has them, ``NotSupported`` naming the backend where it has not."""
import pytest

from leanorm import TextSearch
from leanorm.errors import NotSupported
from tests.models import Post


@pytest.fixture
def posts(client):
    rows = [("Coffee shopping", ["py", "orm"]), ("Baking a cake", ["py"]), ("Café con leche", []),
            ("coffee and cream", ["go", "db"]), ("Cafe con leche", ["py", "rust"])]
    return [Post.objects.create(title=title, tags=tags) for title, tags in rows]


def titles(qs):
    return sorted(p.title for p in qs)


@pytest.mark.parametrize("search, expected", [
    ("coffee", ["Coffee shopping", "coffee and cream"]),
    ("bake", ["Baking a cake"]),  # by stems
    (TextSearch("leche", language="spanish"), ["Cafe con leche", "Café con leche"]),
    (TextSearch("CAFÉ", diacritic_sensitive=True), ["Café con leche"]),
])
def test_search_finds_texts_by_their_words(client, posts, search, expected):
    qs = Post.objects.filter(title__search=search)
    if not client.supports("text_search"):
        with pytest.raises(NotSupported):
            list(qs)
        return
    assert titles(qs) == expected


def test_search_needs_text(client):
    with pytest.raises(Exception, match="search needs a string"):
        Post.objects.filter(title__search=3).where(client)


def test_contained_by_keeps_arrays_within_the_values(client, posts):
    qs = Post.objects.filter(tags__contained_by=["py", "orm", "js"])
    if not client.supports("contained_by"):
        with pytest.raises(NotSupported):
            list(qs)
        return
    assert titles(qs) == ["Baking a cake", "Café con leche", "Coffee shopping"]  # [] is contained by any list
