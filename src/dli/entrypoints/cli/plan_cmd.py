"""``dli workflow plan``: what ``publish`` would change, explained, for a pull request; writes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import ProjectPathOption, StoreUrlOption
from dli.entrypoints.cli.session import current

if TYPE_CHECKING:
    from dli.domain.model.plan import PlanItem, PlanResult

__all__ = ["markdown", "plan", "text_lines"]

_VERBS = {
    "create": "+ create",
    "update": "~ update",
    "delete": "- delete",
    "unchanged": "  unchanged",
    "keep": "  keep (left the project; --prune deletes it)",
}


def plan(
    *,
    store: StoreUrlOption,
    path: ProjectPathOption = None,
    prune: Annotated[
        bool,
        Parameter(negative="", show_default=False, help="Plan the deletes of code specs no longer in the project."),
    ] = False,
    format: Annotated[
        Literal["table", "json", "markdown"],
        Parameter(name=["--format", "-f"], help="table, json, or markdown (for a pull-request comment)."),
    ] = "table",
    detailed_exitcode: Annotated[
        bool,
        Parameter(
            negative="",
            show_default=False,
            help="Exit 0 when nothing would change, 2 when something would, 1 on an error (as terraform plan).",
        ),
    ] = False,
) -> int:
    """Show what publish would change in the store, explained; write nothing (what CI runs on a pull request).

    Exit 1 when a statement's SQL does not parse (publish would refuse the project).
    """
    from dli.domain.model.errors import DLIError
    from dli.entrypoints.cli.exit_codes import print_error
    from dli.entrypoints.cli.render import print_json

    session = current()
    try:
        result = session.api.plan(store_url=store, project_path=path, prune=prune)
    except DLIError as exc:
        if not detailed_exitcode:
            raise
        print_error(exc, stream=session.err)  # 2 means "changes" here: an error is 1, as terraform's
        return 1
    if format == "json":
        print_json(session, result)
    elif format == "markdown":
        session.write(markdown(result))
    else:
        for line in text_lines(result):
            session.write(line)
    for warning in result.warnings:
        session.warn(warning)
    if result.errors:
        return 1
    if detailed_exitcode and result.changed:
        return 2
    return 0


def _summary(result: PlanResult) -> str:
    counts = result.summary
    text = (
        f"{counts.get('create', 0)} to create, {counts.get('update', 0)} to update, "
        f"{counts.get('delete', 0)} to delete, {counts.get('unchanged', 0)} unchanged"
    )
    if counts.get("keep"):
        text += f", {counts['keep']} kept (--prune deletes them)"
    if result.errors:
        text += f"; {result.errors} SQL error(s): publish would refuse the project"
    return text


def _details(item: PlanItem) -> list[str]:
    lines = []
    if item.manual == "overridden":
        lines.append(f"the MANUAL workflow '{item.dataset_name}' becomes overridden by this CODE spec")
    elif item.manual == "active again":
        lines.append(f"the MANUAL workflow '{item.dataset_name}' becomes active again")
    if item.changed_fields:
        lines.append("changed: " + ", ".join(item.changed_fields))
    if item.next_fire_times:
        schedule = f"schedule: {item.previous_cron} -> {item.cron}" if item.previous_cron else f"schedule: {item.cron}"
        times = ", ".join(t.local.strftime("%Y-%m-%d %H:%M %Z") for t in item.next_fire_times)
        lines.append(f"{schedule} ({item.timezone}); next: {times}")
    if item.downstream:
        lines.append("reaches downstream: " + ", ".join(item.downstream))
    for finding in item.findings:
        lines.append(f"SQL {finding.severity.value}: {finding.message}")
        lines += [f"  | {line}" for line in finding.excerpt.splitlines()]
    return lines


def text_lines(result: PlanResult) -> list[str]:
    """The plan as text: one line per dataset, its details below, the diff indented, then the summary."""
    lines = [f"Plan for {result.store} (nothing is written):"]
    for item in result.items:
        lines.append(f"{_VERBS[item.action.value]} {item.dataset_name}")
        lines += [f"      {line}" for line in _details(item)]
        lines += [f"        {line}" for line in item.diff.splitlines()]
    if result.skipped:
        lines.append(f"Not scheduled, not published: {', '.join(result.skipped)}")
    lines.append(_summary(result) + ".")
    return lines


def markdown(result: PlanResult) -> str:
    """The plan as a pull-request comment: a table of the changes, each one's diff in a folded block."""
    out = ["### dli workflow plan", "", f"Store: `{result.store}` — {_summary(result)}.", ""]
    changes = [i for i in result.items if i.action.value in ("create", "update", "delete")]
    if changes:
        out += ["| action | dataset | details |", "|---|---|---|"]
        for item in changes:
            details = "<br>".join(line.replace("|", "\\|") for line in _details(item) if not line.startswith("  |"))
            out.append(f"| {item.action.value} | `{item.dataset_name}` | {details or '-'} |")
        for item in changes:
            if item.diff:
                out += [
                    "",
                    f"<details><summary><code>{item.dataset_name}</code> diff</summary>",
                    "",
                    "```diff",
                    item.diff,
                    "```",
                    "",
                    "</details>",
                ]
    else:
        out.append("No changes.")
    return "\n".join(out)
