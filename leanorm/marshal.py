"""marshmallow schemas that mirror models: ``model_schema(Post)`` for JSON APIs and forms.

The schema of a model has one marshmallow field per model field, of the matching type, with the same
``required`` flag, default, choices and validators (the very validator objects the model field
checks with), keyed in JSON by the field's wire name (``data_key`` is its ``db_field``). ``load()``
returns a model instance (a new one, or the one passed as ``instance=``, updated), and runs the model
field's own validation on every loaded value, so the schema and the model cannot disagree on what is
valid. Pointers are their objectId, or with ``nested=("author",)`` the pointed object dumped by its own
schema (loading then still takes the objectId). The objectId and the server's timestamps are dumped
only.

>>> import leanorm
>>> from leanorm import IntegerField, ListField, Model, StringField
>>> _ = leanorm.connect("local://:memory:")
>>> from typing import List
>>> class Song(Model):
...     title: StringField[str] = StringField(required=True, max_length=20)
...     plays: IntegerField[int] = IntegerField(default=0, min_value=0, db_field="playCount")
...     genres: ListField[List[str]] = ListField(StringField(choices=["pop", "jazz"]))
>>> schema = model_schema(Song)()
>>> song = schema.load({"title": "Blue", "playCount": 3, "genres": ["jazz"]})
>>> song.title, song.plays, song.genres
('Blue', 3, ['jazz'])
>>> schema.load({"title": "x" * 30, "genres": ["rock"]})
Traceback (most recent call last):
...
marshmallow.exceptions.ValidationError: {'title': ['Longer than maximum length 20.'], 'genres': {0: ['Must be one of: pop, jazz.']}}
>>> _ = song.save()
>>> sorted(schema.dump(song))
['createdAt', 'genres', 'objectId', 'playCount', 'title', 'updatedAt']
"""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Dict, Generic, Iterable, Mapping, Optional, Type, TypeVar, cast

import arrow
import marshmallow as ma
from marshmallow import fields as mf

from .fields import (AnyField, BooleanField, BytesField, DateTimeField, DictField, Field, FloatField,
                     GeoPointField, IntegerField, ListField, PointerField, StringField)
from .protocol.geo import GeoPoint
from .relations import RelationField

if TYPE_CHECKING:  # pragma: no cover
    from .models import Model

__all__ = ["ModelSchema", "model_schema"]

M = TypeVar("M", bound="Model")


