"""``dli workflow status``, ``list`` and ``history``."""

from __future__ import annotations

from typing import Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import Format, RunIdArg, SourceFilter
from dli.entrypoints.cli.session import current

__all__ = ["history", "list_workflows", "status"]

Source = Annotated[SourceFilter, Parameter(name=["--source", "-s"], help="Filter by source type.")]


def status(run_id: RunIdArg, /, *, format: Format = "table") -> int:  # noqa: A002 - the option is --format
    """Show the status of one run."""
    session = current()
    result = session.api.get_status(run_id)
    from dli.entrypoints.cli import render

    return render.output(session, result, format, render.render_status)


def list_workflows(
    *,
    source: Source = "all",
    status: Annotated[
        Literal["all", "active", "paused", "overridden"], Parameter(help="Filter by workflow status.")
    ] = "all",
    running: Annotated[bool, Parameter(negative="", help="Only workflows with a run in progress.")] = False,
    enabled_only: Annotated[bool, Parameter(negative="", help="Only workflows whose schedule is enabled.")] = False,
    dataset: Annotated[
        str | None, Parameter(name=["--dataset", "-d"], help="Filter by dataset name (substring or glob pattern).")
    ] = None,
    team: Annotated[str | None, Parameter(help="Only workflows of this team (exactly).")] = None,
    limit: Annotated[
        int, Parameter(name=["--limit", "-n"], help="At most this many workflows (fetched 1,000 per request).")
    ] = 100,
    after: Annotated[str | None, Parameter(help="Start after this row: the cursor a previous listing printed.")] = None,
    format: Format = "table",  # noqa: A002
) -> int:
    """List registered workflows; stored specs that cannot be read are named on stderr."""
    session = current()
    result = session.api.list_workflows(
        source_type=None if source == "all" else source,
        status=None if status == "all" else status,
        dataset_filter=dataset,
        team=team,
        running_only=running,
        enabled_only=enabled_only,
        limit=limit,
        after=after,
    )
    from dli.entrypoints.cli import render

    return render.output(session, result, format, render.render_list)


def history(
    *,
    dataset: Annotated[str | None, Parameter(name=["--dataset", "-d"], help="Only runs of this dataset.")] = None,
    source: Source = "all",
    status: Annotated[
        Literal["pending", "running", "completed", "failed", "killed"] | None,
        Parameter(help="Filter by run status."),
    ] = None,
    limit: Annotated[int, Parameter(name=["--limit", "-n"], help="Number of runs.")] = 20,
    show_dataset_info: Annotated[
        bool, Parameter(negative="", help="Show the dataset's metadata (with --dataset).")
    ] = False,
    format: Format = "table",  # noqa: A002
) -> int:
    """Show execution history, newest first; --dataset is a filter (a name without runs: no runs)."""
    session = current()
    result = session.api.history(
        dataset_name=dataset,
        source_type=None if source == "all" else source,
        run_status=status,
        limit=limit,
        include_dataset_info=show_dataset_info,
    )
    from dli.entrypoints.cli import render

    info_of = dataset if show_dataset_info else None
    return render.output(session, result, format, render.render_history, dataset_info_of=info_of)
