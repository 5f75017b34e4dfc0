"""``ListWorkflows``, alone: ``dli workflow list`` builds no other message class."""

from __future__ import annotations

import attrs

from dli.domain.model.enums import SourceType, WorkflowStatus
from dli.domain.usecases.messages import (
    MAX_PAGE,
    Message,
    _cursor,
    _enum,
    _flag,
    _message,
    _page_size,
    _schema,
)


@_message
class ListWorkflows(Message):
    """Workflows matching the filters, sorted by name (an overridden MANUAL one is listed too)."""

    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only this source."""
    status: WorkflowStatus | None = attrs.field(default=None, converter=_enum(WorkflowStatus, "workflow status"))
    """Only this status."""
    dataset_filter: str | None = attrs.field(default=None, converter=lambda v: v or None)
    """Substring (or glob with ``*``) the dataset name must match."""
    running_only: bool = attrs.field(default=False, validator=_flag)
    """Only workflows with a pending or running run."""
    enabled_only: bool = attrs.field(default=False, validator=_flag)
    """Only active workflows (not paused, not overridden)."""
    limit: int = attrs.field(default=100, validator=_page_size, metadata=_schema(minimum=1, maximum=MAX_PAGE))
    """At most this many (one page, up to ``MAX_PAGE``)."""
    after: str | None = attrs.field(default=None, converter=lambda v: v or None, validator=_cursor)
    """Start after this row: the ``next_cursor`` of the previous page."""
