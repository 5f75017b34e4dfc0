"""Reading workflows out of the store: the resolution of one name and its WorkflowInfo."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs

from dli.domain.model.enums import SourceType, WorkflowStatus
from dli.domain.model.errors import SpecInvalidError, WorkflowNotFoundError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.run_details import RunDetails
from dli.domain.model.schedule import next_run
from dli.domain.model.spec import SpecDocument
from dli.domain.model.workflow import WorkflowInfo
from dli.ports.orchestrator import RunRecord
from dli.ports.spec_store import SpecStore, VersionedDocument


class Found(NamedTuple):
    """Both stored documents of one name.

    A named tuple rather than an attrs class: listing imports this module on every ``dli workflow
    list`` and never builds one, and creating an attrs class costs start-up time.
    """

    name: str
    code: VersionedDocument | None
    manual: VersionedDocument | None

    @property
    def active(self) -> VersionedDocument | None:
        """Code wins over manual."""
        return self.code or self.manual


def find(store: SpecStore, name: str) -> Found:
    """Read both sources for ``name`` (validated first: DLI-203 for a malformed name)."""
    validate_dataset_name(name)
    return Found(name=name, code=store.read(SourceType.CODE, name), manual=store.read(SourceType.MANUAL, name))


def read_or_broken(store: SpecStore, source: SourceType, name: str) -> VersionedDocument | SpecInvalidError | None:
    """The stored document, or why it cannot be read: a write may still replace or delete a broken one."""
    try:
        return store.read(source, name)
    except SpecInvalidError as exc:
        return exc


def require_active(store: SpecStore, name: str) -> tuple[Found, SpecDocument]:
    """The active document of ``name``, or DLI-800."""
    found = find(store, name)
    if found.active is None:
        raise not_found(name)
    return found, found.active.document


def not_found(name: str) -> WorkflowNotFoundError:
    """DLI-800 for a workflow name."""
    return WorkflowNotFoundError(
        f"Workflow '{name}' not found",
        hints=("Check the name with 'dli workflow list', or register it with 'dli workflow register'.",),
        details={"dataset_name": name},
    )


def workflow_status(doc: SpecDocument, *, overridden: bool, paused: bool | None) -> WorkflowStatus:
    """Overridden, else the orchestrator's pause state, else (``paused`` is ``None``) the spec's ``enabled``."""
    if overridden:
        return WorkflowStatus.OVERRIDDEN
    if paused if paused is not None else not doc.schedule.enabled:
        return WorkflowStatus.PAUSED
    return WorkflowStatus.ACTIVE


def workflow_info(
    doc: SpecDocument,
    *,
    overridden: bool,
    paused: bool | None,
    running: bool | None,
    now: dt.datetime,
    next_fire: Callable[[], dt.datetime | None] | None = None,
    status_known: bool = True,
) -> WorkflowInfo:
    """The user's view of a stored document.

    ``paused`` is the orchestrator's state, ``None`` when it does not know the workflow yet (the
    spec's ``enabled`` then decides, as it will when the orchestrator creates it). ``next_fire``,
    when the caller keeps fire times (the listing catalog), gives the next one instead of evaluating
    the cron expression again; it is asked only for an active workflow.
    ``status_known=False``: the orchestrator could not be asked (``running`` is then ``None``).
    """
    schedule = doc.schedule
    status = workflow_status(doc, overridden=overridden, paused=paused)
    if status is WorkflowStatus.ACTIVE:
        next_run_at = next_run(schedule, now=now) if next_fire is None else next_fire()
    else:
        next_run_at = None
    spec = doc.spec
    return WorkflowInfo(
        dataset_name=spec.name,
        source_type=doc.source_type,
        status=status,
        cron=schedule.cron,
        timezone=schedule.timezone,
        next_run=next_run_at,
        overridden_by=SourceType.CODE if overridden else None,
        enabled=schedule.enabled,
        retry_max_attempts=schedule.retry_max_attempts,
        retry_delay_seconds=schedule.retry_delay_seconds,
        owner=spec.owner,
        team=spec.team,
        description=spec.description,
        registered_by=doc.registered_by,
        registered_at=doc.registered_at,
        running=running if status_known else None,
        status_known=status_known,
        trigger=schedule.trigger,
    )


def run_fields(record: RunRecord, source_type: SourceType) -> dict[str, Any]:
    """What a run's answers (a history row, a run's status) take from the orchestrator's record, but
    its status, whose field each names its own way."""
    details = {field.name: getattr(record, field.name) for field in attrs.fields(RunDetails)}
    return {**details, "parameters": dict(record.parameters), "source_type": source_type}
