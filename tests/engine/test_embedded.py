"""The embedded backend runs an Engine's functions and hooks in-process, with LeanEngine's semantics."""
import pytest

import leanorm
from leanorm import User, as_user, cloud
from leanorm.auth_context import master_active
from leanorm.engine import Engine, reject, updated_keys
from leanorm.errors import LeanCloudError
from tests.engine.models import EngineNote

engine = Engine()
seen = []


@engine.define
def greet(name="world"):
    user = leanorm.current_user()
    return f"hello {name} from {user.username if user else 'nobody'}"


@engine.define
def uses_master():
    return {"caller_master": leanorm.engine.current_request().master, "sends_master": master_active()}


@engine.before_save(EngineNote)
def tidy(note):
    if note.title == "forbidden":
        reject("no forbidden notes", code=3001)
    note.title = (note.title or "").strip().upper()


@engine.before_update(EngineNote)
def guard(note):
    if "title" in updated_keys(note) and note.title == "locked":
        reject("locked")
    seen.append(("before_update", sorted(updated_keys(note)), note.views))


@engine.after_save(EngineNote)
def count_saves(note):
    seen.append(("after_save", note.title))


@engine.before_delete(EngineNote)
def keep_pinned(note):
    if "pinned" in (note.tags or []):
        reject("pinned notes stay", code=3002)


@engine.on_login
def no_banned(user):
    if user.username.startswith("banned"):
        reject("this account is banned", code=3003)


@engine.on_auth_data
def check_token(auth_data):
    """Check the platform's token once, then keep only the account id and the verdict."""
    weixin = dict(auth_data.get("weixin") or {})
    if weixin.get("access_token") == "forged":
        reject("the weixin token is not valid", code=3004)
    if weixin.pop("access_token", None):
        return {**auth_data, "weixin": {**weixin, "verified": True}}
    return None  # keeps the authData as it came


@pytest.fixture
def client():
    seen.clear()
    client = leanorm.connect("local://:memory:", engine=engine, default=False)
    with leanorm.using(client):
        yield client
    client.close()


def test_before_save_changes_the_stored_object(client):
    note = EngineNote.objects.create(title="  hello ")
    with leanorm.using_master():
        assert client.request("GET", f"classes/EngineNote/{note.id}")["title"] == "HELLO"
    assert ("after_save", "HELLO") in seen


def test_before_save_rejects_with_its_code_and_nothing_is_written(client):
    with pytest.raises(LeanCloudError) as info:
        EngineNote.objects.create(title="forbidden")
    assert (info.value.code, info.value.message) == (3001, "no forbidden notes")
    assert EngineNote.objects.count() == 0


def test_before_update_sees_applied_operations_and_increment_stays_atomic(client):
    note = EngineNote.objects.create(title="a", views=1)
    note.increment("views", 2)
    note.save()
    assert seen[-1] == ("before_update", ["views"], 3)
    assert EngineNote.objects.get(id=note.id).views == 3
    note.title = "locked"
    with pytest.raises(LeanCloudError):
        note.save()
    with leanorm.using_master():
        assert client.request("GET", f"classes/EngineNote/{note.id}")["title"] == "A"


def test_before_delete_can_refuse(client):
    note = EngineNote.objects.create(title="x", tags=["pinned"])
    with pytest.raises(LeanCloudError) as info:
        note.delete()
    assert info.value.code == 3002
    assert EngineNote.objects.filter(id=note.id).exists()


def test_functions_run_as_the_caller(client):
    assert cloud.run("greet", name="Ann") == "hello Ann from nobody"
    user = User.signup(username="engine-caller", password="pw")
    with as_user(user):
        assert cloud.run("greet") == "hello world from engine-caller"
    with pytest.raises(LeanCloudError) as info:
        cloud.run("missing")
    assert info.value.code == 141


def test_on_login_can_refuse_a_login(client):
    User.signup(username="banned-bob", password="pw")
    User.signup(username="fine-fred", password="pw")
    with pytest.raises(LeanCloudError) as info:
        User.login("banned-bob", "pw")
    assert info.value.code == 3003
    assert User.login("fine-fred", "pw").session_token


def test_on_auth_data_rewrites_the_auth_data_of_a_signup_and_a_login(client):
    user = User.login_with("weixin", {"openid": "wx-1", "access_token": "good"})
    stored = {"weixin": {"openid": "wx-1", "verified": True}}  # what the hook answered, token dropped
    with leanorm.using_master():
        assert User.objects.get(id=user.id).auth_data == stored
    again = User.login_with("weixin", {"openid": "wx-1", "access_token": "fresh"})
    assert again.id == user.id and again.session_token
    with leanorm.using_master():
        assert User.objects.get(id=user.id).auth_data == stored
    other = User.login_with("anonymous", {"id": "anon-1"})  # the hook returned None: kept as sent
    with leanorm.using_master():
        assert User.objects.get(id=other.id).auth_data == {"anonymous": {"id": "anon-1"}}


def test_on_auth_data_can_refuse_a_signup(client):
    with pytest.raises(LeanCloudError) as info:
        User.login_with("weixin", {"openid": "wx-2", "access_token": "forged"})
    assert (info.value.code, info.value.message) == (3004, "the weixin token is not valid")
    with leanorm.using_master():
        assert not User.objects.exists()


@engine.define
def draft_note(title):
    return EngineNote(title=title)  # built by the function, never saved


def test_rpc_returns_an_unsaved_instance_as_a_new_object(client):
    note = cloud.rpc("draft_note", title="later")
    assert isinstance(note, EngineNote) and note.id is None and note.title == "later"
    note.save()  # its values are unsaved changes, so saving sends them
    assert EngineNote.objects.get(id=note.id).title == "LATER"  # through the before_save hook


def test_a_master_key_caller_in_process_does_not_lend_the_master_key_to_the_code(client):
    """The caller's using_master() is reported in current_request().master, but the function's own
    requests send the master key only inside its own using_master(), as over HTTP."""
    with leanorm.using_master():
        assert cloud.run("uses_master") == {"caller_master": True, "sends_master": False}
    assert cloud.run("uses_master") == {"caller_master": False, "sends_master": False}


def test_run_refuses_model_instances_before_sending(client):
    sent_before = client.request_count
    with pytest.raises(TypeError, match="rpc"):
        cloud.run("greet", name=EngineNote(title="x"))
    assert client.request_count == sent_before
