"""Models shared by the test suites."""
from leanorm import (BooleanField, BytesField, DateTimeField, DictField, FloatField, GeoPointField, IntegerField,
                     ListField, Model, PointerField, StringField)


class Org(Model):
    name = StringField()


class Author(Model):
    name = StringField(required=True, max_length=100)
    age = IntegerField(min_value=0)
    org = PointerField(Org)


class Post(Model):
    title = StringField(required=True)
    score = IntegerField(default=0)
    rating = FloatField()
    active = BooleanField()
    tags = ListField(StringField())
    meta = DictField()
    data = BytesField()
    place = GeoPointField()
    published_at = DateTimeField(db_field="publishedAt")
    author = PointerField(Author)
    flags = IntegerField()

    class Meta:
        class_name = "Post"


ALL_MODELS = (Post, Author, Org)
