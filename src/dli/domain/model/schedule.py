"""Schedules: cron + IANA timezone, validated, with DST-correct fire times."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import attrs

from dli.domain.model.errors import InvalidCronError, SpecInvalidError

__all__ = ["FireTime", "ScheduleConfig", "fire_times", "next_run", "validate_cron", "validate_timezone"]

_UTC = dt.timezone.utc


def validate_cron(cron: object) -> str:
    """Return the cron expression if it has exactly five valid fields, else raise DLI-805."""
    hints = ("Expected 5-field format: minute hour day month weekday, e.g. '0 9 * * *'.",)
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise InvalidCronError(f"Invalid cron expression: {cron!r}", hints=hints)
    from croniter import croniter  # imported on first use: it costs CLI start-up time

    try:
        ok = croniter.is_valid(cron)
    except Exception:  # croniter raises assorted errors on odd input
        ok = False
    if not ok:
        raise InvalidCronError(f"Invalid cron expression: {cron!r}", hints=hints)
    return " ".join(cron.split())


def validate_timezone(timezone: object) -> str:
    """Return the timezone if it is a real IANA zone name, else raise DLI-805."""
    if not isinstance(timezone, str) or not timezone or timezone.startswith(("/", ".")) or ".." in timezone:
        raise InvalidCronError(f"Unknown timezone: {timezone!r}", hints=("Use an IANA name such as 'Asia/Seoul' or 'UTC'.",))
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidCronError(
            f"Unknown timezone: {timezone!r}", hints=("Use an IANA name such as 'Asia/Seoul' or 'UTC'.",)
        ) from None
    return timezone


def _check_attempts(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecInvalidError(f"retry max_attempts must be an integer >= 1, got {value!r}")


def _check_delay(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecInvalidError(f"retry delay_seconds must be an integer >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ScheduleConfig:
    """When and how a dataset runs: the ``schedule:`` section of a spec."""

    cron: str = attrs.field(converter=validate_cron)
    """Five-field cron expression, evaluated in ``timezone``."""
    timezone: str = attrs.field(default="UTC", converter=validate_timezone)
    """IANA timezone the cron expression is read in."""
    enabled: bool = True
    """Whether the schedule is active when the workflow is created."""
    retry_max_attempts: int = attrs.field(default=1, validator=_check_attempts)
    """How many times a failed run is attempted in all (>= 1)."""
    retry_delay_seconds: int = attrs.field(default=300, validator=_check_delay)
    """Seconds between attempts (>= 0)."""


@attrs.frozen
class FireTime:
    """One fire time of a schedule."""

    local: dt.datetime
    """The fire time in the schedule's timezone (aware)."""
    utc: dt.datetime
    """The same instant in UTC."""
    note: str | None = None
    """``"DST gap"`` when the wall time does not exist that day, ``"DST overlap"`` when it occurs twice."""


def fire_times(cron: str, timezone: str, *, after: dt.datetime) -> Iterator[FireTime]:
    """Yield the fire times strictly after ``after`` (aware), in order, DST-correct.

    Cron fields are wall-clock times in ``timezone``: on a DST gap day a time that does not exist
    fires at the first valid instant after it (as Airflow's CronTriggerTimetable does); in an
    overlap it fires once, at the first occurrence.
    """
    if after.tzinfo is None:
        raise ValueError("'after' must be timezone-aware")
    from croniter import croniter

    zone = zoneinfo.ZoneInfo(timezone)
    start_local = after.astimezone(zone).replace(tzinfo=None)
    # Iterate naive wall times, then place each one in the zone ourselves: croniter's own
    # DST handling differs between versions.
    itr = croniter(cron, start_local)
    last_utc = after.astimezone(_UTC)
    while True:
        wall: dt.datetime = itr.get_next(dt.datetime)
        first = wall.replace(tzinfo=zone, fold=0)
        second = wall.replace(tzinfo=zone, fold=1)
        note = None
        if first.utcoffset() != second.utcoffset():
            # fold=0 and fold=1 differ: either the wall time is repeated (overlap) or missing (gap).
            round_trip = first.astimezone(_UTC).astimezone(zone).replace(tzinfo=None)
            if round_trip == wall:
                note = "DST overlap"
                instant = first
            else:
                note = "DST gap"
                instant = _first_valid_after_gap(wall, zone)
        else:
            instant = first
        utc = instant.astimezone(_UTC)
        if utc <= last_utc:
            continue
        last_utc = utc
        yield FireTime(local=instant.astimezone(zone), utc=utc, note=note)


def _first_valid_after_gap(wall: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant at which the clocks jumped over ``wall`` (the end of the gap)."""
    probe = wall
    for _ in range(24 * 60):
        probe += dt.timedelta(minutes=1)
        candidate = probe.replace(tzinfo=zone)
        if candidate.astimezone(_UTC).astimezone(zone).replace(tzinfo=None) == probe:
            return candidate
    return wall.replace(tzinfo=zone)  # pragma: no cover - no zone has a gap longer than a day


def next_run(schedule: ScheduleConfig, *, now: dt.datetime) -> dt.datetime:
    """The next fire time after ``now``, in the schedule's timezone."""
    return next(fire_times(schedule.cron, schedule.timezone, after=now)).local
