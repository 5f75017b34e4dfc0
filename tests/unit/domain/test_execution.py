"""The execution settings of a dataset's SQL tasks: the ``execution`` block, ``schedule.retry`` and defaults."""

from __future__ import annotations

from typing import Any

import pytest

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.execution import ExecutionSettings, execution_settings
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec

COMPAT = {"timeout_seconds": 1800, "retry_count": 3, "retry_delay_seconds": 60, "dialect": "trino"}


def _spec(execution: Any = None, *, attempts: int = 1, delay: int = 300, scheduled: bool = True) -> DatasetSpec:
    schedule = (
        ScheduleConfig(cron="0 9 * * *", retry_max_attempts=attempts, retry_delay_seconds=delay) if scheduled else None
    )
    return DatasetSpec(name="shop.daily", query_statement="SELECT 1", execution=execution or {}, schedule=schedule)


def test_without_an_execution_block_the_built_in_defaults_apply() -> None:
    assert execution_settings(_spec()) == ExecutionSettings(
        retries=0, retry_delay_seconds=300, timeout_seconds=None, dialect=None, conn_id=None
    )


def test_the_execution_block_sets_retries_delay_timeout_and_dialect() -> None:
    assert execution_settings(_spec(COMPAT)) == ExecutionSettings(
        retries=3, retry_delay_seconds=60, timeout_seconds=1800, dialect="trino", conn_id=None
    )


def test_register_retry_flags_win_over_the_execution_block_when_they_differ_from_their_defaults() -> None:
    settings = execution_settings(_spec(COMPAT, attempts=5, delay=10))
    assert (settings.retries, settings.retry_delay_seconds, settings.timeout_seconds) == (4, 10, 1800)


def test_each_register_retry_flag_wins_on_its_own() -> None:
    attempts_only = execution_settings(_spec(COMPAT, attempts=2))
    assert (attempts_only.retries, attempts_only.retry_delay_seconds) == (1, 60)
    delay_only = execution_settings(_spec(COMPAT, delay=5))
    assert (delay_only.retries, delay_only.retry_delay_seconds) == (3, 5)


def test_a_stored_retry_equal_to_the_register_defaults_yields_to_the_execution_block() -> None:
    # The stored schedule always holds both values: 1 attempt / 300 s reads as "not given".
    settings = execution_settings(_spec(COMPAT, attempts=1, delay=300))
    assert (settings.retries, settings.retry_delay_seconds) == (3, 60)


def test_a_stored_retry_applies_without_an_execution_block() -> None:
    settings = execution_settings(_spec(attempts=3, delay=60))
    assert (settings.retries, settings.retry_delay_seconds) == (2, 60)


def test_a_spec_without_schedule_reads_the_execution_block_alone() -> None:
    assert execution_settings(_spec(COMPAT, scheduled=False)).retries == 3


def test_zero_retries_and_zero_delay_in_the_execution_block_are_kept() -> None:
    settings = execution_settings(_spec({"retry_count": 0, "retry_delay_seconds": 0}))
    assert (settings.retries, settings.retry_delay_seconds) == (0, 0)


def test_the_dialect_is_read_in_lower_case_and_conn_id_as_written() -> None:
    settings = execution_settings(_spec({"dialect": "Trino", "conn_id": "Trino-Prod"}))
    assert (settings.dialect, settings.conn_id) == ("trino", "Trino-Prod")


def test_unknown_execution_keys_are_ignored() -> None:
    assert execution_settings(_spec({"engine": "spark", "retry_count": 1})).retries == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retry_count", -1),
        ("retry_count", "3"),
        ("retry_count", True),
        ("retry_count", 1.5),
        ("retry_delay_seconds", -5),
        ("retry_delay_seconds", "1m"),
        ("timeout_seconds", 0),
        ("timeout_seconds", "30m"),
        ("dialect", ""),
        ("dialect", "trino; drop"),
        ("dialect", 3),
        ("conn_id", "my conn"),
        ("conn_id", ""),
        ("conn_id", ["a"]),
    ],
)
def test_a_bad_execution_value_is_refused_when_the_spec_is_built_naming_the_key(key: str, value: Any) -> None:
    with pytest.raises(SpecInvalidError) as exc:
        _spec({key: value})
    assert exc.value.code.value == "DLI-203"
    assert f"execution.{key}" in exc.value.message
    assert exc.value.hints


def test_an_execution_block_that_is_not_a_mapping_is_refused_when_the_spec_is_built() -> None:
    with pytest.raises(SpecInvalidError, match="execution: expected a mapping"):
        _spec(["retry_count", 3])
