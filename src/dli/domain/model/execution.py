"""How a dataset's SQL runs: retries, retry delay, timeout, dialect and connection, from its spec.

A spec carries these in two places. ``schedule.retry`` is written by ``dli workflow register
--retry-attempts/--retry-delay`` (or by hand); the ``execution`` block comes from the project
(``timeout_seconds``, ``retry_count``, ``retry_delay_seconds``, ``dialect``, ``conn_id``), with the
keys it lacks filled in from ``dli.yaml`` ``defaults`` by the project loader. One precedence,
setting by setting: ``schedule.retry``, then ``execution``, then the built-in defaults.

The stored ``schedule.retry`` always holds both values, so a value equal to its built-in default
(1 attempt, 300 s) cannot be told from "not given" and yields to ``execution``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec

__all__ = ["DEFAULT_RETRIES", "DEFAULT_RETRY_DELAY_SECONDS", "ExecutionSettings", "execution_settings"]

# The register flags' defaults are the schedule's: a stored value equal to them reads as "not given".
_DEFAULT_ATTEMPTS: int = attrs.fields(ScheduleConfig).retry_max_attempts.default
DEFAULT_RETRY_DELAY_SECONDS: int = attrs.fields(ScheduleConfig).retry_delay_seconds.default
DEFAULT_RETRIES = _DEFAULT_ATTEMPTS - 1

# A dialect becomes part of a connection id (``<dialect>_default``); Airflow's own conn id rule
# (letters, digits and ``_#!()-.:/\``, at most 250) applies to ``conn_id``.
_DIALECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CONN_ID = re.compile(r"[\w#!()\-.:/\\]{1,250}")
_EXAMPLE = "e.g. execution: {timeout_seconds: 1800, retry_count: 3, retry_delay_seconds: 60, dialect: trino}"


@attrs.frozen(kw_only=True)
class ExecutionSettings:
    """What every SQL task of a dataset runs with."""

    retries: int = DEFAULT_RETRIES
    """Retries after a failed attempt (>= 0)."""
    retry_delay_seconds: int = DEFAULT_RETRY_DELAY_SECONDS
    """Seconds between attempts (>= 0)."""
    timeout_seconds: int | None = None
    """Seconds one attempt may run before it is killed; ``None``: no limit."""
    dialect: str | None = None
    """SQL dialect of the statements (lower case), e.g. ``trino``; picks the connection."""
    conn_id: str | None = None
    """Connection named by the spec; wins over the dialect's."""


def _whole(execution: Mapping[str, Any], key: str, *, minimum: int, where: str) -> int | None:
    value = execution.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecInvalidError(
            f"{where}: execution.{key} must be a whole number >= {minimum}, got {value!r}",
            hints=(_EXAMPLE,) if key != "timeout_seconds" else ("Leave timeout_seconds out for no time limit.", _EXAMPLE),
        )
    return value


def _name(execution: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str, *, where: str) -> str | None:
    value = execution.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecInvalidError(f"{where}: execution.{key} must be {what}, got {value!r}", hints=(_EXAMPLE,))
    return value


def execution_settings(spec: DatasetSpec) -> ExecutionSettings:
    """The settings of ``spec``'s SQL tasks, by the precedence in this module's docstring.

    Raises:
        SpecInvalidError: A value of the ``execution`` block has the wrong type or range (DLI-203).
    """
    where = spec.name
    execution = spec.execution
    if not isinstance(execution, Mapping):
        raise SpecInvalidError(f"{where}: execution must be a mapping, got {type(execution).__name__}", hints=(_EXAMPLE,))
    retries = _whole(execution, "retry_count", minimum=0, where=where)
    delay = _whole(execution, "retry_delay_seconds", minimum=0, where=where)
    timeout = _whole(execution, "timeout_seconds", minimum=1, where=where)
    dialect = _name(execution, "dialect", _DIALECT, "a name such as 'trino' or 'sqlite'", where=where)
    conn_id = _name(execution, "conn_id", _CONN_ID, "an Airflow connection id", where=where)
    schedule = spec.schedule
    if schedule is not None and schedule.retry_max_attempts != _DEFAULT_ATTEMPTS:
        retries = schedule.retry_max_attempts - 1
    if schedule is not None and schedule.retry_delay_seconds != DEFAULT_RETRY_DELAY_SECONDS:
        delay = schedule.retry_delay_seconds
    return ExecutionSettings(
        retries=DEFAULT_RETRIES if retries is None else retries,
        retry_delay_seconds=DEFAULT_RETRY_DELAY_SECONDS if delay is None else delay,
        timeout_seconds=timeout,
        dialect=dialect.lower() if dialect else None,
        conn_id=conn_id,
    )
