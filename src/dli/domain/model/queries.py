"""Queries: the filters of ``list`` and ``history``."""

from __future__ import annotations

import attrs

from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import ParameterInvalidError

__all__ = ["HistoryQuery", "ListQuery"]


def _check_limit(_i: object, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise ParameterInvalidError(f"{attribute.name} must be between 1 and 10000, got {value!r}")


@attrs.frozen(kw_only=True)
class ListQuery:
    """Filters of ``list_workflows`` (spec §4.1, §5.3)."""

    source_type: SourceType | None = None
    """Only this source."""
    status: WorkflowStatus | None = None
    """Only this status."""
    dataset_filter: str | None = None
    """Substring (or glob with ``*``) the dataset name must match."""
    running_only: bool = False
    """Only workflows with a pending or running run."""
    enabled_only: bool = False
    """Only active workflows (not paused, not overridden)."""
    limit: int = attrs.field(default=100, validator=_check_limit)
    """At most this many."""


@attrs.frozen(kw_only=True)
class HistoryQuery:
    """Filters of ``history`` (spec §4.1, §5.4)."""

    dataset_name: str | None = None
    """Only this dataset."""
    source_type: SourceType | None = None
    """Only runs of workflows of this source."""
    run_status: RunStatus | None = None
    """Only runs in this status."""
    limit: int = attrs.field(default=20, validator=_check_limit)
    """At most this many runs."""
    include_dataset_info: bool = True
    """Add the dataset's owner, team and description (when one dataset is named)."""
