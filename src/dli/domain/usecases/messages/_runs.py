"""The messages about runs: trigger, backfill, stop, status, logs, history."""

from __future__ import annotations

from typing import Any

import attrs

from dli.domain.model.enums import RunStatus, SourceType
from dli.domain.usecases.messages import (
    _DATE_SCHEMA,
    _LIMIT_SCHEMA,
    _NAME_SCHEMA,
    _RUN_ID_SCHEMA,
    Message,
    _dataset_name,
    _date_text,
    _enum,
    _flag,
    _limit,
    _message,
    _optional_dataset_name,
    _parameters,
    _run_id,
)


@_message
class TriggerRun(Message):
    """Start an adhoc run; ``dry_run`` only validates the parameters."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters (checked against the spec's declared parameters)."""
    dry_run: bool = attrs.field(default=False, validator=_flag)
    """Only validate."""


@_message
class TriggerBackfill(Message):
    """Run each date of a range in order, stopping after the first failure."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    start_date: str = attrs.field(validator=_date_text, metadata=_DATE_SCHEMA)
    """First date, YYYY-MM-DD."""
    end_date: str = attrs.field(validator=_date_text, metadata=_DATE_SCHEMA)
    """Last date, YYYY-MM-DD (inclusive)."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters for every date (of this dataset; its downstreams run with their defaults)."""
    dry_run: bool = attrs.field(default=False, validator=_flag)
    """Only list the dates."""
    with_downstream: bool = attrs.field(default=False, validator=_flag)
    """Also run every managed dataset downstream of it, date by date in dependency order."""


@_message
class StopRun(Message):
    """Kill a pending or running run (DLI-807 when it already finished)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id (``<dataset>@<run>``)."""


@_message
class GetRunStatus(Message):
    """The status of one run (DLI-800 when unknown)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id."""


@_message
class GetRunLogs(Message):
    """The task logs of one run."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id."""


@_message
class GetHistory(Message):
    """Runs, newest first, with the dataset's metadata when one dataset is named."""

    dataset_name: str | None = attrs.field(default=None, validator=_optional_dataset_name, metadata=_NAME_SCHEMA)
    """Only this dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only runs of workflows of this source."""
    run_status: RunStatus | None = attrs.field(default=None, converter=_enum(RunStatus, "run status", upper=True))
    """Only runs in this status."""
    limit: int = attrs.field(default=20, validator=_limit, metadata=_LIMIT_SCHEMA)
    """At most this many runs."""
    include_dataset_info: bool = attrs.field(default=True, validator=_flag)
    """Add the dataset's owner, team and description (when one dataset is named)."""
