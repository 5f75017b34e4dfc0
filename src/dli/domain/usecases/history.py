"""GetHistory: runs newest first, with the dataset's metadata when asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from dli.domain.model.enums import ResultStatus, RunStatus, SourceType
from dli.domain.model.names import closest_name
from dli.domain.model.rules import checked
from dli.domain.model.workflow import DatasetInfo
from dli.domain.model.workflow_runs import WorkflowHistoryResult, WorkflowRun
from dli.domain.usecases._workflows import run_fields
from dli.domain.usecases.message import (
    LIMIT,
    NAME,
    Message,
    Route,
    check_optional_dataset_name,
    flag,
    handles,
    to_enum,
    to_source_type,
)
from dli.ports.orchestrator import Orchestrator, RunQuery
from dli.ports.spec_store import SpecStore

if TYPE_CHECKING:
    from dli.domain.usecases.authorization import Visibility

__all__ = ["GetHistory", "get_history"]


def _run_status(value: object) -> RunStatus | None:
    return to_enum(RunStatus, "run status", value, upper=True)


@attrs.frozen(kw_only=True, repr=False)
class GetHistory(Message[WorkflowHistoryResult]):
    """Runs, newest first, with the dataset's metadata when one dataset is named."""

    query = True
    route = Route(path="/api/v1/history", tag="runs")

    dataset_name: str | None = attrs.field(default=None, validator=check_optional_dataset_name, metadata=NAME)
    """Only this dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=to_source_type)
    """Only runs of workflows of this source."""
    run_status: RunStatus | None = attrs.field(default=None, converter=_run_status)
    """Only runs in this status."""
    limit: int = checked(LIMIT, request=True, default=20)
    """At most this many runs."""
    include_dataset_info: bool = flag(default=True)
    """Add the dataset's owner, team and description (when one dataset is named)."""


@handles(GetHistory)
def get_history(
    message: GetHistory, *, store: SpecStore, orchestrator: Orchestrator, visible: Visibility | None = None
) -> WorkflowHistoryResult:
    """Runs matching the filters; filtering and the limit are left to the orchestrator.

    ``dataset_name`` is a filter, as the others: a name no run matches gives an empty history. When
    no store knows a workflow of that name, the result warns, naming it (and the known name it
    likely misspells), rather than failing: its past runs, if any, are still shown.
    """
    code = set(store.list_etags(SourceType.CODE))
    manual: set[str] | None = None
    names: set[str] | None = None
    if message.dataset_name is not None:
        names = {message.dataset_name}
    if message.source_type is not None:
        manual = set(store.list_etags(SourceType.MANUAL))
        of_source = code if message.source_type is SourceType.CODE else manual - code
        names = of_source if names is None else names & of_source
    if (
        visible is not None and not visible.everything
    ):  # runs of what the caller may not view: neither shown nor counted
        from dli.domain.usecases.authorization import visible_names

        allowed = visible_names(store, visible)
        names = allowed if names is None else names & allowed
    records, total = orchestrator.list_runs(RunQuery(names=names, status=message.run_status, limit=message.limit))
    runs = tuple(
        WorkflowRun(status=r.status, **run_fields(r, SourceType.CODE if r.dataset_name in code else SourceType.MANUAL))
        for r in records
    )
    info = None
    warnings: tuple[str, ...] = ()
    if message.dataset_name is not None:
        name = message.dataset_name
        if manual is None:
            manual = set(store.list_etags(SourceType.MANUAL))
        if name not in code and name not in manual:
            warnings = (_no_such_workflow(name, code | manual),)
        elif message.include_dataset_info:
            source = SourceType.CODE if name in code else SourceType.MANUAL
            versioned = store.read(source, name)
            if versioned is not None:
                spec = versioned.document.spec
                info = DatasetInfo(
                    name=spec.name, owner=spec.owner, team=spec.team, description=spec.description, source_type=source
                )
    return WorkflowHistoryResult(
        runs=runs, total_count=total, status=ResultStatus.SUCCESS, dataset_info=info, warnings=warnings
    )


def _no_such_workflow(name: str, known: set[str]) -> str:
    close = closest_name(name, known)
    text = f"No workflow is named '{name}'"
    if close is not None:
        return f"{text}; did you mean '{close}'?"
    return f"{text} (see 'dli workflow list')"
