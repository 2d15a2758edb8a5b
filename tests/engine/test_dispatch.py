"""Engine.dispatch, in-process: what functions and hooks receive and what the caller gets back."""
from __future__ import annotations

import pytest

import leanorm
from leanorm import signals
from leanorm.auth_context import session_token
from leanorm.engine import Engine, current_request, reject, updated_keys, verify_marker
from leanorm.errors import HookRejected, LeanCloudError, ScriptError

from .models import EngineNote

USER = {"className": "_User", "objectId": "u1", "username": "ada", "sessionToken": "tok-ada"}


@pytest.fixture
def engine() -> Engine:
    return Engine(app_id="app", app_key="key", master_key="master", hook_key="hook")


def test_function_gets_params_as_keywords(engine: Engine) -> None:
    @engine.define
    def add(a, b=10):
        return a + b

    assert engine.dispatch("functions/add", {"a": 1, "b": 2}) == {"result": 3}
    assert engine.dispatch("functions/add", {"a": 1}) == {"result": 11}
    assert engine.dispatch("/1.1/functions/add", {"a": 5, "_ApplicationId": "app"}) == {"result": 15}


def test_function_named_explicitly_and_called_by_call(engine: Engine) -> None:
    @engine.define("greet")
    def anything(name="world"):
        return f"hello, {name}"

    assert engine.dispatch("functions/greet", {"name": "ada"}) == {"result": "hello, ada"}
    assert engine.dispatch("call/greet", {}) == {"result": "hello, world"}
    assert engine.has("call/greet") and engine.has("functions/greet") and not engine.has("functions/anything")


def test_rpc_decodes_objects_and_encodes_instances(engine: Engine) -> None:
    @engine.define
    def retitle(note, title):
        assert isinstance(note, EngineNote)
        note.title = title
        return note

    answer = engine.dispatch("call/retitle", {
        "note": {"__type": "Object", "className": "EngineNote", "objectId": "n1", "title": "old", "views": 2},
        "title": "new"})
    assert answer["result"] == {"__type": "Object", "className": "EngineNote", "objectId": "n1",
                                "title": "new", "views": 2}


def test_rpc_decodes_an_unsaved_object_as_a_new_instance_with_its_values_unsaved(engine: Engine) -> None:
    """An object the caller built and did not save arrives as it would be built here (the same
    resolver as cloud.rpc's answers): a new instance whose values are unsaved changes, so saving it
    sends them."""
    @engine.define
    def inspect(note):
        assert isinstance(note, EngineNote) and note.id is None
        return {"changed": sorted(note.changed_keys()), "title": note.title, "dirty": note.is_dirty}

    answer = engine.dispatch("call/inspect", {
        "note": {"__type": "Object", "className": "EngineNote", "title": "draft", "views": 3}})
    # tags: the field's default, which a new instance has too
    assert answer["result"] == {"changed": ["tags", "title", "views"], "title": "draft", "dirty": True}


def test_unknown_function_and_bad_params(engine: Engine) -> None:
    @engine.define
    def one(a):
        return a

    with pytest.raises(ScriptError) as err:
        engine.dispatch("functions/nope", {})
    assert err.value.code == 141 and err.value.status == 404 and "nope" in err.value.message
    with pytest.raises(ScriptError) as err:
        engine.dispatch("functions/one", {"b": 1})
    assert err.value.code == 141 and "one" in err.value.message


def test_function_errors_keep_code_and_message(engine: Engine) -> None:
    @engine.define
    def refuse():
        raise LeanCloudError(3001, "not today")

    @engine.define
    def crash():
        return 1 / 0

    with pytest.raises(LeanCloudError) as err:
        engine.dispatch("functions/refuse", {})
    assert (err.value.code, err.value.message) == (3001, "not today")
    with pytest.raises(ScriptError) as err:
        engine.dispatch("functions/crash", {})
    assert err.value.code == 141 and isinstance(err.value.__cause__, ZeroDivisionError)


