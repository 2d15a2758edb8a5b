"""Many-to-many relations: add/remove/all/filter, reverse queries, prefetch_related without N+1."""
from __future__ import annotations

import pytest

import leanorm
from leanorm import Model, RelationField, StringField
from leanorm.errors import FieldError


class Reader(Model):
    name = StringField()


class Book(Model):
    title = StringField()
    readers = RelationField(Reader)


@pytest.fixture
def library(client):
    with leanorm.using_master():
        for model in (Book, Reader):
            client.request("DELETE", f"purge/{model._meta.class_name}")
    ann, bob, cid = (Reader.objects.create(name=n) for n in ("Ann", "Bob", "Cid"))
    dune, emma, solaris = (Book.objects.create(title=t) for t in ("Dune", "Emma", "Solaris"))
    dune.readers.add(ann, bob)
    emma.readers.add(bob)
    solaris.readers.add(cid)
    return {"ann": ann, "bob": bob, "cid": cid, "dune": dune, "emma": emma, "solaris": solaris}


def names(objs) -> list:
    return sorted(o.name if isinstance(o, Reader) else o.title for o in objs)


def test_add_remove_all_filter_count(library):
    dune = library["dune"]
    assert names(dune.readers.all()) == ["Ann", "Bob"]
    assert names(dune.readers.filter(name__startswith="A")) == ["Ann"]
    assert dune.readers.count() == 2
    dune.readers.remove(library["ann"])
    assert names(dune.readers) == ["Bob"]
    dune.readers.add(library["ann"], library["cid"])
    assert names(dune.readers.all().order_by("name")[:2]) == ["Ann", "Bob"]


def test_reverse_queries(library):
    assert names(Book.objects.filter(readers=library["bob"])) == ["Dune", "Emma"]
    assert names(Book.objects.filter(readers__in=[library["ann"], library["cid"]])) == ["Dune", "Solaris"]
    assert names(Book.objects.filter(readers__name="Cid")) == ["Solaris"]
    assert names(Book.objects.filter(readers__name__in=["Ann", "Bob"])) == ["Dune", "Emma"]


def test_prefetch_related_is_two_requests(library, client, sent):
    client.identity_map.clear()
    before = len(sent)
    books = list(Book.objects.prefetch_related("readers").order_by("title"))
    members = {b.title: names(b.readers.all()) for b in books}
    assert members == {"Dune": ["Ann", "Bob"], "Emma": ["Bob"], "Solaris": ["Cid"]}
    assert len(sent) - before == 2  # the books, then one batch of $relatedTo queries
    assert [r.path.rsplit("/", 1)[-1] for r in sent[before:]] == ["Book", "batch"]


def test_prefetch_related_pages_through_large_relations(library, client, sent):
    """Two owners with more members than one page (``max_limit``, 1,000): each round of pages is one
    batch for every owner still short of its members, whatever the number of owners."""
    limit = client.dialect.max_limit
    crowd = Reader.objects.bulk_create([Reader(name=f"r{i:04}") for i in range(limit + 1)])
    library["dune"].readers.add(*crowd)
    library["emma"].readers.add(*crowd[:limit])  # exactly one full page: a second round finds nothing
    client.identity_map.clear()
    before = len(sent)
    books = {b.title: b for b in Book.objects.prefetch_related("readers")}
    assert [r.path.rsplit("/", 1)[-1] for r in sent[before:]] == ["Book", "batch", "batch"]
    dune = [r.name for r in books["Dune"].readers.all()]
    assert len(dune) == limit + 3 and len(set(dune)) == limit + 3  # Ann, Bob and the crowd, none twice
    assert sorted(dune)[:2] == ["Ann", "Bob"]
    assert len(books["Emma"].readers.all()) == limit + 1
    assert names(books["Solaris"].readers.all()) == ["Cid"]
    assert len(sent) == before + 3  # the members were all prefetched: nothing queried on demand


def test_prefetched_members_refresh_after_a_change(library):
    book = Book.objects.prefetch_related("readers").get(title="Emma")
    book.readers.add(library["cid"])
    assert names(book.readers.all()) == ["Bob", "Cid"]


def test_prefetch_related_needs_a_relation(client):
    with pytest.raises(FieldError):
        Book.objects.prefetch_related("title")
