"""``dli workflow publish``: the CI/CD step that puts the project's scheduled specs under ``code/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from cyclopts import Parameter

from dli.entrypoints.cli.options import FormatOption, ProjectPathOption, StoreUrlOption
from dli.entrypoints.cli.session import Session, current

__all__ = ["ci_actor", "publish", "render_publish"]

CHANGE_SHOWS = (
    "Basecamp servers reading this store show the change at their next check of it: within their "
    "--check-interval (30 s by default; 5 s for dli dev up). Until then 'dli workflow list' shows the "
    "workflows as they were."
)
"""Printed after a publish that changed the store: ``list`` lags behind it by up to a check interval."""

_VERBS = {
    "create": "create",
    "update": "update",
    "unchanged": "unchanged",
    "delete": "delete",
    "keep": "keep (left the project; --prune deletes it)",
}


def publish(
    *,
    store: StoreUrlOption,
    path: ProjectPathOption = None,
    prune: Annotated[
        bool, Parameter(negative="", help="Delete code specs of datasets no longer scheduled in the project.")
    ] = False,
    dry_run: Annotated[bool, Parameter(negative="", help="Show the plan; write nothing.")] = False,
    actor: Annotated[
        str | None,
        Parameter(
            metavar="WHO",
            env_var="DLI_ACTOR",
            help=r"Who publishes, for the audit trail and registered_by. \[default: the CI's commit and job "
            "(GITHUB_SHA/GITHUB_JOB, CI_COMMIT_SHA/CI_JOB_ID), else DLI_PUBLISHER, else 'ci']",
        ),
    ] = None,
    format: FormatOption = "table",  # noqa: A002 - the option is --format
) -> int:
    """Publish the project's scheduled dataset specs as CODE workflows (CI/CD).

    Every spec is validated first: if any is invalid nothing is published. Unchanged specs are not
    rewritten, so running it again is a no-op.
    """
    import os

    session = current()
    result = session.api.publish(
        store_url=store,
        project_path=path,
        prune=prune,
        dry_run=dry_run,
        publisher=actor or os.environ.get("DLI_PUBLISHER") or ci_actor(os.environ),
    )
    from dli.entrypoints.cli.render import output

    return output(session, result, format, render_publish)


def ci_actor(env: Mapping[str, str]) -> str | None:
    """The CI identity the environment tells (commit and job), for a publish given no --actor."""
    if env.get("GITHUB_SHA"):
        repo = env.get("GITHUB_REPOSITORY", "github")
        return (
            f"{repo}@{env['GITHUB_SHA'][:12]}"
            + (f"/{env['GITHUB_JOB']}" if env.get("GITHUB_JOB") else "")
            + (f"#{env['GITHUB_RUN_ID']}" if env.get("GITHUB_RUN_ID") else "")
        )
    if env.get("CI_COMMIT_SHA"):
        project = env.get("CI_PROJECT_PATH", "gitlab")
        return f"{project}@{env['CI_COMMIT_SHA'][:12]}" + (f"/job-{env['CI_JOB_ID']}" if env.get("CI_JOB_ID") else "")
    return None


def render_publish(session: Session, result) -> None:  # noqa: ANN001 - PublishResult, imported lazily
    """The plan as a table, then one summary line."""
    from rich.table import Table

    if result.items:
        table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 3, 0, 0))
        for column in ("DATASET", "ACTION", "CRON"):
            table.add_column(column, no_wrap=True)
        for item in result.items:
            table.add_row(item.dataset_name, _VERBS[item.action.value], item.cron or "-")
        with session.console.capture() as capture:
            session.console.print(table)
        session.write("\n".join(line.rstrip() for line in capture.get().rstrip("\n").split("\n")))
    else:
        session.write("No scheduled datasets in the project and no code specs in the store.")
    counts = result.summary
    parts = [
        f"{counts.get('create', 0)} to create",
        f"{counts.get('update', 0)} to update",
        f"{counts.get('unchanged', 0)} unchanged",
        f"{counts.get('delete', 0)} to delete",
    ]
    if counts.get("keep"):
        parts.append(f"{counts['keep']} kept (use --prune to delete)")
    if result.dry_run:
        session.write(f"Dry run for {result.store}: " + ", ".join(parts) + ". Nothing was written.")
    else:
        done = [
            p.replace(" to create", " created").replace(" to update", " updated").replace(" to delete", " deleted")
            for p in parts
        ]
        session.write(f"Published to {result.store}: " + ", ".join(done) + ".")
    if result.skipped:
        session.write(f"Not scheduled (no schedule: section), not published: {', '.join(result.skipped)}")
    for warning in getattr(result, "warnings", ()):
        session.warn(warning)
    if result.changed and not result.dry_run:
        # publish writes the store, not the server: the server sees the change on its next check.
        session.write(CHANGE_SHOWS)
