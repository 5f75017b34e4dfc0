"""The production stack's own promises: PostgreSQL and Redis are there (the test command installs
them, nothing is skipped without them), and a component that dies is reported with its log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.production_stack import Component, ProductionStackError, find_postgres_bin, find_redis_server


def test_postgresql_and_redis_are_installed_for_the_production_suite() -> None:
    assert (find_postgres_bin() / "postgres").is_file()
    assert Path(find_redis_server()).is_file()


def test_a_component_that_dies_is_reported_with_the_tail_of_its_log(tmp_path: Path) -> None:
    component = Component(
        "doomed",
        ["sh", "-c", "echo 'FATAL: no such database'; exit 3"],
        log=tmp_path / "doomed.log",
        env=os.environ,
        cwd=tmp_path,
    )
    component.proc.wait(timeout=10)
    with pytest.raises(ProductionStackError, match=r"(?s)doomed exited \(code 3\).*FATAL: no such database"):
        component.check()
