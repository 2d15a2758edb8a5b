"""What code ported from the LeanCloud SDK reaches for first (issue 11, "Porting code")."""
from __future__ import annotations

import datetime
import io
from typing import Iterator

import pytest

import leanorm
from leanorm import ACL, File, Model, PointerField, RelationField, StringField
from leanorm.compat import LeanCloudObjectMixin
from leanorm.errors import FieldError, ValidationError


class PortAuthor(Model):
    name = StringField()


class PortBook(Model):
    title = StringField()
    author = PointerField(PortAuthor)
    fans = RelationField(PortAuthor)
    cover = leanorm.FileField()


@pytest.fixture
def client() -> Iterator[leanorm.Client]:
    client = leanorm.connect("local://:memory:", default=False)
    with leanorm.using(client):
        yield client
    client.close()


def test_pointer_by_id_is_saved_without_a_fetch(client: leanorm.Client) -> None:
    book = PortBook.objects.create(title="draft")
    client.identity_map.clear()
    sent = []
    original = client._send

    def counting(request, json_answer=True):  # type: ignore[no-untyped-def]
        sent.append((request.method, request.path))
        return original(request, json_answer)

    client._send = counting  # type: ignore[method-assign]
    ref = PortBook.pointer(book.id)
    ref.title = "final"
    ref.save()
    assert [method for method, _ in sent] == ["PUT"]  # no GET before the update
    client._send = original  # type: ignore[method-assign]
    assert PortBook.objects.get(id=book.id).title == "final"
    with pytest.raises(ValueError):
        PortBook.pointer("")


def test_pointer_fields_take_an_id_and_constructors_take_acl(client: leanorm.Client) -> None:
    author = PortAuthor.objects.create(name="Ann")
    book = PortBook.objects.create(title="t", author=author.id, acl=ACL({"*": {"read": True}}))
    client.identity_map.clear()
    with leanorm.using_master():
        stored = client.request("GET", f"classes/PortBook/{book.id}")
    assert stored["author"] == {"__type": "Pointer", "className": "PortAuthor", "objectId": author.id}
    assert stored["ACL"] == {"*": {"read": True}}
    assert PortBook(title="x", acl=ACL({"*": {"read": True}})).acl.get_public_read_access()


def test_relation_first(client: leanorm.Client) -> None:
    book = PortBook.objects.create(title="t")
    assert book.fans.first() is None
    ann, bob = PortAuthor.objects.create(name="Ann"), PortAuthor.objects.create(name="Bob")
    book.fans.add(ann, bob)
    assert book.fans.first() == min((ann, bob), key=lambda a: a.id)


def test_an_unsaved_file_is_refused_naming_file_save(client: leanorm.Client) -> None:
    with pytest.raises(ValidationError, match=r"File\.save\(\)"):
        PortBook.objects.create(title="t", cover=File("a.txt", io.BytesIO(b"a")))


def test_wire_names_in_filters_say_which_field(client: leanorm.Client) -> None:
    for query in (lambda: PortBook.objects.filter(createdAt__gt="2020-01-01").count(),
                  lambda: list(PortBook.objects.order_by("-createdAt"))):
        with pytest.raises(FieldError, match="use created_at"):
            query()


def test_sdk_method_names_point_at_leanorm(client: leanorm.Client) -> None:
    book = PortBook.objects.create(title="t")
    for name, equivalent in (("fetch", "refresh()"), ("destroy", "delete()"), ("get", "obj['key']"),
                             ("set", "assignment")):
        with pytest.raises(AttributeError, match=equivalent.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                           .replace("]", r"\]")):
            getattr(book, name)
    assert not hasattr(book, "no_such_thing")


def test_a_loaded_pointer_shows_its_id(client: leanorm.Client) -> None:
    author = PortAuthor.objects.create(name="Ann")
    book = PortBook.objects.create(title="t", author=author)
    client.identity_map.clear()
    assert repr(PortBook.objects.get(id=book.id).author) == f"<PortAuthor id={author.id!r}>"


class PortTodo(LeanCloudObjectMixin):
    """A ported model that keeps the SDK's get/set/dump for its templates."""

    title = StringField()
    due = leanorm.DateTimeField()
    author = PointerField(PortAuthor)
    cover = leanorm.FileField()


def test_the_compat_mixin_answers_the_sdks_object_methods(client: leanorm.Client) -> None:
    """Issue 19 §7: ported templates call obj.get('x'); Jinja swallows an AttributeError, so the mixin
    answers get/set/dump as the SDK did (opt-in: plain models still point at attributes)."""
    ann = PortAuthor.objects.create(name="Ann")
    cover = leanorm.File("c.txt", b"cover").save()
    todo = PortTodo().set({"title": "write", "due": datetime.datetime(2026, 1, 31, 8, 0, tzinfo=datetime.timezone.utc),
                           "author": ann, "cover": cover, "legacyFlag": True})
    todo.set("title", "write more").save()
    loaded = PortTodo.objects.get(id=todo.id).fetch()
    assert (loaded.get("title"), loaded.get("legacyFlag"), loaded.get("missing", "-")) == ("write more", True, "-")
    assert loaded.get("objectId") == loaded.id and loaded.get("createdAt") == loaded.created_at
    assert loaded.get("author").name == "Ann" and loaded.has("cover") and not loaded.has("missing")
    dumped = loaded.dump()
    assert dumped["title"] == "write more" and dumped["legacyFlag"] is True
    assert dumped["due"] == {"__type": "Date", "iso": "2026-01-31T08:00:00.000Z"}
    assert dumped["author"] == {"__type": "Pointer", "className": "PortAuthor", "objectId": ann.id}
    assert dumped["cover"]["__type"] == "File" and dumped["cover"]["url"] == cover.url
    assert dumped["objectId"] == todo.id and dumped["createdAt"].endswith("Z") and "T" in dumped["createdAt"]
    with pytest.raises(AttributeError, match="the field's attribute"):
        PortBook().get("title")  # plain models are unchanged


def test_a_pointer_field_refuses_a_string_that_is_not_an_object_id(client: leanorm.Client) -> None:
    """Issue 19 §7: a mistyped id (a name, a URL) used to be stored as a dangling pointer, surfacing only
    on a later read. Its form is checked at assignment; existence is not (no round trip)."""
    book = PortBook(title="t")
    for wrong in ("Ann Author", "", "authors/abc", "x" * 65):
        with pytest.raises(ValidationError, match="not an objectId"):
            book.author = wrong  # type: ignore[assignment]
    book.author = "a1b2c3d4e5"  # type: ignore[assignment]  # the form of an id: accepted without a request
    assert book.author is not None and book.author.id == "a1b2c3d4e5"
