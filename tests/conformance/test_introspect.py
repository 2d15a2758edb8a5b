"""Models generated from a backend's schema declare the right fields and read the stored objects."""
import base64
import uuid

import leanorm
from leanorm import fields as f
from leanorm.introspect import models_source
from leanorm.models import registry


def test_generated_models_read_what_is_stored(client):
    suffix = uuid.uuid4().hex[:8]
    gadget, maker = f"InspGadget{suffix}", f"InspMaker{suffix}"
    with leanorm.using_master():
        made = client.request("POST", f"classes/{maker}", body={"name": "Acme"})
        client.request("POST", f"classes/{gadget}", body={
            "name": "lamp", "unitCount": 3, "price": 9.5, "onSale": True, "tags": ["a"], "specs": {"w": 40},
            "madeAt": {"__type": "Date", "iso": "2024-05-06T07:08:09.000Z"},
            "spot": {"__type": "GeoPoint", "latitude": 30.0, "longitude": 120.0},
            "blob": {"__type": "Bytes", "base64": base64.b64encode(b"\x01").decode()},
            "maker": {"__type": "Pointer", "className": maker, "objectId": made["objectId"]}})
    source = models_source(client, classes=[maker, gadget])
    with registry.preserved():
        namespace: dict = {}
        exec(compile(source, "<generated>", "exec"), namespace)
        model = namespace[gadget]
        declared = {name: type(field) for name, field in model._meta.fields.items()}
        assert declared == {"name": f.StringField, "unit_count": f.FloatField, "price": f.FloatField,
                            "on_sale": f.BooleanField, "tags": f.ListField, "specs": f.DictField,
                            "made_at": f.DateTimeField, "spot": f.GeoPointField, "blob": f.BytesField,
                            "maker": f.PointerField}
        with leanorm.using_master():
            item = model.objects.select_related("maker").get(name="lamp")
        assert (item.unit_count, item.price, item.on_sale, item.blob, item.maker.name) == (3, 9.5, True, b"\x01",
                                                                                          "Acme")


def test_a_number_sampled_whole_still_takes_fractions_and_users_stay_users(client):
    """A Number is a FloatField whatever the sample (saving 12.5 after sampling 3 must work, and 3 reads
    back as 3); the generated ``User`` subclass is bound to ``_User``, so it reads the users stored."""
    suffix = uuid.uuid4().hex[:8]
    gadget, username = f"InspCount{suffix}", f"insp{suffix}"
    with leanorm.using_master():
        client.request("POST", f"classes/{gadget}", body={"count": 3})
    user = leanorm.User.signup(username=username, password="pw")
    with leanorm.using_master():
        client.request("PUT", f"classes/_User/{user.id}", body={"nickname": f"nick{suffix}"})
    source = models_source(client, classes=[gadget, "_User"])
    with registry.preserved():
        namespace: dict = {}
        exec(compile(source, "<generated>", "exec"), namespace)
        model, user_model = namespace[gadget], namespace["User"]
        with leanorm.using_master():
            assert model.objects.get().count == 3
            model.objects.create(count=12.5)
            assert sorted(item.count for item in model.objects.all()) == [3, 12.5]
            found = user_model.objects.get(username=username)
        assert user_model._meta.class_name == "_User" and found.nickname == f"nick{suffix}"
