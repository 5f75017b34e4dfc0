"""``dli workflow pause`` and ``dli workflow unpause``."""

from __future__ import annotations

from typing import Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg, Format
from dli.entrypoints.cli.session import current

__all__ = ["pause", "unpause"]

SourceChoice = Annotated[
    Literal["manual", "code"] | None,
    Parameter(name=["--source", "-s"], help="Which workflow, when both a manual and a code one exist."),
]


def _control(action: str, dataset_name: str, source: str | None, output: str) -> int:
    session = current()
    method = session.api.pause if action == "pause" else session.api.unpause
    result = method(dataset_name, source_type=source)
    from dli.entrypoints.cli import render

    if output == "json":
        render.print_json(session, result)
    else:
        render.render_run_result(session, result)
    return 0


def pause(dataset_name: DatasetArg, /, *, source: SourceChoice = None, format: Format = "table") -> int:  # noqa: A002
    """Pause a workflow's schedule (CODE workflows too)."""
    return _control("pause", dataset_name, source, format)


def unpause(dataset_name: DatasetArg, /, *, source: SourceChoice = None, format: Format = "table") -> int:  # noqa: A002
    """Resume a workflow's schedule."""
    return _control("unpause", dataset_name, source, format)
