"""Hook control on saves and deletes: ignore_hook, disable_before_hook, disable_after_hook send LeanCloud's
body keys (``__ignore_hooks``, signed ``__before``/``__after``; a DELETE carries them as its JSON body), the
embedded backend honours them, and Parse Server (which has none) gets ``NotSupported``."""
from __future__ import annotations

import orjson
import pytest

import leanorm
from leanorm import IntegerField, Model, StringField
from leanorm.engine import Engine, reject
from leanorm.protocol.markers import verify_marker
from leanorm.errors import LeanCloudError, NotSupported
from tests.models import Post

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


@engine.before_delete(HookedNote)
def keep(note):
    calls.append("beforeDelete")
    reject("notes stay", code=3100)


@engine.after_delete(HookedNote)
def deleted(note):
    calls.append("afterDelete")


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


def _exists(note: HookedNote) -> bool:
    with leanorm.using_master():
        return HookedNote.objects.filter(id=note.id).exists()


def test_delete_hooks_run_by_default(hooked):
    note = HookedNote.objects.create(title="n")
    calls.clear()
    with pytest.raises(LeanCloudError) as info:
        note.delete()
    assert (info.value.code, calls) == (3100, ["beforeDelete"])
    assert _exists(note)


def test_ignore_hook_on_delete_needs_master_and_skips_only_that_hook(hooked):
    note = HookedNote.objects.create(title="n")
    calls.clear()
    with pytest.raises(LeanCloudError) as info:
        note.ignore_hook("beforeDelete").delete()
    assert info.value.code == 119 and calls == [] and _exists(note)
    with leanorm.using_master():
        note.ignore_hook("beforeDelete").delete()
    assert calls == ["afterDelete"]
    assert not _exists(note)
    assert not note._hook_control  # the control was for that delete only


def test_disable_before_and_after_hooks_on_delete(hooked):
    note = HookedNote.objects.create(title="n")
    calls.clear()
    note.disable_before_hook().disable_after_hook().delete()
    assert calls == []
    assert not _exists(note)
    other = HookedNote.objects.create(title="m")
    calls.clear()
    other.disable_before_hook().delete()
    assert calls == ["afterDelete"]


def test_delete_sends_hook_control_as_its_body_or_is_not_supported(client, sent):
    """Over every backend: LeanCloud-dialect backends get ``__ignore_hooks`` in the DELETE's JSON body
    (what LeanCloud's SDKs send); Parse Server has no hook control and would refuse the key (105)."""
    post = Post.objects.create(title="kept")
    with leanorm.using_master():
        if not client.dialect.supports("hook_control"):
            with pytest.raises(NotSupported):
                post.ignore_hook("beforeDelete").delete()
            assert sent[-1].method == "POST"  # nothing was sent
            assert Post.objects.filter(id=post.id).exists()
            return
        post.ignore_hook("beforeDelete").ignore_hook("afterDelete").delete()
        assert not Post.objects.filter(id=post.id).exists()
    request = next(r for r in sent if r.method == "DELETE")
    assert orjson.loads(request.body) == {"__ignore_hooks": ["beforeDelete", "afterDelete"]}
