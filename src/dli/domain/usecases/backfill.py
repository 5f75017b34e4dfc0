"""TriggerBackfill: one run per date, sequential, stopping at the first failed date."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dli.domain.model.enums import ResultStatus
from dli.domain.model.errors import ParameterInvalidError
from dli.domain.model.parameters import backfill_dates, coerce_parameters
from dli.domain.usecases._workflows import require_active
from dli.domain.usecases.runs import check_runnable
from dli.domain.model.workflow import WorkflowRunResult
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["trigger_backfill"]


def trigger_backfill(
    *,
    name: str,
    start_date: str,
    end_date: str,
    parameters: Mapping[str, Any] | None,
    dry_run: bool,
    actor: str | None,
    store: SpecStore,
    orchestrator: Orchestrator,
) -> WorkflowRunResult:
    """Validate the range and parameters; start the backfill unless ``dry_run``."""
    _, document = require_active(store, name)
    dates = backfill_dates(start_date, end_date)
    given = dict(parameters or {})
    if "execution_date" in given:
        raise ParameterInvalidError(
            "execution_date is set by the backfill for each date",
            hints=("Remove -p execution_date=...; use --start and --end.",),
        )
    coerced = coerce_parameters(document.spec, given)
    iso = tuple(d.isoformat() for d in dates)
    if dry_run:
        return WorkflowRunResult(
            dataset_name=name,
            status=ResultStatus.SUCCESS,
            dry_run=True,
            dates=iso,
            parameters=coerced,
            message=f"Dry run: backfill of '{name}' would run {len(iso)} date(s), {iso[0]} to {iso[-1]}",
        )
    check_runnable(name, orchestrator, document.schedule.enabled)
    handle = orchestrator.backfill(
        name, dates=dates, parameters=coerced, triggered_by=actor, timezone=document.schedule.timezone
    )
    first = orchestrator.get_run(handle.run_ids[0]) if handle.run_ids else None
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        run_id=handle.run_ids[0] if handle.run_ids else None,
        run_status=first.status if first else None,
        dates=iso,
        run_ids=handle.run_ids,
        parameters=coerced,
        message=f"Backfill {iso[0]} to {iso[-1]} triggered ({len(iso)} date(s))",
    )
