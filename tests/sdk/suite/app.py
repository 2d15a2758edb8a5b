"""What the LeanCloud app the official SDK's suite was written against held beyond its tests' own
writes, for ``leanorm serve --engine tests.sdk.suite.app:engine``: the cloud function ``add`` that
``test_engine.test_client`` calls (``cloud.run("add", a=1, b=2) == 3``)."""
from leanorm.engine import Engine

engine = Engine()


@engine.define
def add(a: float = 0, b: float = 0) -> float:
    return a + b