class ModelSchema(ma.Schema, Generic[M]):
    """Base of the schemas :func:`model_schema` builds. ``instance=`` makes ``load()`` update that object
    (use it with ``partial=True`` for a PATCH) instead of building a new one."""

    model: Type[M]
    #: the model fields by schema attribute name (the ones loaded: not the dump-only server keys)
    model_fields: Dict[str, Field[Any]]

    def __init__(self, *, instance: Optional[M] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance = instance

    def load_instance(self, data: Mapping[str, Any]) -> M:
        """``load()`` of one object, typed for checkers as the model (``load()`` is marshmallow's: Any)."""
        if self.many:
            raise TypeError("load_instance() loads one object: use load() on a schema with many=True")
        return cast(M, self.load(data))

    @ma.validates_schema(skip_on_field_errors=True)
    def _model_validation(self, data: Dict[str, Any], **kwargs: Any) -> None:
        # the model field has the last word: its type check and validators, as save() would run them
        errors: Dict[str, Any] = {}
        for name, value in data.items():
            field = self.model_fields[name]
            problems = field.validate(value)
            if problems:
                errors[self.fields[name].data_key or name] = problems
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _make_instance(self, data: Dict[str, Any], **kwargs: Any) -> M:
        if self.instance is None:
            return self.model(**data)
        for name, value in data.items():
            setattr(self.instance, name, value)
        return self.instance


class _DateTime(mf.DateTime):
    """A datetime in ISO 8601; leanorm reads dates as arrow, dumped as the datetime they hold."""

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(value.datetime if isinstance(value, arrow.Arrow) else value, attr, obj, **kwargs)


class _GeoPoint(mf.Field):
    """A GeoPoint as ``{"latitude": ..., "longitude": ...}``."""

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return None if value is None else {"latitude": value.latitude, "longitude": value.longitude}

    def _deserialize(self, value: Any, attr: Optional[str], data: Any, **kwargs: Any) -> GeoPoint:
        try:
            return GeoPoint(value["latitude"], value["longitude"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ma.ValidationError("expected {\"latitude\": number, \"longitude\": number}") from exc


class _Base64(mf.Field):
    """Bytes as a base64 string."""

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return None if value is None else base64.b64encode(value).decode("ascii")

    def _deserialize(self, value: Any, attr: Optional[str], data: Any, **kwargs: Any) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError) as exc:
            raise ma.ValidationError("expected base64 text") from exc


class _Pointer(mf.Field):
    """A pointer as its objectId (dumped as the pointed object's own schema when ``nested``). Loading
    an objectId checks that the object exists."""

    def __init__(self, field: PointerField[Any], nested: Optional[ModelSchema[Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pointer = field
        self.nested = nested

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return self.nested.dump(value) if self.nested is not None else value.id

    def _deserialize(self, value: Any, attr: Optional[str], data: Any, **kwargs: Any) -> "Model":
        if not isinstance(value, str) or not value:
            raise ma.ValidationError("expected an objectId")
        target = self.pointer.target
        try:
            return target.objects.get(id=value)
        except target.DoesNotExist:
            raise ma.ValidationError(f"no {target.__name__} with objectId {value!r}") from None


class _Wire(mf.Field):
    """A field type this module has no mapping for (``FileField``...): its wire JSON."""

    def __init__(self, field: Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_field = field

    def _serialize(self, value: Any, attr: Optional[str], obj: Any, **kwargs: Any) -> Any:
        return None if value is None else self.model_field.to_wire(value)

    def _deserialize(self, value: Any, attr: Optional[str], data: Any, **kwargs: Any) -> Any:
        return self.model_field.from_wire(value)


_SIMPLE: Dict[type, Any] = {
    StringField: mf.String, FloatField: mf.Float, BooleanField: mf.Boolean, DateTimeField: _DateTime,
    GeoPointField: _GeoPoint, BytesField: _Base64, AnyField: mf.Raw,
}


def _schema_field(field: Field[Any], nested: Iterable[str], top: bool) -> mf.Field:
    """The marshmallow field mirroring ``field`` (``top``: a model attribute, not a list element)."""
    options: Dict[str, Any] = {"validate": list(field.validators), "allow_none": not field.required}
    if top:
        options["required"] = field.required and field.default is None
        if field.default is not None:
            options["load_default"] = field.default
        if field.db_field != field.name:
            options["data_key"] = field.db_field
    if isinstance(field, IntegerField):
        return mf.Integer(strict=True, **options)
    if isinstance(field, DictField):
        return mf.Dict(keys=mf.String(), **options)
    if isinstance(field, ListField):
        inner = _schema_field(field.field, (), False) if field.field is not None else mf.Raw()
        return mf.List(inner, **options)
    if isinstance(field, PointerField):
        nested_schema: Optional[ModelSchema[Any]] = model_schema(field.target)() if field.name in nested else None
        return _Pointer(field, nested_schema, **options)
    for kind in type(field).__mro__:
        if kind in _SIMPLE:
            factory: Any = _SIMPLE[kind]
            return factory(**options)
    return _Wire(field, **options)


_CACHE: Dict[Any, Type[ModelSchema[Any]]] = {}


def model_schema(model: Type[M], *, nested: Iterable[str] = ()) -> Type[ModelSchema[M]]:
    """The marshmallow schema class mirroring ``model`` (built once per model and ``nested``).

    :param nested: names of PointerFields to dump as the pointed object (by its own schema) rather than
        as its objectId
    """
    nested = tuple(sorted(nested))
    key = (model, nested)
    if key not in _CACHE:
        for name in nested:
            if not isinstance(model._meta.fields.get(name), PointerField):
                raise ValueError(f"nested={name!r}: {model.__name__}.{name} is not a PointerField")
        stored = {name: field for name, field in model._meta.fields.items()
                  if not isinstance(field, RelationField)}
        attrs: Dict[str, Any] = {name: _schema_field(field, nested, True) for name, field in stored.items()}
        attrs.update(id=mf.String(dump_only=True, data_key="objectId"),
                     created_at=_DateTime(dump_only=True, data_key="createdAt"),
                     updated_at=_DateTime(dump_only=True, data_key="updatedAt"))
        attrs.update(model=model, model_fields=stored)
        _CACHE[key] = type(f"{model.__name__}Schema", (ModelSchema,), attrs)
    return _CACHE[key]
