"""The PostgreSQL database the tests run the embedded server on (the ``postgresql`` backend).

``LEANORM_TEST_POSTGRESQL`` names it (``postgresql://leanorm:leanorm@127.0.0.1:5432/leanorm_test``); the
tests wipe it, so it must be one of their own. Unset, the tests that need it are skipped (with
``LEANORM_REQUIRE_POSTGRESQL=1``, as CI sets, they fail instead).

With ``LEANORM_TEST_SERVE_STORE=postgresql`` every ``leanorm serve`` the tests start (``tests/served.py``)
runs on PostgreSQL instead of the SQLite file it is given: each file named gets a schema of its own in
that database (:func:`schema_url`), made empty on first use in the process and dropped when it ends.
"""
from __future__ import annotations

import atexit
import os
from typing import Any, Dict, List, Tuple
from urllib.parse import quote

import pytest

#: what the wipe keeps: the functions and operators the store defines (set up once per database)
_WIPE = """
DO $$ DECLARE t record; BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'c\\_%' LOOP
        EXECUTE format('DROP TABLE %I CASCADE', t.tablename);
    END LOOP;
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE '\\_%'
             AND tablename <> '_leanorm' LOOP
        EXECUTE format('TRUNCATE %I', t.tablename);
    END LOOP;
END $$
"""


def database_url() -> str:
    """The test database's URL; skips (or fails, when required) the test without one."""
    url = os.environ.get("LEANORM_TEST_POSTGRESQL", "")
    if not url:
        if os.environ.get("LEANORM_REQUIRE_POSTGRESQL") == "1":
            pytest.fail("LEANORM_REQUIRE_POSTGRESQL=1 but LEANORM_TEST_POSTGRESQL is not set")
        pytest.skip("no PostgreSQL database configured (LEANORM_TEST_POSTGRESQL)")
    return url


def wipe(url: str) -> None:
    """Empty the test database: no class tables, empty server tables."""
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_WIPE)


def wiped_database_url() -> str:
    """``local+postgresql://...`` for a client of the embedded server on the emptied test database."""
    url = database_url()
    wipe(url)
    return "local+" + url


_SCHEMAS: Dict[str, str] = {}

#: the stores a test parametrized by store runs on (``serve(..., store=store)``): PostgreSQL's is skipped
#: without a test database
STORES = ("sqlite", "postgresql")


def serving_on_postgresql() -> bool:
    """Whether the tests' ``leanorm serve`` runs on PostgreSQL (``LEANORM_TEST_SERVE_STORE``)."""
    return os.environ.get("LEANORM_TEST_SERVE_STORE", "") == "postgresql"


def schema_url(name: str) -> str:
    """The test database's URL with a schema of its own for ``name`` (a database file a test names): the
    same name, the same schema (a test serving one file twice finds its data), made empty on first use."""
    url = database_url()
    schema = _SCHEMAS.get(name)
    if schema is None:
        psycopg = pytest.importorskip("psycopg")
        schema = _SCHEMAS[name] = f"t{os.getpid()}_{len(_SCHEMAS)}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        if len(_SCHEMAS) == 1:
            atexit.register(_drop_schemas, url)
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def _drop_schemas(url: str) -> None:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in _SCHEMAS.values():
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run(url: str, statements: List[str], parameters: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    """``statements`` (SQLite's dialect, translated as the PostgreSQL store translates it) on ``url`` in
    turn, committed; the rows the last one answers."""
    psycopg = pytest.importorskip("psycopg")
    from leanorm.embedded.storage.pg_connection import PGConnection, configure
    rows: List[Tuple[Any, ...]] = []
    with psycopg.connect(url, autocommit=True) as raw:
        configure(raw)
        conn = PGConnection(raw)
        for statement in statements:
            rows = [tuple(row) for row in conn.execute(statement, parameters).fetchall()]
    return rows
