"""Field behaviour that needs no backend."""
from leanorm import Model, PointerField, StringField
from leanorm.models import registry


def test_self_pointer_is_the_declaring_class_even_when_its_name_is_taken():
    with registry.preserved():
        class SelfRef(Model):
            name = StringField()

        class SelfRef(Model):  # noqa: F811  same Python name, another protocol class
            name = StringField()
            parent = PointerField("self")

            class Meta:
                class_name = "SelfRefTree"

        assert SelfRef._meta.fields["parent"].target is SelfRef

