"""model_schema mirrors a model: the same types, required flags, defaults, validators and wire names,
and load() gives the model instance the model itself would accept."""
import marshmallow
import pytest
from marshmallow import fields as mf

import leanorm
from leanorm import (BooleanField, BytesField, DateTimeField, DictField, FloatField, GeoPoint, GeoPointField,
                     IntegerField, ListField, Model, PointerField, StringField)
from leanorm.errors import ValidationError
from leanorm.marshal import model_schema
from leanorm.models import registry


def no_spaces(value):
    if " " in value:
        raise ValueError("no spaces, please")


@pytest.fixture
def models():
    client = leanorm.connect("local://:memory:", default=False)
    with registry.preserved():

        class MsAuthor(Model):
            name = StringField(required=True)

        class MsThing(Model):
            code = StringField(required=True, max_length=8, validators=[no_spaces], db_field="theCode")
            kind = StringField(choices=["a", "b"], default="a")
            count = IntegerField(min_value=0)
            ratio = FloatField()
            done = BooleanField(default=False)
            when = DateTimeField()
            where = GeoPointField()
            blob = BytesField()
            meta = DictField()
            tags = ListField(StringField(max_length=3))
            author = PointerField(MsAuthor)

        with leanorm.using(client):
            yield MsAuthor, MsThing
        client.close()


def test_the_schema_mirrors_types_flags_defaults_and_wire_names(models):
    _, thing = models
    fields = model_schema(thing)().fields
    kinds = {name: type(f) for name, f in fields.items()}
    assert issubclass(kinds["code"], mf.String) and issubclass(kinds["count"], mf.Integer)
    assert issubclass(kinds["ratio"], mf.Float) and issubclass(kinds["done"], mf.Boolean)
    assert issubclass(kinds["when"], mf.DateTime) and issubclass(kinds["meta"], mf.Dict)
    assert issubclass(kinds["tags"], mf.List)
    assert fields["code"].required and fields["code"].data_key == "theCode" and not fields["code"].allow_none
    assert not fields["kind"].required and fields["kind"].load_default == "a"
    assert fields["count"].allow_none
    for name in ("kind", "count", "tags"):  # the model field's own validator objects
        assert fields[name].validators == thing._meta.fields[name].validators
    assert fields["id"].dump_only and fields["id"].data_key == "objectId"


def test_load_returns_a_model_instance_that_saves(models):
    author_model, thing = models
    ann = author_model.objects.create(name="Ann")
    obj = model_schema(thing)().load({"theCode": "X1", "count": 2, "where": {"latitude": 1, "longitude": 2},
                                      "blob": "aGk=", "author": ann.id, "when": "2026-01-02T03:04:05+00:00"})
    assert isinstance(obj, thing)
    assert (obj.code, obj.kind, obj.count, obj.where, obj.blob, obj.author) == ("X1", "a", 2, GeoPoint(1, 2), b"hi", ann)
    obj.save()
    again = thing.objects.get(id=obj.id).refresh()
    assert again.when.isoformat() == "2026-01-02T03:04:05+00:00" and again.author == ann
    dumped = model_schema(thing)().dump(again)
    assert dumped["theCode"] == "X1" and dumped["author"] == ann.id and dumped["blob"] == "aGk="
    assert model_schema(thing, nested=["author"])().dump(again)["author"]["name"] == "Ann"


@pytest.mark.parametrize("value", ["has space", "toolongvalue", 5, None])
def test_the_schema_and_the_model_agree_on_what_is_invalid(models, value):
    _, thing = models
    with pytest.raises(marshmallow.ValidationError) as by_schema:
        model_schema(thing)().load({"theCode": value})
    with pytest.raises(ValidationError) as by_model:
        thing(code=value).save()
    assert by_schema.value.messages["theCode"] and by_model.value.errors["code"]
    if isinstance(value, str):  # the validators' own messages, word for word
        assert by_schema.value.messages["theCode"] == by_model.value.errors["code"]


def test_a_partial_load_updates_the_instance_given(models):
    _, thing = models
    obj = thing.objects.create(code="A", count=1)
    same = model_schema(thing)(instance=obj, partial=True).load({"count": 5})
    assert same is obj and (obj.code, obj.count, obj.kind) == ("A", 5, "a")
    assert obj.changed_keys() == {"count"}


def test_load_instance_loads_one_object(models):
    _, thing = models
    assert model_schema(thing)().load_instance({"theCode": "B"}).code == "B"
    with pytest.raises(TypeError, match="one object"):
        model_schema(thing)(many=True).load_instance([{"theCode": "B"}])


def test_nested_must_name_a_pointer(models):
    _, thing = models
    with pytest.raises(ValueError, match="not a PointerField"):
        model_schema(thing, nested=["code"])
