"""Human output of the CLI: summaries and rich tables (docs/cli.md, "Output"), and ``--format json``.

Every renderer takes the session and a result model; nothing here calls the WorkflowAPI.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from dli.domain.model.enums import RunStatus, WorkflowStatus
from dli.domain.model.schedule import FireTime
from dli.entrypoints.cli.session import Session

if TYPE_CHECKING:  # the result classes are built on first use (dli.domain.model.workflow)
    from dli.domain.model.workflow import WorkflowInfo, WorkflowListResult, WorkflowRegisterResult
    from dli.domain.model.workflow_runs import RetryWait, WorkflowHistoryResult, WorkflowRunResult, WorkflowStatusResult

__all__ = [
    "duration",
    "print_json",
    "render_fire_times",
    "retry_notice",
    "render_history",
    "render_list",
    "render_register",
    "render_run_result",
    "render_status",
    "render_status_table",
]

_UTC = dt.UTC
_UNLIMITED = 10_000

_STATUS_STYLE = {
    "active": "green",
    "paused": "yellow",
    "overridden": "magenta",
    "completed": "green",
    "failed": "red",
    "killed": "red",
    "running": "cyan",
    "pending": "blue",
}


# -- formatting helpers -----------------------------------------------------------------------


def in_zone(value: dt.datetime, timezone: str) -> dt.datetime:
    """``value`` in ``timezone`` (so that the zone's abbreviation shows, even after a JSON round trip)."""
    try:
        return value.astimezone(zoneinfo.ZoneInfo(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return value


def local_time(value: dt.datetime | None, timezone: str, *, seconds: bool = True) -> str:
    """``2025-01-02 09:00:00 KST``: a time in a workflow's timezone, with the zone's abbreviation."""
    if value is None:
        return "-"
    pattern = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return in_zone(value, timezone).strftime(pattern)


def utc_time(value: dt.datetime | None) -> str:
    """``2025-01-02 09:00:45``, in UTC."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """``125s``, or ``1h02m05s`` from an hour on."""
    if seconds is None:
        return "-"
    total = max(0, round(seconds))
    if total < 3600:
        return f"{total}s"
    hours, rest = divmod(total, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s"


def status_text(value: RunStatus | WorkflowStatus | str) -> Text:
    """A status in lower case, coloured on a terminal."""
    word = (value.value if hasattr(value, "value") else str(value)).lower()
    return Text(word, style=_STATUS_STYLE.get(word, ""))


def countdown(seconds: float) -> str:
    """``in 4m10s`` (``in 45s``, ``in 1h02m05s``); ``now`` once the time has come."""
    total = round(seconds)
    if total <= 0:
        return "now"
    if total < 60:
        return f"in {total}s"
    if total < 3600:
        return f"in {total // 60}m{total % 60:02d}s"
    return f"in {duration(total)}"


def run_state(status: RunStatus, retry: RetryWait | None) -> str:
    """``running``, or ``running (waiting to retry)`` while a failed attempt waits for the next one."""
    word = status.value.lower()
    return f"{word} (waiting to retry)" if retry is not None else word


def _next_attempt(retry: RetryWait, now: dt.datetime | None = None) -> str:
    """``2 of 3, due 2025-01-02 09:05:00 UTC (in 4m10s)``."""
    text = f"{retry.attempt + 1} of {retry.max_attempts}"
    if retry.next_attempt_at is None:
        return text + ", due time unknown"
    text += f", due {utc_time(retry.next_attempt_at)} UTC"
    if now is not None:
        text += f" ({countdown((retry.next_attempt_at - now).total_seconds())})"
    return text


def _retry_fields(retry: RetryWait, now: dt.datetime) -> list[tuple[str, str]]:
    failed = f"{retry.attempt} of {retry.max_attempts} failed"
    if retry.failed_at is not None:
        failed += f" at {utc_time(retry.failed_at)} UTC"
    return [
        ("Attempt", failed),
        ("Next attempt", _next_attempt(retry, now)),
        ("Last error", retry.last_error or "-"),
    ]


def _retry_lines(retry: RetryWait | None) -> list[str]:
    """The lines under a run's row in a table while it waits for a retry."""
    if retry is None:
        return []
    return [
        f"  Attempt {retry.attempt} of {retry.max_attempts} failed; next attempt {_next_attempt(retry)}",
        f"  Last error: {retry.last_error or '-'}",
    ]


def retry_notice(run_id: str, retry: RetryWait, now: dt.datetime) -> str:
    """One line for ``--wait`` when a run starts waiting for a retry."""
    error = f": {retry.last_error}" if retry.last_error else ""
    return f"{run_id}: attempt {retry.attempt} of {retry.max_attempts} failed{error}; next attempt {_next_attempt(retry, now)}"


def format_params(parameters: Mapping[str, Any]) -> str:
    """``a=1, b=x``; ``-`` when empty."""
    return ", ".join(f"{k}={v}" for k, v in parameters.items()) or "-"


def _status_cell(status: RunStatus, retry: RetryWait | None) -> Text:
    cell = status_text(status)
    if retry is not None:
        cell.append(" (waiting to retry)", style="yellow")
    return cell


def _run_lines(error_message: str | None, retry: RetryWait | None) -> list[str]:
    """The lines under a run's row: its error, or where its retries are."""
    return _retry_lines(retry) + ([f"  Error: {error_message}"] if error_message else [])


def _table(*columns: str) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 3, 0, 0))
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def _print_table(session: Session, table: Table, extra: Sequence[Sequence[str]] = ()) -> None:
    """Print ``table`` without trailing blanks; ``extra[i]`` lines go under row ``i``.

    A rich table cannot span a cell across columns, so lines such as ``Error: …`` under a run are
    slotted in after rendering (``no_wrap`` columns keep one line per row, header first).
    """
    from rich.console import Console

    console = session.console
    buffer = io.StringIO()
    # Never truncate a cell to fit a narrow terminal: a long line wraps, a cut date misleads.
    wide = Console(
        file=buffer,
        width=_UNLIMITED,
        force_terminal=console.is_terminal,
        color_system=console.color_system,  # type: ignore[arg-type]
        no_color=console.no_color,
        highlight=False,
    )
    wide.print(table)
    lines = [line.rstrip() for line in buffer.getvalue().rstrip("\n").split("\n")]
    out = lines[:1]
    for index, line in enumerate(lines[1:]):
        out.append(line)
        if index < len(extra):
            out.extend(extra[index])
    session.write("\n".join(out))


def _summary(session: Session, title: str, fields: Iterable[tuple[str, str]]) -> None:
    session.write(title)
    for label, value in fields:
        session.write(f"  {label}: {value}")


# -- JSON -------------------------------------------------------------------------------------


def print_json(session: Session, value: Any) -> None:
    """Write a result model (or a dict of them) as JSON, the shape of ``dli.adapters.codecs.results``."""
    from dli.entrypoints.bootstrap import json_ready as to_jsonable

    session.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def output(session: Session, result: Any, format: str, table: Callable[..., None], **options: Any) -> int:  # noqa: A002
    """The end of a command: ``result`` as JSON (``--format json``) or in its human form (``table``,
    given ``options``); the exit code, 0."""
    if format == "json":
        print_json(session, result)
    else:
        table(session, result, **options)
    return 0


# -- results ----------------------------------------------------------------------------------


def _info_fields(info: WorkflowInfo) -> list[tuple[str, str]]:
    fields = [
        ("Source", info.source_type.value),
        ("Status", info.status.value),
        ("Cron", info.cron or "-"),
        ("Timezone", info.timezone),
    ]
    if info.trigger.value != "cron":  # the spec's summary shape stays as it was for cron-only workflows
        fields.insert(2, ("Trigger", "after upstream" if info.cron is None else "cron or after upstream"))
    if info.next_run is not None:
        fields.append(("Next Run", local_time(info.next_run, info.timezone)))
    return fields


def render_register(session: Session, result: WorkflowRegisterResult) -> None:
    """``Workflow registered: …`` with the schedule, or ``Workflow updated: …`` with both crons."""
    info = result.workflow_info
    if result.updated:
        fields = [("Previous cron", result.previous_cron or "-"), ("New cron", (info.cron if info else None) or "-")]
        if info is not None:
            fields += [f for f in _info_fields(info) if f[0] not in ("Cron", "Source")]
        _summary(session, f"Workflow updated: {result.dataset_name}", fields)
    else:
        _summary(session, f"Workflow registered: {result.dataset_name}", _info_fields(info) if info else [])
    for warning in result.warnings or ((result.warning,) if result.warning else ()):
        session.warn(warning)


def render_run_result(session: Session, result: WorkflowRunResult, *, title: str | None = None) -> None:
    """Summary of run, backfill, stop, pause, unpause and unregister; its warnings go to stderr."""
    for warning in result.warnings:
        session.warn(warning)
    if title is None:
        session.write(result.message or f"{result.dataset_name}: {result.status.value}")
        return
    fields: list[tuple[str, str]] = []
    if result.run_id and not result.run_ids:
        fields.append(("Run ID", result.run_id))
    if result.run_status is not None and not result.run_ids:
        fields.append(("Status", result.run_status.value.lower()))
    if result.dates:
        days = list(dict.fromkeys(result.dates))  # with downstream datasets, each date appears once per dataset
        span = days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"
        runs = f", {len(result.datasets)} runs" if result.datasets else ""
        fields.append(("Dates", f"{span} ({len(days)} date{'s' if len(days) != 1 else ''}{runs})"))
    fields.append(("Parameters", format_params(result.parameters)))
    _summary(session, title, fields)
    if result.run_ids:
        session.write("  Runs:")
        for date, run_id in zip(result.dates or [""] * len(result.run_ids), result.run_ids, strict=False):
            session.write(f"    {date}  {run_id}".rstrip())
    elif result.datasets:  # the plan of a dry run with downstream datasets, in the order it would run
        session.write("  Order:")
        for date, dataset in zip(result.dates, result.datasets, strict=False):
            session.write(f"    {date}  {dataset}")


def render_status(session: Session, status: WorkflowStatusResult) -> None:
    """Every field of one run."""
    fields = [
        ("Dataset", status.dataset_name),
        ("Source", status.source_type.value),
        ("Type", status.run_type.value),
        ("Status", run_state(status.run_status, status.retry)),
        ("Logical date", utc_time(status.logical_date) + (" UTC" if status.logical_date else "")),
        ("Started", utc_time(status.started_at) + (" UTC" if status.started_at else "")),
        ("Finished", utc_time(status.finished_at) + (" UTC" if status.finished_at else "")),
        ("Duration", duration(status.duration_seconds)),
        ("Parameters", format_params(status.parameters)),
        ("Triggered by", status.triggered_by or "-"),
    ]
    if status.retry is not None:  # right under the status it explains
        fields[4:4] = _retry_fields(status.retry, session.now())
    if status.error_message:
        fields.append(("Error", status.error_message))
    _summary(session, f"Run: {status.run_id}", fields)


def render_status_table(session: Session, statuses: Sequence[tuple[str, WorkflowStatusResult]]) -> None:
    """One row per (date, status): the end of ``backfill --wait``."""
    table = _table("DATE", "RUN_ID", "STATUS", "DURATION")
    for date, status in statuses:
        table.add_row(
            date, status.run_id, _status_cell(status.run_status, status.retry), duration(status.duration_seconds)
        )
    _print_table(session, table, [_run_lines(s.error_message, s.retry) for _, s in statuses])


def render_list(session: Session, result: WorkflowListResult) -> None:
    """The workflows table and ``Total: N workflows (x active, y overridden)``; warnings and broken specs to stderr."""
    for warning in result.warnings:
        session.warn(warning)
    if result.broken_count:
        one = result.broken_count == 1
        session.warn(
            f"{result.broken_count} stored spec{'' if one else 's'} cannot be read and {'is' if one else 'are'} not listed:"
        )
        for broken in result.broken:
            session.warn(f"  {broken.key}: [{broken.code}] {broken.reason}")
        if result.broken_count > len(result.broken):
            session.warn(f"  ... and {result.broken_count - len(result.broken)} more")
    workflows = result.workflows
    if not workflows:
        session.write("No workflows found.")
    else:
        table = _table("DATASET", "SOURCE", "STATUS", "TRIGGER", "CRON", "TIMEZONE", "NEXT RUN")
        for info in workflows:
            if info.status is WorkflowStatus.OVERRIDDEN:
                next_run = f"- (by {(info.overridden_by.value if info.overridden_by else 'code')})"
            else:
                next_run = local_time(info.next_run, info.timezone, seconds=False)
            status = status_text(info.status)
            if not info.status_known and info.status is not WorkflowStatus.OVERRIDDEN:
                status.append(" (?)", style="dim")
            elif info.running:
                status.append(" (running)", style="cyan")
            table.add_row(
                info.dataset_name,
                info.source_type.value,
                status,
                info.trigger.value,
                info.cron or "-",
                info.timezone,
                next_run,
            )
        _print_table(session, table)
        session.write()
    counts = [
        f"{n} {s.value}"
        for s in (WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED, WorkflowStatus.OVERRIDDEN)
        if (n := sum(1 for w in workflows if w.status is s))
    ]
    noun = "workflow" if len(workflows) == 1 else "workflows"
    line = f"Total: {len(workflows)} {noun}"
    if counts:
        line += f" ({', '.join(counts)})"
    if result.total_count > len(workflows):
        line += f"; {result.total_count} matched, raise --limit to see more"
        if result.next_cursor:
            line += f" (or --after {result.next_cursor})"
    if any(not w.status_known for w in workflows):
        line += "; (?) = paused/running unknown, status from the spec's 'enabled'"
    session.write(line)


def render_history(session: Session, result: WorkflowHistoryResult, *, dataset_info_of: str | None = None) -> None:
    """Optional ``Dataset Info:`` (of ``dataset_info_of``, when asked for), the runs table with an
    ``Error:`` line under failed runs, the total; warnings to stderr."""
    for warning in result.warnings:
        session.warn(warning)
    info = result.dataset_info
    if info is None and dataset_info_of is not None:
        session.write("Dataset Info:")
        session.write(f"  No dataset information found for '{dataset_info_of}'.")
        session.write()
        session.write("Run History:")
    if info is not None:
        _summary(
            session,
            "Dataset Info:",
            [
                ("Name", info.name),
                ("Owner", info.owner or "-"),
                ("Team", info.team or "-"),
                ("Description", info.description or "-"),
            ]
            + ([("Source", info.source_type.value)] if info.source_type else []),
        )
        session.write()
        session.write("Run History:")
    if not result.runs:
        session.write("No runs found.")
    else:
        table = _table("RUN_ID", "STATUS", "TYPE", "STARTED (UTC)", "DURATION")
        for run in result.runs:
            table.add_row(
                run.run_id,
                _status_cell(run.status, run.retry),
                run.run_type.value,
                utc_time(run.started_at),
                duration(run.duration_seconds),
            )
        _print_table(session, table, [_run_lines(r.error_message, r.retry) for r in result.runs])
    session.write()
    session.write(
        f"Total: {len(result.runs)} run{'s' if len(result.runs) != 1 else ''} shown ({result.total_count} available)"
    )


def render_fire_times(session: Session, times: Sequence[FireTime], timezone: str) -> None:
    """The fire times table of ``register --dry-run``, with DST notes."""
    table = _table(f"LOCAL ({timezone})", "UTC", "NOTE")
    for fire in times:
        table.add_row(
            fire.local.strftime("%Y-%m-%d %H:%M:%S %Z"),
            fire.utc.strftime("%Y-%m-%d %H:%M:%S"),
            _dst_note(fire),
        )
    _print_table(session, table)


def _dst_note(fire: FireTime) -> str:
    if fire.note == "DST gap":
        return "DST gap: the scheduled wall time does not exist that day; runs at the end of the gap"
    if fire.note == "DST overlap":
        return "DST overlap: the wall time occurs twice; runs once, at the first occurrence"
    return fire.note or ""