def test_function_runs_as_the_caller(engine: Engine) -> None:
    seen = {}

    @engine.define
    def whoami():
        user = leanorm.current_user()
        request = current_request()
        seen.update(user=user, token=session_token(), prod=request.prod, master=request.master)
        return user.username

    assert engine.dispatch("functions/whoami", {}, user=USER, prod=False) == {"result": "ada"}
    assert isinstance(seen["user"], leanorm.User) and seen["user"].id == "u1"
    assert seen["token"] == "tok-ada" and seen["prod"] is False and seen["master"] is False
    assert leanorm.current_user() is None and session_token() is None  # nothing leaks out


def test_before_save_changes_the_object(engine: Engine) -> None:
    @engine.before_save(EngineNote)
    def tidy(note):
        assert isinstance(note, EngineNote)
        note.title = note.title.strip()
        note.increment("views", 5)
        note.add("tags", "checked")

    answer = engine.dispatch("functions/EngineNote/beforeSave",
                             {"object": {"className": "EngineNote", "title": "  hi  ", "views": 1, "tags": []}})
    assert answer == {"title": "hi", "views": 6, "tags": ["checked"]}


def test_before_save_rejects_with_code_and_message(engine: Engine) -> None:
    @engine.before_save(EngineNote)
    def check(note):
        if not note.title:
            reject("a note needs a title")
        if note.title == "spam":
            raise LeanCloudError(4040, "no spam")

    with pytest.raises(HookRejected) as err:
        engine.dispatch("functions/EngineNote/beforeSave", {"object": {"className": "EngineNote"}})
    assert (err.value.code, err.value.message) == (142, "a note needs a title")
    with pytest.raises(LeanCloudError) as err:
        engine.dispatch("functions/EngineNote/beforeSave", {"object": {"title": "spam"}})
    assert (err.value.code, err.value.message) == (4040, "no spam")


def test_invalid_change_by_a_hook_is_a_validation_failure(engine: Engine) -> None:
    @engine.before_save(EngineNote)
    def too_long(note):
        note.title = "x" * 50

    with pytest.raises(HookRejected) as err:
        engine.dispatch("functions/EngineNote/beforeSave", {"object": {"title": "ok"}})
    assert err.value.code == 142 and "title" in err.value.message


def test_before_update_sees_updated_keys(engine: Engine) -> None:
    seen = {}

    @engine.before_update(EngineNote)
    def audit(note):
        seen["keys"] = updated_keys(note)
        note.unset("tags")

    obj = {"className": "EngineNote", "objectId": "n1", "title": "t", "views": 3, "tags": ["a"],
           "_updatedKeys": ["views"], "__before": "123,abc"}
    answer = engine.dispatch("functions/EngineNote/beforeUpdate", {"object": obj})
    assert seen["keys"] == {"views"}
    assert answer == {"objectId": "n1", "title": "t", "views": 3, "tags": {"__op": "Delete"}}


def test_after_and_delete_hooks_answer_shapes(engine: Engine) -> None:
    calls = []
    engine.after_save(EngineNote)(lambda n: calls.append(("after_save", n.id)))
    engine.after_update(EngineNote)(lambda n: calls.append(("after_update", n.id)))
    engine.before_delete(EngineNote)(lambda n: calls.append(("before_delete", n.id)))
    engine.after_delete(EngineNote)(lambda n: calls.append(("after_delete", n.id)))
    obj = {"object": {"className": "EngineNote", "objectId": "n9"}}
    assert engine.dispatch("functions/EngineNote/afterSave", obj) == {"result": "ok"}
    assert engine.dispatch("functions/EngineNote/afterUpdate", obj) == {"result": "ok"}
    assert engine.dispatch("functions/EngineNote/beforeDelete", obj) == {}
    assert engine.dispatch("functions/EngineNote/afterDelete", obj) == {"result": "ok"}
    assert calls == [("after_save", "n9"), ("after_update", "n9"), ("before_delete", "n9"), ("after_delete", "n9")]


def test_hooks_run_as_the_payload_user(engine: Engine) -> None:
    seen = []
    engine.after_save(EngineNote)(lambda n: seen.append((leanorm.current_user().username, session_token())))
    engine.dispatch("functions/EngineNote/afterSave", {"object": {"objectId": "n1"}, "user": USER})
    assert seen == [("ada", "tok-ada")]


