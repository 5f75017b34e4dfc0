"""The audit trail's records: who did (or was refused) what to which team's workflow, and how it ended."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from dli.domain.model.enums import SourceType

__all__ = ["AuditOutcome", "AuditRecord", "AuditTrail"]


class AuditOutcome(str, enum.Enum):
    """How an audited operation ended."""

    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class AuditRecord:
    """One write or refusal, as the audit trail keeps it (appended, never rewritten)."""

    time: dt.datetime
    """When it was decided (aware, UTC)."""
    actor: str
    """Who asked."""
    auth: str
    """How the actor authenticated: ``token``, ``oidc``, ``local`` (in process, e.g. publish)."""
    action: str
    """register, unregister, run, backfill, stop, pause, unpause, publish, or view (a refused read)."""
    outcome: AuditOutcome
    """``ok``, ``denied`` or ``failed``."""
    dataset: str | None = None
    """The workflow it was about."""
    team: str | None = None
    """That workflow's team."""
    source_type: SourceType | None = None
    """That workflow's source, when it existed."""
    code: str | None = None
    """The DLI code of a refusal or failure."""
    detail: str | None = None
    """What else matters (e.g. the run id, the role a refusal needed, a publish's counts)."""
    request_id: str | None = None
    """The server's request id (its log lines carry it too)."""
    replica: str | None = None
    """The server process that did it."""


@attrs.frozen(kw_only=True)
class AuditTrail:
    """Result of ``audit``: the records the caller may view, newest first."""

    records: tuple[AuditRecord, ...] = ()
    """Newest first, at most the limit asked for."""
    total_count: int = 0
    """How many matched in all (may exceed ``len(records)``)."""
