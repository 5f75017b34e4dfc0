"""``dli workflow register`` and ``dli workflow unregister``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg, FormatOption
from dli.entrypoints.cli.session import current

__all__ = ["register", "unregister"]

DRY_RUN_FIRE_TIMES = 5


def register(
    dataset_name: DatasetArg,
    /,
    *,
    cron: Annotated[
        str, Parameter(name=["--cron", "-c"], metavar="CRON", help="Cron expression (5 fields), e.g. '0 9 * * *'.")
    ],
    timezone: Annotated[
        str,
        Parameter(name=["--timezone", "-tz"], metavar="TZ", help="IANA timezone the cron is read in, e.g. Asia/Seoul."),
    ] = "UTC",
    # '--tz' is accepted too, without a third name in the help.
    tz: Annotated[str | None, Parameter(name="--tz", show=False)] = None,
    enabled: Annotated[bool, Parameter(negative="--disabled", help="Enable the schedule on registration.")] = True,
    retry_attempts: Annotated[int, Parameter(help="Attempts per run (>= 1).")] = 1,
    retry_delay: Annotated[int, Parameter(help="Seconds between attempts.")] = 300,
    force: Annotated[bool, Parameter(name=["--force", "-f"], negative="", help="Overwrite an existing MANUAL registration.")] = False,
    dry_run: Annotated[bool, Parameter(negative="", help="Validate and show the next fire times; register nothing.")] = False,
    from_: Annotated[
        str | None,
        Parameter(name="--from", metavar="DATE", help="With --dry-run: list fire times from this date (YYYY-MM-DD, in the timezone)."),
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
    """Register the local dataset spec as a MANUAL workflow."""
    session = current()
    if tz is not None:
        if timezone not in ("UTC", tz):
            from dli.domain.model.errors import ParameterInvalidError

            raise ParameterInvalidError(
                f"Two timezones given: --timezone {timezone} and --tz {tz}",
                hints=("--tz and -tz are short for --timezone: give one of them.",),
            )
        timezone = tz
    if dry_run:
        return _dry_run(dataset_name, cron, timezone, enabled, retry_attempts, retry_delay, force, format, from_)
    result = session.api.register(
        dataset_name,
        cron=cron,
        timezone=timezone,
        enabled=enabled,
        retry_max_attempts=retry_attempts,
        retry_delay_seconds=retry_delay,
        force=force,
    )
    # The spec is stored: say so first, whatever the wait below finds (a warning says when Airflow
    # could not be told; the registration still happened, so that alone is no failure).
    if format == "json":
        from dli.entrypoints.cli.render import print_json

        print_json(session, result)
    else:
        from dli.entrypoints.cli.render import render_register

        render_register(session, result)
    if wait:
        session.api.wait_until_live(
            result.dataset_name, timeout_seconds=wait_timeout, sleep=session.sleep, monotonic=session.monotonic
        )
    return 0


def _dry_run(
    dataset_name: str,
    cron: str,
    timezone: str,
    enabled: bool,
    retry_attempts: int,
    retry_delay: int,
    force: bool,
    output: str,
    start: str | None,
) -> int:
    """Everything ``register`` would check, then the next fire times; nothing is written."""
    from dli.domain.model.enums import SourceType
    from dli.domain.model.errors import already_registered
    from dli.domain.model.permissions import Action, check_allowed
    from dli.domain.model.schedule import ScheduleConfig, fire_times
    from dli.entrypoints.cli import render

    session = current()
    schedule = ScheduleConfig(
        cron=cron,
        timezone=timezone,
        enabled=enabled,
        retry_max_attempts=retry_attempts,
        retry_delay_seconds=retry_delay,
    )
    api = session.api
    spec = api.load_spec(dataset_name)
    existing = api.get(dataset_name)
    previous_cron = None
    if existing is not None:
        if existing.source_type is SourceType.CODE:
            check_allowed(Action.MODIFY, source=SourceType.CODE, dataset_name=spec.name)
        if not force:
            raise already_registered(spec.name)
        previous_cron = existing.cron
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
    times = list(itertools.islice(fire_times(schedule.cron, schedule.timezone, after=after), DRY_RUN_FIRE_TIMES))
    action = "update" if existing is not None else "register"
    if output == "json":
        render.print_json(
            session,
            {
                "dataset_name": spec.name,
                "dry_run": True,
                "action": action,
                "previous_cron": previous_cron,
                "schedule": schedule,
                "fire_times": times,
            },
        )
        return 0
    fields = [("Source", "manual")]
    if previous_cron is not None:
        fields.append(("Previous cron", previous_cron))
    fields += [
        ("Cron", schedule.cron),
        ("Timezone", schedule.timezone),
        ("Status", "active" if schedule.enabled else "paused (--disabled)"),
        ("Retry", f"{schedule.retry_max_attempts} attempt(s), {schedule.retry_delay_seconds}s apart"),
    ]
    outcome = "updated" if existing is not None else "registered"
    session.write(f"Dry run: {spec.name} is valid and would be {outcome} (nothing was changed)")
    for label, value in fields:
        session.write(f"  {label}: {value}")
    session.write()
    heading = f"Next {len(times)} fire times"
    if not schedule.enabled:
        heading += " (once unpaused)"
    session.write(heading + ":")
    render.render_fire_times(session, times, schedule.timezone)
    return 0


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

    if format == "json":
        render.print_json(session, result)
    else:
        render.render_run_result(session, result)
    return 0
