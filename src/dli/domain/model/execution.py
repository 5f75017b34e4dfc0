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

import attrs

from dli.domain.model.schedule import DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_DELAY_SECONDS
from dli.domain.model.spec import DatasetSpec

__all__ = ["DEFAULT_RETRIES", "DEFAULT_RETRY_DELAY_SECONDS", "ExecutionSettings", "execution_settings"]

# The register flags' defaults are the schedule's: a stored value equal to them reads as "not given".
_DEFAULT_ATTEMPTS = DEFAULT_RETRY_ATTEMPTS
DEFAULT_RETRIES = _DEFAULT_ATTEMPTS - 1


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


def execution_settings(spec: DatasetSpec) -> ExecutionSettings:
    """The settings of ``spec``'s SQL tasks, by the precedence in this module's docstring.

    The spec checked the block's types and ranges when it was built (``check_execution``).
    """
    execution = spec.execution
    retries, delay = execution.get("retry_count"), execution.get("retry_delay_seconds")
    timeout = execution.get("timeout_seconds")
    dialect, conn_id = execution.get("dialect"), execution.get("conn_id")
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
