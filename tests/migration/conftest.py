"""The official SDK's interpreter (tests/sdk) for the migration tests."""
from tests.sdk.conftest import sdk_python  # noqa: F401  (the fixture)
