"""Models the typing checks use (declared the everyday, unannotated way)."""
import datetime as _dt

from leanorm import (BooleanField, DateTimeField, DictField, FloatField, IntegerField, ListField, Model,
                     PointerField, StringField)
from leanorm.relations import RelationField


class TypAuthor(Model):
    name = StringField(required=True)


class TypTag(Model):
    label = StringField(required=True)


class TypPost(Model):
    title = StringField(required=True)
    subtitle = StringField()
    lang = StringField(default="en")
    score = IntegerField(default=0)
    views = IntegerField()
    rating = FloatField()
    draft = BooleanField(default=False)
    published = DateTimeField()
    meta = DictField()
    tags = ListField(StringField())
    counts = ListField(IntegerField(required=True))
    anything = ListField()
    author = PointerField(TypAuthor)
    editor = PointerField(TypAuthor, required=True)
    parent = PointerField("self")
    labels = RelationField(TypTag)


WHEN = _dt.datetime(2026, 1, 1)
