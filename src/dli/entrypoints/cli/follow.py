"""``--wait``: follow runs until they are terminal, with a spinner or progress bar on a terminal.

A run that starts waiting for a retry (a statement failed, attempts are left) is announced on
stderr, once per failed attempt, with the error and when the next attempt is due; the wait goes on.
The exit status tells the outcome (docs/cli.md): completed 0, failed 3, killed 4, timeout 5.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence

from dli.domain.model.enums import RunStatus
from dli.domain.model.workflow_runs import WorkflowStatusResult
from dli.entrypoints.cli.exit_codes import ExitCode
from dli.entrypoints.cli.session import Session

__all__ = ["follow_runs", "outcome", "outcome_code"]


def outcome(statuses: Sequence[WorkflowStatusResult]) -> str:
    """``failed`` > ``killed`` > ``timeout`` (some run not terminal) > ``completed``."""
    states = {s.run_status for s in statuses}
    if RunStatus.FAILED in states:
        return "failed"
    if RunStatus.KILLED in states:
        return "killed"
    if any(not s.is_terminal for s in statuses):
        return "timeout"
    return "completed"


_CODES = {
    "completed": ExitCode.OK,
    "failed": ExitCode.RUN_FAILED,
    "killed": ExitCode.RUN_KILLED,
    "timeout": ExitCode.WAIT_TIMEOUT,
}


def outcome_code(name: str) -> ExitCode:
    """The exit status of an outcome."""
    return _CODES[name]


@contextlib.contextmanager
def _progress(
    session: Session, total: int, label: str
) -> Iterator[tuple[Callable[[int, str], None], Callable[[str], None]]]:
    """Yield ``(update(done, status), note(line))``; draws only when stderr is a terminal (quiet
    otherwise); a note is a line on stderr, printed above the bar while one is drawn."""
    if not session.err_is_terminal():

        def write(line: str) -> None:
            session.err.write(line + "\n")

        yield (lambda _done, _status: None), write
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total > 1:
        columns += [BarColumn(), MofNCompleteColumn(), TextColumn("dates")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=session.err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def update(done: int, status: str) -> None:
            progress.update(task, completed=done, description=f"{label} ({status})")

        def note(line: str) -> None:
            progress.console.print(line, markup=False, highlight=False)

        yield update, note


def follow_runs(
    session: Session,
    run_ids: Sequence[str],
    *,
    timeout_seconds: float | None,
    poll_seconds: float,
    label: str,
) -> list[WorkflowStatusResult]:
    """Wait for each run in turn (backfill dates run in order); the last status of each.

    Runs not reached before the deadline are reported with their current status.
    """
    import gc

    gc.enable()  # main() turned it off for start-up; following runs may take hours
    api = session.api
    deadline = None if timeout_seconds is None else session.monotonic() + timeout_seconds
    results: list[WorkflowStatusResult] = []
    from dli.entrypoints.cli.render import retry_notice, run_state

    announced: set[tuple[str, int]] = set()  # (run id, failed attempt) already told

    with _progress(session, len(run_ids), label) as (update, note):

        def seen(index: int, status: WorkflowStatusResult) -> None:
            update(index, run_state(status.run_status, status.retry))
            retry = status.retry
            if retry is not None and (status.run_id, retry.attempt) not in announced:
                announced.add((status.run_id, retry.attempt))
                note(retry_notice(status.run_id, retry, session.now()))

        for index, run_id in enumerate(run_ids):
            remaining = None if deadline is None else max(0.0, deadline - session.monotonic())
            status = api.wait_for_run(
                run_id,
                timeout_seconds=remaining,
                poll_seconds=poll_seconds,
                on_update=functools.partial(seen, index),
                sleep=session.sleep,
                monotonic=session.monotonic,
            )
            results.append(status)
            update(index + 1, status.run_status.value.lower())
            if not status.is_terminal:
                # Out of time: report where the remaining runs are, without waiting any longer.
                results.extend(api.get_status(rest) for rest in run_ids[index + 1 :])
                break
            if status.run_status in (RunStatus.FAILED, RunStatus.KILLED):
                # A backfill stops at its first failure; the later dates end on their own (killed).
                results.extend(api.get_status(rest) for rest in run_ids[index + 1 :])
                break
    return results
