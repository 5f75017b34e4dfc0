"""``dli workflow register`` and ``dli workflow unregister``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg, FormatOption
from dli.entrypoints.cli.session import current

if TYPE_CHECKING:
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.workflow import WorkflowRegisterResult

__all__ = ["register", "unregister"]

DRY_RUN_FIRE_TIMES = 5


def register(
    dataset_name: DatasetArg,
    /,
    *,
    cron: Annotated[
        str | None,
        Parameter(
            name=["--cron", "-c"],
            metavar="CRON",
            help="Cron expression (5 fields), e.g. '0 9 * * *'. Default: the spec's schedule: section.",
        ),
    ] = None,
    after_upstream: Annotated[
        bool | None,
        Parameter(
            negative="--no-after-upstream",
            help="Run when every upstream dataset (depends_on) that dli manages has new data; with a cron: "
            "whichever comes first. A cron or this is needed, given here or in the spec's schedule: section "
            "(--no-after-upstream drops the spec's 'after: upstream').",
            show_default=False,
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        Parameter(
            name=["--timezone", "-tz"],
            metavar="TZ",
            help="IANA timezone the cron is read in, e.g. Asia/Seoul. Default: the spec's schedule: section, else UTC.",
        ),
    ] = None,
    # '--tz' is accepted too, without a third name in the help.
    tz: Annotated[str | None, Parameter(name="--tz", show=False)] = None,
    enabled: Annotated[
        bool | None,
        Parameter(
            negative="--disabled",
            help="Enable the schedule on registration. Default: the spec's schedule: section, else enabled.",
        ),
    ] = None,
    retry_attempts: Annotated[
        int | None, Parameter(help="Attempts per run (>= 1). Default: the spec's schedule: section, else 1.")
    ] = None,
    retry_delay: Annotated[
        int | None, Parameter(help="Seconds between attempts. Default: the spec's schedule: section, else 300.")
    ] = None,
    force: Annotated[
        bool, Parameter(name=["--force", "-f"], negative="", help="Overwrite an existing MANUAL registration.")
    ] = False,
    dry_run: Annotated[
        bool,
        Parameter(negative="", help="Validate, explain the trigger and show the next fire times; register nothing."),
    ] = False,
    from_: Annotated[
        str | None,
        Parameter(
            name="--from",
            metavar="DATE",
            help="With --dry-run: list fire times from this date (YYYY-MM-DD, in the timezone).",
        ),
    ] = None,
    wait: Annotated[
        bool,
        Parameter(
            name=["--wait", "-w"],
            negative="",
            help="Return once Airflow runs the workflow (its DAG is parsed); report its import error.",
        ),
    ] = False,
    wait_timeout: Annotated[float, Parameter(help="With --wait: give up after this many seconds.")] = 120.0,
    format: FormatOption = "table",  # noqa: A002 - the option is --format
) -> int:
    """Register the local dataset spec as a MANUAL workflow.

    The schedule is the spec's schedule: section, each option given overriding its field.
    """
    session = current()
    if tz is not None:
        if timezone not in (None, tz):
            from dli.domain.model.errors import ParameterInvalidError

            raise ParameterInvalidError(
                f"Two timezones given: --timezone {timezone} and --tz {tz}",
                hints=("--tz and -tz are short for --timezone: give one of them.",),
            )
        timezone = tz
    result = session.api.register(
        dataset_name,
        cron=cron,
        after_upstream=after_upstream,
        timezone=timezone,
        enabled=enabled,
        retry_max_attempts=retry_attempts,
        retry_delay_seconds=retry_delay,
        force=force,
        dry_run=dry_run,
    )
    if dry_run:
        return _dry_run(result, format, from_)
    # The spec is stored: say so first, whatever the wait below finds (a warning says when Airflow
    # could not be told; the registration still happened, so that alone is no failure).
    from dli.entrypoints.cli.render import output, render_register

    output(session, result, format, render_register)
    if wait:
        session.api.wait_until_live(
            result.dataset_name, timeout_seconds=wait_timeout, sleep=session.sleep, monotonic=session.monotonic
        )
    return 0


def _dry_run(result: WorkflowRegisterResult, output: str, start: str | None) -> int:
    """What register's own checks found (the handler's, through the facade: the server's in SERVER
    mode), then the next fire times; nothing was written."""
    from dli.domain.model.schedule import fire_times
    from dli.entrypoints.cli import render

    session = current()
    assert result.schedule is not None  # a register's result always names its schedule
    schedule = result.schedule
    explained = _trigger_explained(schedule, result.upstreams)
    if start is None:
        after = session.now()
    else:
        # Just before midnight of that day in the workflow's zone: a fire at 00:00 is included.
        import zoneinfo

        from dli.domain.model.parameters import parse_date

        day = parse_date(start, what="--from date")
        after = dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(schedule.timezone)) - dt.timedelta(
            microseconds=1
        )
    times = (
        list(itertools.islice(fire_times(schedule.cron, schedule.timezone, after=after), DRY_RUN_FIRE_TIMES))
        if schedule.cron is not None
        else []
    )
    warnings = list(result.warnings)
    if output == "json":
        render.print_json(
            session,
            {
                "dataset_name": result.dataset_name,
                "dry_run": True,
                "action": "update" if result.updated else "register",
                "previous_cron": result.previous_cron,
                "schedule": schedule,
                "trigger": schedule.trigger,
                "upstreams": {"managed": list(result.upstreams), "external": list(result.external_upstreams)},
                "trigger_explained": explained,
                "warnings": warnings,
                "fire_times": times,
            },
        )
        return 0
    fields = [("Source", "manual")]
    if result.previous_cron is not None:
        fields.append(("Previous cron", result.previous_cron))
    fields += [
        ("Trigger", explained),
        ("Cron", schedule.cron or "-"),
        ("Timezone", schedule.timezone),
        ("Status", "active" if schedule.enabled else "paused (--disabled)"),
        ("Retry", f"{schedule.retry_max_attempts} attempt(s), {schedule.retry_delay_seconds}s apart"),
    ]
    outcome = "updated" if result.updated else "registered"
    session.write(f"Dry run: {result.dataset_name} is valid and would be {outcome} (nothing was changed)")
    for label, value in fields:
        session.write(f"  {label}: {value}")
    if result.external_upstreams:
        external = ", ".join(result.external_upstreams)
        session.write(f"  External upstreams (no store knows them; never a trigger): {external}")
    for warning in warnings:
        session.warn(warning)
    if schedule.cron is None:
        return 0
    session.write()
    heading = f"Next {len(times)} fire times"
    if not schedule.enabled:
        heading += " (once unpaused)"
    session.write(heading + ":")
    render.render_fire_times(session, times, schedule.timezone)
    return 0


def _trigger_explained(schedule: ScheduleConfig, managed: tuple[str, ...]) -> str:
    """What starts the workflow's runs, in words."""
    by_data = (
        f"new data in every managed upstream ({', '.join(managed)})"
        if managed
        else "new upstream data (none managed yet)"
    )
    return {
        "cron": f"cron {schedule.cron}",
        "upstream": f"after upstream: {by_data}; no fire times",
        "both": f"cron {schedule.cron} or {by_data}, whichever comes first",
    }[schedule.trigger.value]


def unregister(
    dataset_name: DatasetArg,
    /,
    *,
    format: FormatOption = "table",  # noqa: A002
) -> int:
    """Remove a MANUAL workflow (a CODE workflow is removed through Git)."""
    session = current()
    result = session.api.unregister(dataset_name)
    from dli.entrypoints.cli import render

    return render.output(session, result, format, render.render_run_result)
