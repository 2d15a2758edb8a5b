"""select_related: pointed objects arrive with the query, in the same single request."""
import uuid

import pytest

from leanorm import File, FileField, Model, StringField
from leanorm.errors import FieldError
from tests.models import Author, Post

POSTS = 120  # more than the slice, so the slice must travel as limit=100
AUTHORS = 7


@pytest.fixture
def authored_posts(client):
    authors = Author.objects.bulk_create([Author(name=f"author {i}", age=20 + i) for i in range(AUTHORS)])
    Post.objects.bulk_create([Post(title=f"post {i:03d}", score=i, author=authors[i % AUTHORS])
                              for i in range(POSTS)])
    client.identity_map.clear()  # nothing may be answered from objects this test created
    return {a.id: a.name for a in authors}


def test_select_related_slice_and_every_author_name_is_one_request(client, sent, authored_posts):
    start = len(sent)
    posts = Post.objects.select_related("author")[:100]
    names = [post.author.name for post in posts]
    assert len(sent) == start + 1
    (request,) = sent[start:]
    assert request.method == "GET" and request.path.endswith("/classes/Post")
    assert request.params["include"] == "author" and request.params["limit"] == "100"
    assert len(names) == 100
    expected = {post.id: authored_posts[post.author.id] for post in posts}
    assert names == [expected[post.id] for post in posts]
    assert len(sent) == start + 1  # the checks above read only what had arrived


def test_select_related_fills_pointer_stubs_already_mapped(client, sent, authored_posts):
    stubs = [post.author for post in Post.objects.order_by("score")[:100]]  # pointers: not loaded
    assert all(stub._deferred for stub in stubs)
    start = len(sent)
    posts = list(Post.objects.order_by("score").select_related("author")[:100])
    assert [post.author for post in posts] == stubs
    assert all(post.author is stub for post, stub in zip(posts, stubs))  # one instance per object
    assert [post.author.name for post in posts] == [authored_posts[stub.id] for stub in stubs]
    assert len(sent) == start + 1


def test_without_select_related_each_author_loads_once(client, sent, authored_posts):
    start = len(sent)
    names = {post.author.name for post in Post.objects.all()[:100]}
    assert names == set(authored_posts.values())
    # one request for the page, then one per distinct author (the identity map shares each stub)
    assert len(sent) == start + 1 + AUTHORS
    assert sent[start].params["limit"] == "100" and "include" not in sent[start].params


class Attachment(Model):
    title = StringField()
    attachment = FileField()


def test_select_related_of_a_file_field_reads_the_file_in_the_same_request(client, sent):
    """Issue 19 §7: ported code includes its file fields (``query.include("attachment")``); the file's
    name, url and size then need no other request."""
    stored = File("notes.txt", b"some notes").save()
    title = uuid.uuid4().hex  # Parse Server keeps the class between runs
    Attachment.objects.create(title=title, attachment=stored)
    client.identity_map.clear()
    start = len(sent)
    (found,) = Attachment.objects.select_related("attachment").filter(title=title)
    assert (found.attachment.name.endswith("notes.txt"), found.attachment.url) == (True, stored.url)
    assert len(sent) == start + 1
    with pytest.raises(FieldError, match="not a PointerField or FileField"):
        Attachment.objects.select_related("title")
