"""Session fixtures of the end-to-end suite: one real Airflow, Basecamp and moto for all tests."""

from __future__ import annotations

import pytest

from tests.e2e.stack import E2EStack, shared_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack() -> E2EStack:
    return shared_stack()
