"""The real Parse Server for the engine tests (skipped without ``LEANORM_PARSE_URL`` unless
``LEANORM_REQUIRE_PARSE=1``, like the conformance suite)."""
from __future__ import annotations

import os

import pytest

import leanorm


def parse_client() -> leanorm.Client:
    url = os.environ.get("LEANORM_PARSE_URL")
    if not url:
        if os.environ.get("LEANORM_REQUIRE_PARSE") == "1":
            pytest.fail("LEANORM_REQUIRE_PARSE=1 but LEANORM_PARSE_URL is not set: start scripts/parse-server")
        pytest.skip("no Parse Server configured (LEANORM_PARSE_URL)")
    return leanorm.connect(url, default=False)
