"""Models the typing checks use (declared the everyday, unannotated way)."""
import datetime as _dt
from typing import ClassVar

from leanorm import (BooleanField, DateTimeField, DictField, FloatField, IntegerField, ListField, Manager, Model,
                     PointerField, QuerySet, StringField)
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
    stamped = DateTimeField(default=_dt.datetime.utcnow)
    meta = DictField()
    tags = ListField(StringField())
    counts = ListField(IntegerField(required=True), required=True, max_length=3)
    anything = ListField()
    author = PointerField(TypAuthor)
    editor = PointerField(TypAuthor, required=True)
    parent = PointerField("self")
    labels = RelationField(TypTag)


class TypNoteManager(Manager["TypNote"]):
    def pinned(self) -> "QuerySet[TypNote]":
        return self.filter(pinned=True)


class TypNote(Model):
    pinned = BooleanField(default=False)
    # annotated, so that checkers see the manager's own methods
    objects: ClassVar[TypNoteManager] = TypNoteManager()


WHEN = _dt.datetime(2026, 1, 1)
