"""Models the typing checks use, declared the way checkers read them: each field with its annotation
(``title: Field[str] = StringField(required=True)``), which makes the constructor's keywords checked."""
import datetime as _dt
from typing import Any, ClassVar, Dict, List, Optional

import arrow
from typing_extensions import Self

from leanorm import (File, BooleanField, DateTimeField, DictField, FloatField, IntegerField, ListField, Manager,
                     Model, PointerField, QuerySet, StringField)
from leanorm.compat import LeanCloudObjectMixin
from leanorm.relations import RelationField


class TypAuthor(Model):
    name: StringField[str] = StringField(required=True)


class TypTag(Model):
    label: StringField[str] = StringField(required=True)


class TypPost(Model):
    title: StringField[str] = StringField(required=True)
    subtitle: StringField[Optional[str]] = StringField()
    lang: StringField[str] = StringField(default="en")
    score: IntegerField[int] = IntegerField(default=0)
    views: IntegerField[Optional[int]] = IntegerField()
    rating: FloatField[Optional[float]] = FloatField()
    draft: BooleanField[bool] = BooleanField(default=False)
    published: DateTimeField[Optional[arrow.Arrow]] = DateTimeField()
    stamped: DateTimeField[arrow.Arrow] = DateTimeField(default=_dt.datetime.utcnow)
    meta: DictField[Optional[Dict[str, Any]]] = DictField()
    tags: ListField[List[str]] = ListField(StringField())
    counts: ListField[List[int]] = ListField(IntegerField(required=True), required=True, max_length=3)
    anything: ListField[List[Any]] = ListField()
    author: PointerField[Optional[TypAuthor]] = PointerField(TypAuthor)
    editor: PointerField[TypAuthor] = PointerField(TypAuthor, required=True)
    parent: PointerField[Any] = PointerField("self")
    labels: RelationField[TypTag] = RelationField(TypTag)

    @classmethod
    def drafts(cls) -> "QuerySet[Self]":
        return cls.objects.filter(draft=True)  # ``cls.objects`` in a classmethod: a queryset of the class


class TypNoteQuerySet(QuerySet["TypNote"]):
    def pinned(self) -> "TypNoteQuerySet":
        return self.filter(pinned=True)


class TypNote(Model):
    pinned: BooleanField[bool] = BooleanField(default=False)
    # annotated, so that checkers see the queryset's own methods
    objects: ClassVar[Manager[TypNoteQuerySet]] = TypNoteQuerySet.as_manager()


class TypLegacy(Model):
    """Declared without annotations: reads are typed all the same, but checkers do not see the fields
    as constructor keywords (docs/models.md, "Types for editors and checkers")."""

    title = StringField(required=True)



class TypQRCode(File):
    """The LeanCloud SDK's idiom: a file class of the app's own, with a field of its own."""

    label: StringField[Optional[str]] = StringField()


class TypPortedTodo(LeanCloudObjectMixin):
    """A ported model keeping the SDK's get/set/dump (leanorm.compat)."""

    title: StringField[Optional[str]] = StringField()


WHEN = _dt.datetime(2026, 1, 1)
