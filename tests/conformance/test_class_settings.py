"""Issue 19 §6: class settings a data export does not carry — unique indexes first — are recreated through
one typed call, ``leanorm.schema.create_index``, on every backend whose protocol allows it; elsewhere it
says so (NotSupported), never silently."""
import pytest

from leanorm import Model, StringField
from leanorm.errors import DuplicateValue, NotSupported
from leanorm.schema import create_index, schema


class SluggedPage(Model):
    slug = StringField(db_field="pageSlug")


def test_a_unique_index_refuses_a_second_object_with_the_same_value(client, backend):
    if backend in ("embedded", "postgresql"):
        name = create_index(SluggedPage, "slug", unique=True)
        assert create_index(SluggedPage, "slug", unique=True) == name  # again: nothing changes
        SluggedPage.objects.create(slug="home")
        with pytest.raises(DuplicateValue):
            SluggedPage.objects.create(slug="home")
        assert SluggedPage.objects.count() == 1
    elif backend == "parse":
        with pytest.raises(NotSupported, match="plain indexes only"):
            create_index(SluggedPage, "slug", unique=True)
        assert create_index(SluggedPage, "slug") == "pageSlug_1"
        assert create_index(SluggedPage, "slug") == "pageSlug_1"
        assert schema(SluggedPage)["indexes"]["pageSlug_1"] == {"pageSlug": 1}
    else:
        with pytest.raises(NotSupported, match="leanorm index"):
            create_index(SluggedPage, "slug", unique=True)
