"""TriggerBackfill: one run per date, sequential, stopping at the first failed date."""

from __future__ import annotations

from dli.domain.model.enums import ResultStatus
from dli.domain.model.parameters import backfill_dates
from dli.domain.model.workflow import WorkflowRunResult
from dli.domain.usecases._workflows import require_active
from dli.domain.usecases.messages import TriggerBackfill
from dli.domain.usecases.runs import check_runnable, split_parameters
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["trigger_backfill"]


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
    # Validate as the first date's run will be: a required execution_date is then present.
    checked, undeclared = split_parameters(document.spec, {**given, "execution_date": dates[0].isoformat()})
    checked.pop("execution_date", None)
    warnings.extend(undeclared)
    iso = tuple(d.isoformat() for d in dates)
    if message.dry_run:
        return WorkflowRunResult(
            dataset_name=name,
            status=ResultStatus.SUCCESS,
            dry_run=True,
            dates=iso,
            parameters=checked,
            warnings=tuple(warnings),
            message=f"Dry run: backfill of '{name}' would run {len(iso)} date(s), {iso[0]} to {iso[-1]}",
        )
    check_runnable(name, orchestrator, document.schedule.enabled)
    handle = orchestrator.backfill(
        name, dates=dates, parameters=checked, triggered_by=message.actor, timezone=document.schedule.timezone
    )
    first = orchestrator.get_run(handle.run_ids[0]) if handle.run_ids else None
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        run_id=handle.run_ids[0] if handle.run_ids else None,
        run_status=first.status if first else None,
        dates=iso,
        run_ids=handle.run_ids,
        parameters=checked,
        warnings=tuple(warnings),
        message=f"Backfill {iso[0]} to {iso[-1]} triggered ({len(iso)} date(s))",
    )
