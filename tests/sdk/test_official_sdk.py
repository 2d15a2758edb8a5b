"""The official ``leancloud`` Python SDK 3.0.2 against ``leanorm serve``.

``scenario.py`` runs in the SDK's own virtualenv (see ``conftest.py``) and drives objects, atomic
operations, queries, batch, relations and users through the SDK's public API; these tests assert what
it reports, then read the same objects back through leanorm over HTTP, so a value the SDK wrote is
checked by a second, independent client.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, Iterator

import arrow
import pytest

import leanorm
from leanorm import (DateTimeField, DictField, GeoPointField, IntegerField, ListField, Model, PointerField,
                     RelationField, StringField)
from leanorm.client import Client

from tests.served import Served

from .conftest import run_scenario, value

SCENARIO = Path(__file__).with_name("scenario.py")
WHEN = dt.datetime(2024, 5, 17, 8, 30, 15, 250000, tzinfo=dt.timezone.utc)  # scenario.WHEN


class SdkAuthor(Model):
    name = StringField()

    class Meta:
        class_name = "SdkAuthor"


class SdkTag(Model):
    name = StringField()

    class Meta:
        class_name = "SdkTag"


class SdkTodo(Model):
    title = StringField()
    priority = IntegerField()
    due = DateTimeField()
    tags = ListField(StringField())
    meta = DictField()
    where = GeoPointField()
    author = PointerField(SdkAuthor)
    note = StringField()
    count = IntegerField()
    labels = ListField(StringField())
    rank = IntegerField()
    group = StringField()
    labelled = RelationField(SdkTag)

    class Meta:
        class_name = "SdkTodo"


@pytest.fixture(scope="module")
def scenario(sdk_python: Path, served: Served) -> Dict[str, Any]:
    """Run the whole SDK scenario once; ``{step: {"ok", "value" | "error", "traceback"}}``."""
    return run_scenario(sdk_python, SCENARIO, served)


@pytest.fixture(scope="module")
def orm(served: Served) -> Iterator[Client]:
    """leanorm as a second client of the same server (LeanCloud dialect over HTTP)."""
    client = leanorm.connect(served.leanorm_url, default=False)
    with leanorm.using(client):
        yield client
    client.close()


# -- objects ------------------------------------------------------------------------------------------------
def test_create_and_fetch_round_trip_every_type(scenario: Dict[str, Any]) -> None:
    created = value(scenario, "crud_create")
    assert created["id"] and created["author_id"] and created["has_created_at"]
    fetched = value(scenario, "crud_fetch")
    assert fetched["title"] == "write tests"
    assert fetched["priority"] == 3 and fetched["done"] is False
    assert fetched["due"] == WHEN.isoformat()
    assert fetched["tags"] == ["a", "b"]
    assert fetched["meta"] == {"lang": "en", "level": 2}
    assert fetched["where"] == [39.9, 116.4]
    assert fetched["author_id"] == created["author_id"]
    assert fetched["created_at"] == fetched["updated_at"]


def test_update_unset_fetch_when_save_and_conditional_save(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "crud_update") == {"title": "write more tests", "has_meta": False}
    assert value(scenario, "crud_fetch_when_save") == {"note": "fresh", "title": "write more tests"}
    assert value(scenario, "crud_conditional_save") == {"note": "guarded", "refused_code": 305}


def test_unsaved_child_is_saved_first_and_destroy_removes(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "crud_unsaved_child") == {"author_name": "Grace"}
    assert value(scenario, "crud_destroy") == {"exists": False}


# -- atomic operations ----------------------------------------------------------------------------------
def test_atomic_operations(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "atomic_ops") == {"answered": {"count": 15, "labels": ["x", "y"]},
                                             "count": 13, "labels": ["x", "z"]}
    assert value(scenario, "atomic_concurrent_increments") == {"count": 1113}
    assert value(scenario, "atomic_bit_ops") == {"answered": 0b1010, "stored": 0b1010}


# -- queries ------------------------------------------------------------------------------------------------
def test_queries(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "query_setup") == {"saved": 10}
    assert value(scenario, "query_equal_to") == ["q0", "q2", "q4", "q6", "q8"]
    assert value(scenario, "query_greater_than") == ["q7", "q8", "q9"]
    assert value(scenario, "query_contained_in") == ["q1", "q4", "q7"]
    assert value(scenario, "query_matched") == {"plain": ["q0", "q1", "q2"], "ignore_case": ["q9"]}
    assert value(scenario, "query_order") == {"descending": ["q9", "q8", "q7"],
                                              "two_keys": ["q8", "q6", "q4", "q2", "q0", "q9"]}
    assert value(scenario, "query_limit_skip") == ["q2", "q3", "q4"]
    assert value(scenario, "query_count") == {"all": 10, "odd": 5}
    assert value(scenario, "query_first") == {"title": "q9", "missing_code": 101}
    assert value(scenario, "query_include") == {"author_name": "Ada"}
    assert value(scenario, "query_select") == {"title": "q5", "has_rank": False}
    assert value(scenario, "query_compound") == {"or": ["q0", "q1", "q8", "q9"], "and": ["q3", "q4"]}
    assert value(scenario, "query_matches_query") == 10


def test_more_operators_geo_and_scan(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "query_more_operators") == {
        "not_equal": 5, "does_not_exist": 1, "startswith": ["write more tests"], "contains_all": ["counter"],
        "size": ["write more tests"], "date": ["write more tests"]}
    assert value(scenario, "query_geo") == {"near": ["write more tests"], "within_km": ["write more tests"],
                                            "too_far": [], "box": ["write more tests"]}
    assert value(scenario, "query_scan") == [f"q{i}" for i in range(10)]


# -- batch and relations ------------------------------------------------------------------------------------
def test_batch_save_all_and_destroy_all(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "batch_save_and_destroy") == {"ids": 5, "created": 5, "hits": [1] * 5,
                                                         "left_are_last_two": True}


def test_relations(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "relations") == {"before": ["blue", "green", "red"], "after": ["blue", "red"],
                                            "reverse": [True]}


# -- users --------------------------------------------------------------------------------------------------
def test_users(scenario: Dict[str, Any]) -> None:
    assert value(scenario, "users_sign_up") == {"id": True, "token": True, "is_current": True,
                                                "password_dropped": True, "taken_code": 202}
    assert value(scenario, "users_current_save") == "countess"
    assert value(scenario, "users_logout_and_login") == {"logged_out": True, "id_same": True, "nickname": "countess",
                                                         "wrong_password_code": 210, "new_token": True}
    assert value(scenario, "users_become") == {"id_same": True, "username": "ada", "is_current": True,
                                               "bad_token_code": 211}  # LeanCloud's users/me
    assert value(scenario, "users_update_password") == {"id_same": True, "old_password_code": 210}
    assert value(scenario, "users_refresh_session_token") == {"changed": True, "old_token_code": 211}
    assert value(scenario, "users_roles") == ["Editors"]


def test_acl_written_by_the_sdk_protects_the_object(scenario: Dict[str, Any]) -> None:
    result = value(scenario, "users_acl")
    assert result["anonymous_write_code"] is not None  # refused (LeanCloud's code differs: docs/embedded.md)
    assert result["title"] == "private"


# -- the same objects read back through leanorm ------------------------------------------------------------
def test_leanorm_reads_what_the_sdk_wrote(scenario: Dict[str, Any], orm: Client) -> None:
    ids = scenario["_ids"]
    todo = SdkTodo.objects.get(id=ids["todo"])
    assert todo.title == "write more tests" and todo.priority == 3 and todo.note == "guarded"
    assert todo.due == arrow.get(WHEN)
    assert todo.tags == ["a", "b"] and todo.meta is None
    assert (todo.where.latitude, todo.where.longitude) == (39.9, 116.4)
    assert SdkAuthor.objects.get(id=todo.author.id).name == "Ada"

    counter = SdkTodo.objects.get(id=ids["counter"])
    assert counter.count == 1113 and counter.labels == ["x", "z"]

    tagged = SdkTodo.objects.get(id=ids["tagged"])
    assert sorted(t.name for t in tagged.labelled.all()) == ["blue", "red"]

    assert SdkTodo.objects.filter(rank__gte=0).count() == 10
    assert [t.title for t in SdkTodo.objects.filter(group="odd").order_by("-rank")[:2]] == ["q9", "q7"]


def test_leanorm_logs_in_as_the_user_the_sdk_signed_up(scenario: Dict[str, Any], orm: Client) -> None:
    user = leanorm.User.login("ada", "n3w-secret")
    assert user.id == scenario["_ids"]["user"]
    assert user.username == "ada" and user.email == "ada@example.com"
    with leanorm.as_user(user):
        private = SdkTodo.objects.get(id=scenario["_ids"]["private"])
        private.title = "edited by its owner"
        private.save()
    assert SdkTodo.objects.get(id=scenario["_ids"]["private"]).title == "edited by its owner"
