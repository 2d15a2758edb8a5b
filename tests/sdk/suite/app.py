"""What the LeanCloud app the official SDK's suite was written against held beyond its tests' own
writes, for ``leanorm serve --engine tests.sdk.suite.app:engine``: the cloud function ``add`` that
``test_engine.test_client`` calls (``cloud.run("add", a=1, b=2) == 3``), and a verifier of the made-up
platform ``xxx`` that ``test_user``'s third-party logins use (the embedded backend refuses a platform
nobody verifies; LeanCloud's test app took any)."""
from typing import Any, Dict

from leanorm.engine import Engine, reject

engine = Engine()


@engine.define
def add(a: float = 0, b: float = 0) -> float:
    return a + b


@engine.on_auth_data
def verify_test_platform(auth_data: Dict[str, Any]) -> Dict[str, Any]:
    if set(auth_data) - {"xxx"}:
        reject("only the test platform xxx is verified here", code=252)
    return auth_data
