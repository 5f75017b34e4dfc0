"""``dli workflow audit``: who changed (or was refused) what, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import Parameter

from dli.entrypoints.cli.options import Format
from dli.entrypoints.cli.session import Session, current

__all__ = ["audit", "render_audit"]


def audit(
    *,
    dataset: Annotated[str | None, Parameter(name=["--dataset", "-d"], help="Only records of this dataset.")] = None,
    actor: Annotated[str | None, Parameter(metavar="WHO", help="Only records of this actor.")] = None,
    since: Annotated[
        str | None, Parameter(metavar="DATE", help="Only records from this day (YYYY-MM-DD, UTC) on.")
    ] = None,
    limit: Annotated[int, Parameter(name=["--limit", "-n"], help="At most this many records.")] = 100,
    format: Format = "table",  # noqa: A002 - the option is --format
) -> int:
    """Show the audit trail: every write and every refusal, newest first (the teams you may view)."""
    session = current()
    result = session.api.audit(dataset_name=dataset, by=actor, since=since, limit=limit)
    from dli.entrypoints.cli import render

    return render.output(session, result, format, render_audit)


def render_audit(session: Session, result: Any) -> None:
    """One line per record, then how many matched."""
    if not result.records:
        session.write("No audit records found.")
        return
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 3, 0, 0))
    for column in ("TIME (UTC)", "ACTOR", "ACTION", "DATASET", "TEAM", "OUTCOME", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    for record in result.records:
        outcome = record.outcome.value + (f" {record.code}" if record.code else "")
        table.add_row(
            record.time.strftime("%Y-%m-%d %H:%M:%S"),
            f"{record.actor} ({record.auth})",
            record.action,
            record.dataset or "-",
            record.team or "-",
            outcome,
            record.detail or "",
        )
    with session.console.capture() as capture:
        session.console.print(table)
    session.write("\n".join(line.rstrip() for line in capture.get().rstrip("\n").split("\n")))
    session.write(f"Showing {len(result.records)} of {result.total_count} record(s).")
