"""What the black-box HTTP fuzzer (``test_http_fuzz.py``) found, each as the one request that showed it,
against a real ``leanorm serve`` (docs/security.md, "The fuzzing tier")."""
from __future__ import annotations

import requests

from tests.served import Served, served  # noqa: F401 (fixture)


def _typed_error(resp: requests.Response) -> None:
    answer = resp.json()
    assert type(answer.get("code")) is int and isinstance(answer.get("error"), str), answer


def test_an_operations_endpoint_refuses_a_method_with_a_typed_error(served: Served) -> None:  # noqa: F811
    """``POST /health`` answered 405 ``{"status": "error", "error": ...}``: the only 4xx without a code."""
    for method, path in (("POST", "/health"), ("DELETE", "/ready"), ("PUT", "/health")):
        resp = requests.request(method, served.base_url + path, timeout=30)
        assert resp.status_code == 405
        _typed_error(resp)
        assert resp.json()["status"] == "error"  # what a load balancer reads stays
