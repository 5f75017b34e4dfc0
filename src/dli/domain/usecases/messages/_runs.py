"""The messages about runs: trigger, backfill, stop, status, logs, history."""

from __future__ import annotations

from typing import Any

import attrs

from dli.domain.model.enums import RunStatus, SourceType
from dli.domain.model.rules import RULE, checked
from dli.domain.usecases.messages import (
    _NAME,
    _RUN_ID,
    DATE,
    LIMIT,
    Message,
    _dataset_name,
    _date_text,
    _enum,
    _flag,
    _message,
    _optional_dataset_name,
    _parameters,
    _run_id,
)


@_message
class TriggerRun(Message):
    """Start an adhoc run; ``dry_run`` only validates the parameters."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters (checked against the spec's declared parameters)."""
    dry_run: bool = _flag(default=False)
    """Only validate."""


@_message
class TriggerBackfill(Message):
    """Run each date of a range in order, stopping after the first failure."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME)
    """The dataset."""
    start_date: str = attrs.field(validator=_date_text, metadata={RULE: DATE})
    """First date, YYYY-MM-DD."""
    end_date: str = attrs.field(validator=_date_text, metadata={RULE: DATE})
    """Last date, YYYY-MM-DD (inclusive)."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters for every date (of this dataset; its downstreams run with their defaults)."""
    dry_run: bool = _flag(default=False)
    """Only list the dates."""
    with_downstream: bool = _flag(default=False)
    """Also run every managed dataset downstream of it, date by date in dependency order."""


@_message
class StopRun(Message):
    """Kill a pending or running run (DLI-807 when it already finished)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID)
    """Public run id (``<dataset>@<run>``)."""


@_message
class GetRunStatus(Message):
    """The status of one run (DLI-800 when unknown)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID)
    """Public run id."""


@_message
class GetRunLogs(Message):
    """The task logs of one run."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID)
    """Public run id."""


@_message
class GetHistory(Message):
    """Runs, newest first, with the dataset's metadata when one dataset is named."""

    dataset_name: str | None = attrs.field(default=None, validator=_optional_dataset_name, metadata=_NAME)
    """Only this dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only runs of workflows of this source."""
    run_status: RunStatus | None = attrs.field(default=None, converter=_enum(RunStatus, "run status", upper=True))
    """Only runs in this status."""
    limit: int = checked(LIMIT, request=True, default=20)
    """At most this many runs."""
    include_dataset_info: bool = _flag(default=True)
    """Add the dataset's owner, team and description (when one dataset is named)."""
