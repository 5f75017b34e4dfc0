"""``dli workflow run``, ``backfill``, ``stop`` and ``logs``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg, Format, Params, RunIdArg, parse_params
from dli.entrypoints.cli.session import current

if TYPE_CHECKING:
    from dli.domain.model.workflow_runs import WorkflowRunResult
    from dli.entrypoints.cli.session import Session

__all__ = ["backfill", "logs", "run", "stop"]

Wait = Annotated[bool, Parameter(name=["--wait", "-w"], negative="", help="Follow until every run is finished.")]
Timeout = Annotated[float | None, Parameter(help="With --wait: give up after this many seconds (exit status 5).")]
Poll = Annotated[float, Parameter(help="With --wait: seconds between status checks.")]
DryRun = Annotated[bool, Parameter(negative="", help="Validate only; run nothing.")]


def _check_wait_options(timeout: float | None, poll: float) -> None:
    from dli.domain.model.errors import ParameterInvalidError

    if timeout is not None and timeout < 0:
        raise ParameterInvalidError(
            f"--timeout must be >= 0, got {timeout}", hints=("Give the seconds to wait, e.g. --timeout 600.",)
        )
    if poll <= 0:
        raise ParameterInvalidError(
            f"--poll must be > 0, got {poll}", hints=("Give the seconds between status checks, e.g. --poll 2.",)
        )


def run(
    dataset_name: DatasetArg,
    /,
    *,
    param: Params = (),
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = None,
    poll: Poll = 2.0,
    format: Format = "table",  # noqa: A002 - the option is --format
) -> int:
    """Trigger an adhoc run."""
    session = current()
    _check_wait_options(timeout, poll)
    result = session.api.run(dataset_name, parameters=parse_params(param), dry_run=dry_run)
    from dli.entrypoints.cli import render

    if dry_run or not wait or result.run_id is None:
        if dry_run:
            title = f"Dry run: parameters valid for {dataset_name} (nothing was run)"
        else:
            title = f"Run triggered: {dataset_name}"
        return render.output(session, result, format, render.render_run_result, title=title)
    if format != "json":
        render.render_run_result(session, result, title=f"Run triggered: {dataset_name}")
    return _follow(session, result, [result.run_id], [""], timeout, poll, format, f"Waiting for {result.run_id}")


def backfill(
    dataset_name: DatasetArg,
    /,
    *,
    start: Annotated[str, Parameter(name=["--start", "-s"], help="First date, YYYY-MM-DD.")],
    end: Annotated[str, Parameter(name=["--end", "-e"], help="Last date (inclusive), YYYY-MM-DD.")],
    param: Params = (),
    with_downstream: Annotated[
        bool,
        Parameter(
            negative="",
            help="Also run every dataset downstream of it, date by date in dependency order (a plain backfill "
            "never starts its downstream datasets).",
        ),
    ] = False,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = None,
    poll: Poll = 2.0,
    format: Format = "table",  # noqa: A002
) -> int:
    """Run every date from --start to --end, in order, stopping at the first failure."""
    session = current()
    _check_wait_options(timeout, poll)
    result = session.api.backfill(
        dataset_name,
        start_date=start,
        end_date=end,
        parameters=parse_params(param),
        dry_run=dry_run,
        with_downstream=with_downstream,
    )
    from dli.entrypoints.cli import render

    title = (
        f"Dry run: backfill of {dataset_name} is valid (nothing was run)"
        if dry_run
        else f"Backfill started: {dataset_name}"
    )
    run_ids = list(result.run_ids) or ([result.run_id] if result.run_id else [])
    if dry_run or not wait or not run_ids:
        return render.output(session, result, format, render.render_run_result, title=title)
    if format != "json":
        render.render_run_result(session, result, title=title)
    dates = list(result.dates) if len(result.dates) == len(run_ids) else [""] * len(run_ids)
    return _follow(session, result, run_ids, dates, timeout, poll, format, f"Backfill of {dataset_name}")


def _follow(
    session: Session,
    result: WorkflowRunResult,
    run_ids: Sequence[str],
    dates: Sequence[str],
    timeout: float | None,
    poll: float,
    output: str,
    label: str,
) -> int:
    from dli.entrypoints.cli import render
    from dli.entrypoints.cli.follow import follow_runs, outcome, outcome_code

    statuses = follow_runs(session, run_ids, timeout_seconds=timeout, poll_seconds=poll, label=label)
    name = outcome(statuses)
    if output == "json":
        render.print_json(session, {"result": result, "outcome": name, "runs": statuses})
        return outcome_code(name)
    session.write()
    if len(statuses) == 1 and not dates[0]:
        render.render_status(session, statuses[0])
    else:
        render.render_status_table(session, list(zip(dates, statuses, strict=False)))
    if name == "timeout":
        session.write(f"Timed out after {timeout:g}s; the runs go on (see 'dli workflow status RUN_ID').")
    else:
        session.write(f"Outcome: {name}")
    return outcome_code(name)


def stop(run_id: RunIdArg, /, *, format: Format = "table") -> int:  # noqa: A002
    """Stop (kill) a running run."""
    session = current()
    result = session.api.stop(run_id)
    from dli.entrypoints.cli import render

    return render.output(session, result, format, render.render_run_result)


LogsFormat = Annotated[Literal["text", "json"], Parameter(name=["--format", "-f"], help="Output format.")]


def logs(run_id: RunIdArg, /, *, format: LogsFormat = "text") -> int:  # noqa: A002
    """Print the task logs of a run."""
    session = current()
    result = session.api.logs(run_id)
    if format == "json":
        from dli.entrypoints.cli.render import print_json

        print_json(session, result)
    else:
        session.out.write(result.text if result.text.endswith("\n") or not result.text else result.text + "\n")
    return 0
