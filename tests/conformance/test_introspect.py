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
    saved = dict(registry._models)
    try:
        namespace: dict = {}
        exec(compile(source, "<generated>", "exec"), namespace)
        model = namespace[gadget]
        declared = {name: type(field) for name, field in model._meta.fields.items()}
        assert declared == {"name": f.StringField, "unit_count": f.IntegerField, "price": f.FloatField,
                            "on_sale": f.BooleanField, "tags": f.ListField, "specs": f.DictField,
                            "made_at": f.DateTimeField, "spot": f.GeoPointField, "blob": f.BytesField,
                            "maker": f.PointerField}
        with leanorm.using_master():
            item = model.objects.select_related("maker").get(name="lamp")
        assert (item.unit_count, item.price, item.on_sale, item.blob, item.maker.name) == (3, 9.5, True, b"\x01",
                                                                                          "Acme")
    finally:
        registry._models.clear()
        registry._models.update(saved)
