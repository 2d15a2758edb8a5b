"""The PostgreSQL database the tests run the embedded server on (the ``postgresql`` backend).

``LEANORM_TEST_POSTGRESQL`` names it (``postgresql://leanorm:leanorm@127.0.0.1:5432/leanorm_test``); the
tests wipe it, so it must be one of their own. Unset, the tests that need it are skipped (with
``LEANORM_REQUIRE_POSTGRESQL=1``, as CI sets, they fail instead).
"""
from __future__ import annotations

import os

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