def test_after_hook_objects_carry_a_signed_after_marker(engine: Engine) -> None:
    kept = []
    engine.after_update(EngineNote)(kept.append)
    engine.dispatch("functions/EngineNote/afterUpdate", {"object": {"objectId": "n1"}})
    marker = kept[0]._payload(False)["__after"]  # a save of the instance would send it
    assert verify_marker(marker, "__after", "EngineNote", "master")
    assert not verify_marker(marker, "__after", "EngineNote", "other-key")
    assert not verify_marker(marker, "__before", "EngineNote", "master")


def test_marker_from_the_server_is_passed_on(engine: Engine) -> None:
    kept = []
    engine.after_save(EngineNote)(kept.append)
    engine.dispatch("functions/EngineNote/afterSave", {"object": {"objectId": "n1", "__after": "1,sig"}})
    assert kept[0]._payload(False)["__after"] == "1,sig"


def test_user_hooks(engine: Engine) -> None:
    seen = []

    @engine.on_login
    def login(user):
        if user.username == "banned":
            raise LeanCloudError(1, "banned")
        seen.append(("login", user.username))

    @engine.on_verified("sms")
    def verified(user):
        seen.append(("sms", user.id))

    @engine.on_auth_data
    def auth_data(data):
        return {**data, "checked": True}

    assert engine.dispatch("functions/_User/onLogin", {"object": USER}) == {"result": "ok"}
    with pytest.raises(LeanCloudError) as err:
        engine.dispatch("functions/_User/onLogin", {"object": {**USER, "username": "banned"}})
    assert err.value.message == "banned"
    assert engine.dispatch("functions/onVerified/sms", {"object": USER}) == {"result": "ok"}
    assert engine.dispatch("functions/_User/onAuthData", {"authData": {"weixin": {"openid": "x"}}}) == \
        {"result": {"weixin": {"openid": "x"}, "checked": True}}
    assert seen == [("login", "ada"), ("sms", "u1")]
    with pytest.raises(ValueError):
        engine.on_verified("fax")


def test_metadata_lists_names_for_the_master_key_only(engine: Engine) -> None:
    engine.before_save(EngineNote)(lambda n: None)
    engine.on_login(lambda u: None)
    engine.on_verified("email")(lambda u: None)
    with pytest.raises(LeanCloudError) as err:
        engine.dispatch("functions/_ops/metadatas", {})
    assert err.value.code == 401
    names = engine.dispatch("functions/_ops/metadatas", {}, master=True)["result"]
    assert {"__before_save_for_EngineNote", "__on_login__User", "__on_verified_email"} <= set(names)


def test_register_merges_and_refuses_clashes(engine: Engine) -> None:
    other = Engine()
    other.define("ping")(lambda: "pong")
    other.after_delete("EngineNote")(lambda n: None)
    engine.register(other)
    assert engine.dispatch("functions/ping", {}) == {"result": "pong"}
    assert engine.has("functions/EngineNote/afterDelete")
    clash = Engine()
    clash.define("ping")(lambda: "again")
    with pytest.raises(ValueError, match="ping"):
        engine.register(clash)
    with pytest.raises(ValueError):
        engine.define("ping")(lambda: "twice")


class SignalNote(leanorm.Model):
    """Only this test connects a receiver for it (blinker keeps it for the process)."""

    title = leanorm.StringField()


def test_hook_and_signal_share_one_receiver(engine: Engine) -> None:
    checked = []

    @engine.hook_and_signal("before_save", SignalNote)
    def no_empty_titles(note):
        checked.append(note.title)
        if not note.title:
            reject("empty title")

    signals.before_save.send(SignalNote, instance=SignalNote(title="client side"))
    engine.dispatch("functions/SignalNote/beforeSave", {"object": {"title": "server side"}})
    with pytest.raises(HookRejected):
        signals.before_save.send(SignalNote, instance=SignalNote(title=""))
    signals.before_save.send(EngineNote, instance=EngineNote(title=""))  # other models are not checked
    assert checked == ["client side", "server side", ""]
