"""``ListWorkflows``, alone: ``dli workflow list`` builds no other message class."""

from __future__ import annotations

import attrs

from typing import Any

from dli.domain.model.enums import SourceType, WorkflowStatus
from dli.domain.model.errors import DLIError
from dli.domain.model.names import DATASET_NAME, MAX_NAME_LENGTH
from dli.domain.model.rules import Flag, Rule, Text, Whole, checked
from dli.domain.usecases.messages import MAX_PAGE, Message, _enum, _message


@attrs.frozen(kw_only=True)
class _Cursor(Rule):
    """A ``next_cursor`` as a page returned it (``<dataset>/<source>``); empty: the first page."""

    def problem(self, value: object) -> str | None:
        if value == "":
            return None
        from dli.domain.model.catalog import cursor_key  # only a second page needs it (start-up time)

        try:
            cursor_key(value)  # type: ignore[arg-type]
        except DLIError as exc:
            return exc.message
        return None

    def keywords(self) -> dict[str, Any]:
        pattern = DATASET_NAME.pattern
        pages = [
            {"pattern": f"^(?:{pattern})/{s.value}(?![\\s\\S])", "maxLength": MAX_NAME_LENGTH + 1 + len(s.value)}
            for s in SourceType
        ]
        return {"type": "string", "anyOf": [{"maxLength": 0}, *pages]}


_CURSOR = _Cursor(
    nullable=True,
    hints=("Pass the next_cursor of the previous page as it was returned.",),
    description="Start after this row: the next_cursor of the previous page, as it was returned.",
)


@_message
class ListWorkflows(Message):
    """Workflows matching the filters, sorted by name (an overridden MANUAL one is listed too)."""

    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only this source."""
    status: WorkflowStatus | None = attrs.field(default=None, converter=_enum(WorkflowStatus, "workflow status"))
    """Only this status."""
    dataset_filter: str | None = checked(Text(nullable=True), request=True, default=None, converter=lambda v: v or None)
    """Substring (or glob with ``*``) the dataset name must match."""
    running_only: bool = checked(Flag(), request=True, default=False)
    """Only workflows with a pending or running run."""
    enabled_only: bool = checked(Flag(), request=True, default=False)
    """Only active workflows (not paused, not overridden)."""
    limit: int = checked(
        Whole(low=1, high=MAX_PAGE, hints=(f"Pass a whole number from 1 to {MAX_PAGE}; follow next_cursor for more.",)),
        request=True,
        default=100,
    )
    """At most this many (one page, up to ``MAX_PAGE``)."""
    after: str | None = checked(_CURSOR, request=True, default=None, converter=lambda v: v or None)
    """Start after this row: the ``next_cursor`` of the previous page."""
