"""Real-app patterns driven by the official SDK 3.0.2, unchanged, against ``leanorm serve`` hosting an
Engine whose hooks write through the ORM (``app_patterns.py``, ``app_engine.py``): the SDK's answers
are asserted, and what its hooks wrote is read back through leanorm."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import leanorm
from leanorm.client import Client

from tests.sdk.app_engine import AppAudit, AppBoard, AppPost
from tests.served import Served, serve

from .conftest import run_scenario, value

SCENARIO = Path(__file__).with_name("app_patterns.py")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("app") / "app.sqlite3", "--engine", "tests.sdk.app_engine:engine") as running:
        yield running


@pytest.fixture(scope="module")
def results(sdk_python: Path, app_server: Served) -> Dict[str, Any]:
    return run_scenario(sdk_python, SCENARIO, app_server)


def test_user_subclass_with_properties(results: Dict[str, Any]) -> None:
    assert value(results, "user_subclass") == {"class": "Member", "display": "Ada (@ada)", "login_nickname": "Ada",
                                               "current": True}


def test_hooks_write_through_the_orm(results: Dict[str, Any]) -> None:
    assert value(results, "hooks_write_through_the_orm") == {
        "slug": "hello-world", "audits": 5, "audit_by": True, "summary": {"posts": 5, "audits": 5, "board": 5}}


def test_pointer_fetch_and_include(results: Dict[str, Any]) -> None:
    assert value(results, "pointer_fetch_and_include") == {"unfetched": None, "fetched": "Ada",
                                                           "included": ["Ada", "Ada"], "audit_post": True}


def test_relations_with_skip_limit_and_or(results: Dict[str, Any]) -> None:
    assert value(results, "relations_with_skip_limit_or") == {"page": ["b", "c"], "or": ["a", "e"],
                                                              "count_after_remove": 4}


def test_roles_and_membership(results: Dict[str, Any]) -> None:
    assert value(results, "roles_and_membership") == {"members": ["ada"], "roles_of_ada": ["Admins"], "ada_sees": 1,
                                                      "bob_sees": 0, "empty_role_members": 0,
                                                      "bob_is_not_admin": True}


def test_files_by_upload_and_by_url(results: Dict[str, Any]) -> None:
    assert value(results, "files_by_upload_and_by_url") == {
        "attachment_id": True, "name": "notes.txt", "bytes": "meeting at noon", "size": 15,
        "logo_url": "https://example.com/logo.png", "fetched": ["logo.png", "https://example.com/logo.png"],
        "owner": True}


def test_cql_with_pvalues(results: Dict[str, Any]) -> None:
    assert value(results, "cql_with_pvalues") == {"titles": ["Fifth", "Fourth"], "count": 2,
                                                  "listed": ["Hello World", "Fifth"], "bad_code": 300}


def test_leanorm_reads_what_the_hooks_wrote(results: Dict[str, Any], app_server: Served) -> None:
    client: Client = leanorm.connect(app_server.leanorm_url, default=False)
    try:
        with leanorm.using(client), leanorm.using_master():
            posts = results["_ids"]["posts"]
            audits = AppAudit.objects.filter(post__in=AppPost.objects.filter(id__in=posts))
            assert audits.count() == 5
            assert {a.by.id for a in audits} == {results["_ids"]["ada"]}
            assert AppBoard.objects.get(name="main").posts == 7  # five posts, the admins' one, the files' one
            assert sorted(p.slug for p in AppPost.objects.filter(id__in=posts)) == [
                "fifth", "fourth", "hello-world", "second-post", "third-one"]
    finally:
        client.close()
