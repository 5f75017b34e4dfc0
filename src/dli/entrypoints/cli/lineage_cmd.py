"""``dli workflow lineage``: the upstream columns of each output column of a workflow's query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg
from dli.entrypoints.cli.session import Session, current

if TYPE_CHECKING:
    from dli.domain.model.sql_check import WorkflowLineageResult

__all__ = ["lineage"]


def lineage(
    dataset_name: DatasetArg,
    /,
    *,
    column: Annotated[str | None, Parameter(name=["--column", "-c"], help="Only this output column.")] = None,
    format: Annotated[Literal["table", "json"], Parameter(name=["--format", "-f"], help="table or json.")] = "table",
) -> int:
    """Show which upstream columns feed each output column of a workflow's query (parsed in its dialect)."""
    from dli.entrypoints.cli.render import output

    session = current()
    return output(session, session.api.lineage(dataset_name, column=column), format, _render)


def _render(session: Session, result: WorkflowLineageResult) -> None:
    width = max((len(c.column) for c in result.columns), default=6)
    session.write(f"{'COLUMN'.ljust(width)}  SOURCES")
    for entry in result.columns:
        sources = ", ".join(entry.sources) or "(no upstream column: a constant or expression)"
        session.write(f"{entry.column.ljust(width)}  {sources}")
