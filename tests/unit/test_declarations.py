"""How a model is declared: annotated fields, inherited system classes, the constructor's keywords."""
from typing import Optional

import pytest

from leanorm import ACL, Model, PointerField, Role, StringField, User
from leanorm.models import registry


@pytest.fixture
def scratch_registry():
    with registry.preserved():
        yield


def test_a_subclass_of_a_system_model_keeps_its_class(scratch_registry):
    class Player(User):
        nickname: StringField[Optional[str]] = StringField()

    class Team(Role):
        pass

    class Named(Model):
        name = StringField()

    class Renamed(Named):
        pass

    assert (Player._meta.class_name, Team._meta.class_name) == ("_User", "_Role")
    assert Team._meta.default_acl is Role._meta.default_acl is not None  # roles need an ACL on the wire
    assert set(Player._meta.fields) >= {"username", "email", "nickname"}
    # an app's own model is not a system class: its subclass is a class of its own, as before
    assert Renamed._meta.class_name == "Renamed"


def test_annotated_and_plain_declarations_make_the_same_model(scratch_registry):
    class Plain(Model):
        title = StringField(required=True)
        parent = PointerField("self")

    class Annotated(Model):
        title: StringField[str] = StringField(required=True)
        parent: PointerField[Optional["Annotated"]] = PointerField("self")

    for model in (Plain, Annotated):
        assert {name: type(field) for name, field in model._meta.fields.items()} == {
            "title": StringField, "parent": PointerField}
        item = model(title="x", acl=ACL({"*": {"read": True}}))
        assert item.title == "x" and item.acl is not None and item.acl.to_wire() == {"*": {"read": True}}
        with pytest.raises(TypeError, match="unknown fields: titel"):
            model(titel="x")
