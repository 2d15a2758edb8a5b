"""Moving data: from an embedded backend to every backend, objects keep their ids, pointers, relation
members, ACLs and every wire type."""
import uuid

import arrow

import leanorm
from leanorm import ACL, GeoPoint, RelationField
from leanorm.migrate import copy_all
from tests.models import Author, Org, Post


class Shelf(leanorm.Model):
    label = leanorm.StringField()
    authors = RelationField(Author)

    class Meta:
        class_name = "MigShelf"


def test_copy_all_keeps_everything_a_model_holds(client, sent):
    source = leanorm.connect("local://:memory:", default=False)
    with leanorm.using(source):
        org = Org.objects.create(name="Acme")
        ann = Author.objects.create(name="Ann", age=30, org=org)
        bob = Author.objects.create(name="Bob")
        post = Post(title="moved", score=3, rating=1.5, active=True, tags=["a", "b"], meta={"lang": "en"},
                    data=b"\x00\xff", place=GeoPoint(30.0, 120.0), author=ann,
                    published_at=arrow.get("2024-01-02T03:04:05.678Z"))
        post.acl = ACL({"*": {"read": True}, "role:editors": {"write": True}})
        post.save()
        shelf = Shelf.objects.create(label=uuid.uuid4().hex)
        shelf.authors.add(ann, bob)

    reports = copy_all(source, client, classes=["Org", "Author", "Post", "MigShelf"])
    assert {name: (r.copied, r.failed) for name, r in reports.items()} == {
        "Org": (1, []), "Author": (2, []), "Post": (1, []), "MigShelf": (1, [])}
    assert reports["MigShelf"].relations == 2

    client.identity_map.clear()
    with leanorm.using_master():
        got = Post.objects.select_related("author__org").get(id=post.id)
        assert (got.title, got.score, got.rating, got.active, got.tags, got.meta, got.data) == \
            ("moved", 3, 1.5, True, ["a", "b"], {"lang": "en"}, b"\x00\xff")
        assert (got.place.latitude, got.place.longitude) == (30.0, 120.0)
        assert got.published_at == arrow.get("2024-01-02T03:04:05.678Z")
        assert got.author.id == ann.id and got.author.org.name == "Acme"
        assert got.acl.get_role_write_access("editors") and got.acl.get_public_read_access()
        copied = Shelf.objects.get(id=shelf.id)
        assert sorted(a.name for a in copied.authors.all()) == ["Ann", "Bob"]
    source.close()
