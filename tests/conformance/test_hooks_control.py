"""Hook control on saves: ignore_hook, disable_before_hook, disable_after_hook send LeanCloud's body keys
(``__ignore_hooks``, signed ``__before``/``__after``), and the embedded backend honours them."""
from __future__ import annotations

import pytest

import leanorm
from leanorm import IntegerField, Model, StringField
from leanorm.engine import Engine
from leanorm.engine.markers import verify_marker
from leanorm.errors import LeanCloudError

engine = Engine()
calls: list = []


class HookedNote(Model):
    title = StringField()
    views = IntegerField(default=0)


@engine.before_save(HookedNote)
def shout(note):
    calls.append("beforeSave")
    note.title = (note.title or "").upper()


@engine.after_save(HookedNote)
def saved(note):
    calls.append("afterSave")


@pytest.fixture
def hooked():
    calls.clear()
    client = leanorm.connect("local://:memory:", engine=engine, default=False)
    with leanorm.using(client):
        yield client
    client.close()


def test_hooks_run_by_default(hooked):
    note = HookedNote.objects.create(title="hi")
    assert calls == ["beforeSave", "afterSave"]
    assert HookedNote.objects.get(id=note.id).title == "HI"


def test_ignore_hook_needs_master_and_skips_it(hooked):
    with pytest.raises(LeanCloudError):
        HookedNote(title="a").ignore_hook("beforeSave").save()
    calls.clear()
    with leanorm.using_master():
        note = HookedNote(title="a").ignore_hook("beforeSave").save()
    assert calls == ["afterSave"]
    assert HookedNote.objects.get(id=note.id).title == "a"
    with pytest.raises(ValueError):
        note.ignore_hook("beforeLunch")


def test_disable_before_and_after_hooks(hooked):
    note = HookedNote(title="quiet").disable_before_hook().disable_after_hook().save()
    assert calls == []
    assert HookedNote.objects.get(id=note.id).title == "quiet"
    assert not note._hook_control  # the control was for that save only
    HookedNote(title="loud").save()
    assert calls == ["beforeSave", "afterSave"]


def test_markers_are_signed_and_never_stored(hooked):
    note = HookedNote(title="x").disable_before_hook()
    body = note._hook_body(hooked)
    assert verify_marker(body["__before"], "__before", "HookedNote", hooked.master_key)
    note.save()
    assert "__before" not in note._data
    assert "__before" not in hooked.request("GET", f"classes/HookedNote/{note.id}")
