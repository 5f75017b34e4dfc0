"""GetAuditTrail: the audit trail's records the caller may view, newest first."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from dli.domain.model.audit import AuditTrail
from dli.domain.model.rules import Date, Text, checked
from dli.domain.usecases.message import LIMIT, NAME, Message, Route, check_optional_dataset_name, handles
from dli.ports.audit_log import AuditLog

if TYPE_CHECKING:
    from dli.domain.usecases.authorization import Visibility

__all__ = ["GetAuditTrail", "get_audit_trail"]


@attrs.frozen(kw_only=True, repr=False)
class GetAuditTrail(Message[AuditTrail]):
    """Writes and refusals recorded by every replica, newest first (only the teams the caller may view)."""

    query = True
    route = Route(path="/api/v1/audit", tag="audit")

    dataset_name: str | None = attrs.field(default=None, validator=check_optional_dataset_name, metadata=NAME)
    """Only records about this dataset."""
    by: str | None = checked(Text(nullable=True), request=True, default=None)
    """Only records of this actor."""
    since: str | None = checked(Date(nullable=True), request=True, default=None)
    """Only records from this day (``YYYY-MM-DD``, UTC) on."""
    limit: int = checked(LIMIT, request=True, default=100)
    """At most this many records."""


@handles(GetAuditTrail)
def get_audit_trail(message: GetAuditTrail, *, audit: AuditLog, visible: Visibility | None = None) -> AuditTrail:
    """The matching records, newest first; a team's records only for its viewers (admins: all)."""
    since = dt.datetime.fromisoformat(message.since).replace(tzinfo=dt.UTC) if message.since else None
    viewable = visible if visible is not None and not visible.everything else None
    matched = [
        r
        for r in audit.records(since=since)
        if (message.dataset_name is None or r.dataset == message.dataset_name)
        and (message.by is None or r.actor == message.by)
        and (viewable is None or viewable(r.team))
    ]
    matched.reverse()  # the log answers oldest first: records of the same instant stay newest first
    matched.sort(key=lambda r: r.time, reverse=True)
    return AuditTrail(records=tuple(matched[: message.limit]), total_count=len(matched))
