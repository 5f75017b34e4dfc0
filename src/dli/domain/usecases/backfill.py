"""TriggerBackfill: one run per date, sequential, stopping at the first failed date.

A backfill never starts the workflows scheduled after this dataset (``after: upstream``): its runs
publish no new data, so one dataset can be backfilled alone. ``with_downstream`` runs them
explicitly: every managed dataset downstream of it, date by date, each date's datasets in
dependency order, as one chain in which every run starts after the one before it ended and the
first failure stops the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from dli.domain.model.enums import ResultStatus
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.parameters import backfill_dates
from dli.domain.model.rules import RULE
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.domain.model.verbs import Verb
from dli.domain.model.workflow_runs import WorkflowRunResult
from dli.domain.usecases._workflows import require_active
from dli.domain.usecases.dependencies import load_active_specs
from dli.domain.usecases.message import DATE, Route, WorkflowMessage, check_date_text, flag, handles, to_parameters
from dli.domain.usecases.runs import check_runnable, dry_run_result, split_parameters
from dli.ports.orchestrator import BackfillHandle, BackfillRequest, ChainStep, Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["TriggerBackfill", "trigger_backfill"]


@attrs.frozen(kw_only=True, repr=False)
class TriggerBackfill(WorkflowMessage[WorkflowRunResult]):
    """Run each date of a range in order, stopping after the first failure."""

    route = Route(path="/api/v1/workflows/{dataset_name}/backfill", tag="runs")
    verb = Verb.BACKFILL

    start_date: str = attrs.field(validator=check_date_text, metadata={RULE: DATE})
    """First date, YYYY-MM-DD."""
    end_date: str = attrs.field(validator=check_date_text, metadata={RULE: DATE})
    """Last date, YYYY-MM-DD (inclusive)."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=to_parameters)
    """Run parameters for every date (of this dataset; its downstreams run with their defaults)."""
    dry_run: bool = flag(default=False)
    """Only list the dates."""
    with_downstream: bool = flag(default=False)
    """Also run every managed dataset downstream of it, date by date in dependency order."""


def _checked(spec: DatasetSpec, given: dict[str, Any], first: dt.date) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Parameters as the first date's run will get them (a required ``execution_date`` is then present)."""
    checked, undeclared = split_parameters(spec, {**given, "execution_date": first.isoformat()})
    checked.pop("execution_date", None)
    return checked, undeclared


def _downstream_plan(
    name: str, store: SpecStore, dates: Sequence[dt.date], checked: dict[str, Any]
) -> tuple[list[ChainStep], dict[str, SpecDocument]]:
    """The chain of ``backfill --with-downstream``: for each date, ``name`` then its downstreams in
    dependency order (DLI-203 on a cycle or an unreadable downstream spec).

    The given parameters are for ``name``; its downstreams run with their own defaults (a required
    parameter without default is DLI-204, naming the dataset).
    """
    active = load_active_specs(store)
    order = active.graph.downstream_order(name)
    documents: dict[str, SpecDocument] = {}
    parameters: dict[str, dict[str, Any]] = {name: checked}
    for dataset in order:
        document = active.documents.get(dataset)
        if document is None:
            raise SpecInvalidError(
                f"The stored spec of '{dataset}', downstream of '{name}', cannot be read",
                hints=("Fix or re-register it, or backfill without --with-downstream.",),
                details={"dataset_name": dataset},
            )
        documents[dataset] = document
        if dataset != name:
            parameters[dataset], _ = _checked(document.spec, {}, dates[0])
    steps = [
        ChainStep(name=d, date=day, parameters=parameters[d], timezone=documents[d].schedule.timezone)
        for day in dates
        for d in order
    ]
    return steps, documents


@handles(TriggerBackfill)
def trigger_backfill(message: TriggerBackfill, *, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Validate the range and parameters; start the backfill unless ``dry_run``.

    The backfill supplies ``execution_date`` for each date, whatever the spec declares about it
    (specs commonly declare it required): a value given with the other parameters is ignored, with
    a warning.
    """
    name = message.dataset_name
    _, document = require_active(store, name)
    dates = backfill_dates(message.start_date, message.end_date)
    given = dict(message.parameters)
    warnings: list[str] = []
    if "execution_date" in given:
        del given["execution_date"]
        warnings.append("execution_date is set by the backfill for each date; the value given was ignored")
    checked, undeclared = _checked(document.spec, given, dates[0])
    warnings.extend(undeclared)
    iso = tuple(d.isoformat() for d in dates)
    span = f"{iso[0]} to {iso[-1]}"
    if message.with_downstream:
        steps, documents = _downstream_plan(name, store, dates, checked)
        downstream = [d for d in documents if d != name]
        names = tuple(step.name for step in steps)
        days = tuple(step.date.isoformat() for step in steps)
        what = (
            f"'{name}' and {len(downstream)} downstream dataset(s){': ' + ', '.join(downstream) if downstream else ''}"
        )
        if message.dry_run:
            summary = f"Dry run: backfill of {what} would run {len(steps)} run(s), {span}"
            return dry_run_result(name, checked, warnings, summary, dates=days, datasets=names)
        for dataset, doc in documents.items():
            check_runnable(dataset, orchestrator, doc.schedule.enabled)
        handle = orchestrator.backfill_chain(steps, triggered_by=message.actor)
        return _started(
            name,
            orchestrator,
            handle,
            dates=days,
            datasets=names,
            parameters=checked,
            warnings=warnings,
            message=f"Backfill {span} triggered for {what} ({len(steps)} runs, date by date)",
        )
    if message.dry_run:
        summary = f"Dry run: backfill of '{name}' would run {len(iso)} date(s), {span}"
        return dry_run_result(name, checked, warnings, summary, dates=iso)
    check_runnable(name, orchestrator, document.schedule.enabled)
    timezone = document.schedule.timezone
    if document.schedule.cron is None:
        # Upstream data starts it: it has no fire times (Airflow refuses to backfill such a DAG), so
        # each date gets a run of its own, in a chain.
        steps = [ChainStep(name=name, date=day, parameters=checked, timezone=timezone) for day in dates]
        handle = orchestrator.backfill_chain(steps, triggered_by=message.actor)
    else:
        request = BackfillRequest(
            name=name, dates=dates, parameters=checked, triggered_by=message.actor, timezone=timezone
        )
        handle = orchestrator.backfill(request)
    return _started(
        name,
        orchestrator,
        handle,
        dates=iso,
        datasets=(),
        parameters=checked,
        warnings=warnings,
        message=f"Backfill {span} triggered ({len(iso)} date(s))",
    )


def _started(
    name: str,
    orchestrator: Orchestrator,
    handle: BackfillHandle,
    *,
    dates: tuple[str, ...],
    datasets: tuple[str, ...],
    parameters: dict[str, Any],
    warnings: list[str],
    message: str,
) -> WorkflowRunResult:
    first = orchestrator.get_run(handle.run_ids[0]) if handle.run_ids else None
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        run_id=handle.run_ids[0] if handle.run_ids else None,
        run_status=first.status if first else None,
        dates=dates,
        datasets=datasets,
        run_ids=handle.run_ids,
        parameters=parameters,
        warnings=tuple(warnings),
        message=message,
    )
