"""Writes the protocol cannot express raise a clear error before anything is sent, instead of doing
something else; a field that would hide a Model attribute is refused when the class is declared."""
import pytest

import leanorm
from leanorm import F, IntegerField, ListField, Model, Q, StringField
from leanorm.errors import FieldError, NotSupported
from leanorm.models import registry
from tests.conftest import RecordingTransport


@pytest.fixture
def client():
    client = leanorm.connect("local://:memory:", default=False)
    client.transport = RecordingTransport(client.transport)
    with registry.preserved(), leanorm.using(client):
        yield client


class SwCounter(Model):
    a = IntegerField(default=0)
    b = IntegerField(default=5)
    flags = IntegerField(default=0)


CROSS_FIELD = [F("b") + 1, F("b") - 1, F("b") & 1, F("b") | 1, F("b") ^ 1]


@pytest.mark.parametrize("expr", CROSS_FIELD, ids=repr)
def test_queryset_update_from_another_field_raises_before_any_request(client, expr):
    obj = SwCounter.objects.create()
    sent = len(client.transport.requests)
    with pytest.raises(NotSupported, match="other field"):
        SwCounter.objects.filter(id=obj.id).update(a=expr)
    assert len(client.transport.requests) == sent
    assert SwCounter.objects.get(id=obj.id).refresh().a == 0


def test_queryset_update_copying_another_field_raises_not_supported(client):
    SwCounter.objects.create()
    with pytest.raises(NotSupported, match="other field"):
        SwCounter.objects.update(a=F("b"))


@pytest.mark.parametrize("write", [
    lambda obj: setattr(obj, "a", F("b") + 1),
    lambda obj: obj.__setitem__("a", F("b") + 1),
    lambda obj: obj.__setitem__("undeclared", F("b") + 1),
], ids=["attribute", "item", "undeclared key"])
def test_assigning_an_expression_on_another_field_raises(client, write):
    obj = SwCounter.objects.create()
    with pytest.raises(NotSupported, match="other field"):
        write(obj)
    assert not obj.is_dirty


def test_create_and_constructor_refuse_an_expression_on_another_field(client):
    with pytest.raises(NotSupported):
        SwCounter(a=F("b") + 1)
    with pytest.raises(NotSupported):
        SwCounter.objects.create(a=F("b") + 1)
    assert SwCounter.objects.count() == 0


def test_an_expression_on_the_field_itself_still_updates_atomically(client):
    obj = SwCounter.objects.create(a=1)
    assert SwCounter.objects.filter(id=obj.id).update(a=F("a") + 2) == 1
    obj.a = F("a") - 1
    obj.save()
    assert SwCounter.objects.get(id=obj.id).refresh().a == 2


def test_filtering_against_another_field_raises_not_supported(client):
    with pytest.raises(NotSupported, match="other field"):
        SwCounter.objects.filter(a__gt=F("b"))
    with pytest.raises(NotSupported, match="other field"):
        SwCounter.objects.exclude(Q(a=F("b")))


@pytest.mark.parametrize("name", ["save", "remove", "delete", "objects", "increment", "refresh", "add",
                                  "extra", "to_dict", "is_dirty", "DoesNotExist", "_meta", "_data"])
def test_a_field_named_like_a_model_attribute_is_refused(name):
    with pytest.raises(FieldError, match=rf"db_field={name!r}") as info:
        type("SwShadow", (Model,), {"__module__": __name__, name: StringField()})
    assert name in str(info.value)


def test_the_wire_name_is_kept_with_db_field(client):
    class SwTagged(Model):
        remove_ = ListField(StringField(), db_field="remove")

    obj = SwTagged.objects.create(remove_=["a", "b"])
    obj.remove("remove_", "a")
    obj.save()
    assert client.request("GET", f"classes/SwTagged/{obj.id}")["remove"] == ["b"]


def test_a_subclass_may_redeclare_its_parents_field():
    class SwBase(Model):
        title = StringField()

        class Meta:
            abstract = True

    class SwChild(SwBase):
        title = StringField(required=True)

    assert SwChild._meta.fields["title"].required


def test_an_sdk_method_name_says_its_leanorm_equivalent(client):
    obj = SwCounter()
    with pytest.raises(AttributeError, match=r"SwCounter has no fetch\(\): the LeanCloud SDK's fetch\(\) is refresh\(\)"):
        obj.fetch()
    with pytest.raises(AttributeError, match=r"'SwCounter' object has no attribute 'fecth'"):
        obj.fecth
    assert not hasattr(obj, "destroy") and not hasattr(SwCounter, "get")


def test_a_field_may_take_an_sdk_method_name(client):
    class SwHas(Model):
        has = StringField()
        get = IntegerField()

    obj = SwHas.objects.create(has="x", get=3)
    assert (obj.has, obj.get) == ("x", 3)
    assert SwHas.objects.get(id=obj.id).has == "x"


@pytest.mark.parametrize("expr", [lambda: F("a") * 2, lambda: 2 * F("a"), lambda: F("a") / 2, lambda: F("a") // 2,
                                  lambda: F("a") % 2, lambda: F("a") ** 2, lambda: 10 - F("a"), lambda: -F("a")],
                         ids=["mul", "rmul", "div", "floordiv", "mod", "pow", "rsub", "neg"])
def test_arithmetic_the_protocol_has_no_operation_for_says_so(expr):
    """Django's F() multiplies and divides; the protocol only adds and applies bits: a NotSupported naming
    what there is, not Python's bare 'unsupported operand type(s)'."""
    with pytest.raises(NotSupported, match=r"F\('a'\).*Increment"):
        expr()


def test_a_number_plus_f_is_the_same_increment(client):
    obj = SwCounter.objects.create(a=1)
    SwCounter.objects.filter(id=obj.id).update(a=2 + F("a"))
    assert SwCounter.objects.get(id=obj.id).refresh().a == 3
