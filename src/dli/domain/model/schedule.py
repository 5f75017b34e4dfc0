"""Schedules: cron + IANA timezone, validated, with DST-correct fire times."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterator
from typing import Any

import attrs

from dli.domain.model.enums import ScheduleTrigger
from dli.domain.model.errors import InvalidCronError
from dli.domain.model.rules import RULE, Choice, Flag, Rule, Whole, checked

__all__ = [
    "AFTER",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_DELAY_SECONDS",
    "AFTER_UPSTREAM",
    "CRON",
    "CRON_PATTERN",
    "MAX_RETRY_ATTEMPTS",
    "MAX_RETRY_DELAY_SECONDS",
    "FireTime",
    "ScheduleConfig",
    "TIMEZONE",
    "fire_times",
    "next_run",
    "registration_schedule",
    "validate_cron",
    "validate_timezone",
]

_UTC = dt.UTC

DEFAULT_RETRY_ATTEMPTS = 1
"""Attempts of a failed run in all, when the schedule does not say."""
DEFAULT_RETRY_DELAY_SECONDS = 300
"""Seconds between attempts, when the schedule does not say."""


_CRON_FORMAT_HINT = "Expected 5-field format: minute hour day month weekday, e.g. '0 9 * * *'."
_TIMEZONE_HINT = "Use an IANA name such as 'Asia/Seoul' or 'UTC'."
# (name, allowed values) of the five cron fields, in order.
_CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
)
# A field made only of numbers and cron operators is well-formed; croniter refusing it means a
# number is out of range.
_NUMERIC_FIELD = re.compile(r"[0-9*,/-]+")


def _names(*words: str) -> str:
    return "|".join("".join(f"[{c}{c.upper()}]" for c in word) for word in words)


def _cron_field(value: str, alone: str = "") -> str:
    token = f"(?:\\*|(?:{value})(?:-(?:{value}))?)(?:/[1-9][0-9]?)?"
    field = f"{token}(?:,{token})*"
    return f"(?:{field}|{alone})" if alone else field


CRON_PATTERN = (
    "[ \t]*"
    + "[ \t]+".join(
        _cron_field(value, alone)
        for value, alone in (
            ("[0-5]?[0-9]", ""),
            ("[01]?[0-9]|2[0-3]", ""),
            ("0?[1-9]|[12][0-9]|3[01]", "L"),  # L: the month's last day
            (
                "0?[1-9]|1[0-2]|"
                + _names("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
                "",
            ),
            ("0?[0-7]|" + _names("sun", "mon", "tue", "wed", "thu", "fri", "sat"), ""),
        )
    )
    + "[ \t]*"
)
"""The forms of a cron expression dli takes: five fields of numbers in range (or month and weekday
names), ``*``, lists, ranges and steps from 1 to 99 (or ``L``, the last day of the month), apart by spaces or tabs. Written in the regular
expressions Python and JSON Schema share: ``validate_cron`` and the API document read this one."""
_CRON = re.compile(CRON_PATTERN)

MAX_RETRY_ATTEMPTS = 100
MAX_RETRY_DELAY_SECONDS = 86_400
AFTER_UPSTREAM = "upstream"
"""The one value of ``schedule.after``: run when the upstream datasets have new data."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _cron_error(cron: object, reason: str, *hints: str) -> InvalidCronError:
    return InvalidCronError(
        f"Invalid cron expression: {_shown(cron)} - {reason}",
        hints=hints or (_CRON_FORMAT_HINT,),
        details={"field": "cron", "problem": f"invalid cron expression {_shown(cron)} - {reason}"},
    )


# Memoised: loading a store validates each spec's cron, and thousands of specs share a few dozen
# expressions.
@functools.lru_cache(maxsize=4096)
def _croniter_accepts(expression: str) -> bool:
    from croniter import croniter  # imported on first use: it costs CLI start-up time

    try:
        return bool(croniter.is_valid(expression))
    except Exception:  # croniter raises assorted errors on odd input
        return False


@functools.lru_cache(maxsize=4096)
def _never_fires(expression: str) -> bool:
    from croniter import CroniterError, croniter

    try:
        croniter(expression, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except CroniterError:  # CroniterBadDateError: no date matches within croniter's search horizon
        return True
    return False


def validate_cron(cron: object) -> str:
    """Return the cron expression, whitespace normalised, if it is valid and fires; else raise DLI-805.

    The message names the field that is wrong, or says that no date ever matches (``0 6 31 2 *``).
    """
    if not isinstance(cron, str):
        raise _cron_error(cron, f"expected a string, got {type(cron).__name__}")
    fields = cron.split()
    if len(fields) != 5:
        raise _cron_error(cron, f"expected 5 fields, got {len(fields)}")
    normalised = " ".join(fields)
    if not _croniter_accepts(normalised):
        for index, (label, allowed) in enumerate(_CRON_FIELDS):
            probe = ["*"] * 5
            probe[index] = fields[index]
            if not _croniter_accepts(" ".join(probe)):
                kind = "out of range" if _NUMERIC_FIELD.fullmatch(fields[index]) else "not valid"
                raise _cron_error(cron, f"the {label} field {fields[index]!r} is {kind} (allowed: {allowed})")
        raise _cron_error(cron, "croniter does not accept it")
    if not _CRON.fullmatch(cron):
        raise _cron_error(
            cron,
            "it uses a form dli does not take (fields of numbers or names, '*', ',', '-' and steps '/1' to '/99', "
            "apart by spaces)",
        )
    # Some day of every month matches when the day-of-month field is `*`, and every day-of-month
    # croniter accepts occurs in January when the month field is `*`: only the rest need a search.
    if "*" not in (fields[2], fields[3]) and _never_fires(normalised):
        raise _cron_error(
            cron,
            "it never fires (no date matches its day-of-month, month and day-of-week fields)",
            "Check the day against the month: February has at most 29 days; April, June, September and "
            "November have 30.",
        )
    return normalised


def validate_timezone(timezone: object) -> str:
    """Return the timezone if it is a real IANA zone name, else raise DLI-805."""

    def unknown() -> InvalidCronError:
        return InvalidCronError(
            f"Unknown timezone: {_shown(timezone)}",
            hints=(_TIMEZONE_HINT,),
            details={"field": "timezone", "problem": f"unknown timezone {_shown(timezone)}"},
        )

    if not isinstance(timezone, str) or not timezone or timezone.startswith(("/", ".")) or ".." in timezone:
        raise unknown()
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise unknown() from None
    return timezone


def _optional_cron(cron: object) -> str | None:
    return None if cron is None else validate_cron(cron)


@attrs.frozen(kw_only=True)
class _Zone(Rule):
    """An IANA timezone name (checked by ``validate_timezone``; the document lists the names)."""

    def problem(self, value: object) -> str | None:
        try:
            validate_timezone(value)
        except InvalidCronError as exc:
            return str(exc.details["problem"])
        return None

    def keywords(self) -> dict[str, Any]:
        return {"type": "string", "enum": sorted(zoneinfo.available_timezones() | {"UTC"})}


@attrs.frozen(kw_only=True)
class _Cron(Rule):
    """A five-field cron expression that fires (checked by ``validate_cron``)."""

    def problem(self, value: object) -> str | None:
        try:
            validate_cron(value)
        except InvalidCronError as exc:
            return str(exc.details["problem"])
        return None

    def keywords(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{CRON_PATTERN})(?![\\s\\S])", "examples": ["0 6 * * *"]}


CRON = _Cron(
    nullable=True,
    description="Five-field cron expression (minute hour day month weekday), read in 'timezone'; it must fire "
    "(no '0 6 31 2 *'). May be left out with 'after: upstream'.",
)
TIMEZONE = _Zone(description="IANA timezone the cron expression is read in.")
AFTER = Choice(
    values=(AFTER_UPSTREAM,),
    nullable=True,
    hints=("Write 'after: upstream' to run when every upstream dataset dli manages has new data.",),
    description="'upstream': also run when every upstream dataset dli manages has published new data.",
)


@attrs.frozen(kw_only=True)
class ScheduleConfig:
    """When and how a dataset runs: the ``schedule:`` section of a spec.

    A schedule has a cron expression, ``after: upstream``, or both (then whichever comes first).
    """

    cron: str | None = attrs.field(default=None, converter=_optional_cron, metadata={RULE: CRON})
    """Five-field cron expression, evaluated in ``timezone``; ``None`` when only upstream data starts runs."""
    timezone: str = attrs.field(default="UTC", converter=validate_timezone, metadata={RULE: TIMEZONE})
    """IANA timezone the cron expression is read in."""
    enabled: bool = checked(Flag(), default=True)
    """Whether the schedule is active when the workflow is created."""
    retry_max_attempts: int = checked(
        Whole(low=1, high=MAX_RETRY_ATTEMPTS), label="retry.max_attempts", default=DEFAULT_RETRY_ATTEMPTS
    )
    """How many times a failed run is attempted in all (1 to 100)."""
    retry_delay_seconds: int = checked(
        Whole(low=0, high=MAX_RETRY_DELAY_SECONDS), label="retry.delay_seconds", default=DEFAULT_RETRY_DELAY_SECONDS
    )
    """Seconds between attempts (0 to 86400, one day)."""
    after: str | None = checked(AFTER, default=None)
    """``"upstream"``: also run when every upstream dataset (``depends_on``) dli manages has published new data."""

    def __attrs_post_init__(self) -> None:
        if self.cron is None and self.after is None:
            raise InvalidCronError(
                "A schedule needs a cron expression, 'after: upstream', or both",
                hints=(
                    "Write a 'cron' (5 fields, e.g. '0 9 * * *') and/or 'after: upstream' in the schedule: section.",
                ),
                details={
                    "field": "cron",
                    "problem": "missing: a schedule needs a cron expression or 'after: upstream'",
                },
            )

    @property
    def after_upstream(self) -> bool:
        """Whether new upstream data starts runs."""
        return self.after == AFTER_UPSTREAM

    @property
    def trigger(self) -> ScheduleTrigger:
        """What starts the scheduled runs: the cron, upstream data, or both."""
        if self.cron is None:
            return ScheduleTrigger.UPSTREAM
        return ScheduleTrigger.BOTH if self.after_upstream else ScheduleTrigger.CRON


def registration_schedule(
    spec_schedule: ScheduleConfig | None,
    *,
    cron: str | None = None,
    after_upstream: bool | None = None,
    timezone: str | None = None,
    enabled: bool | None = None,
    retry_max_attempts: int | None = None,
    retry_delay_seconds: int | None = None,
) -> ScheduleConfig:
    """The schedule a registration stores: the spec's ``schedule:`` section, each field given
    (not ``None``) overriding the section's; a field neither gives has its default.

    ``cron`` and ``after_upstream`` are fields as the others: ``--cron`` over a spec with
    ``after: upstream`` keeps both triggers (``after_upstream=False`` drops the upstream one).

    Raises:
        InvalidCronError: The result has neither a cron nor ``after: upstream`` (DLI-805), or a
            field is invalid.
    """
    fields: dict[str, Any] = {} if spec_schedule is None else attrs.asdict(spec_schedule, recurse=False)
    given = {
        "cron": cron,
        "timezone": timezone,
        "enabled": enabled,
        "retry_max_attempts": retry_max_attempts,
        "retry_delay_seconds": retry_delay_seconds,
    }
    fields.update((key, value) for key, value in given.items() if value is not None)
    if after_upstream is not None:
        fields["after"] = AFTER_UPSTREAM if after_upstream else None
    if fields.get("cron") is None and fields.get("after") is None:
        raise InvalidCronError(
            "A schedule needs a cron expression, 'after: upstream', or both",
            hints=(
                "Pass --cron '0 9 * * *' and/or --after-upstream, or add to the spec a schedule: section "
                "with a cron (and its timezone) or 'after: upstream'.",
            ),
            details={"field": "cron", "problem": "missing: a schedule needs a cron expression or 'after: upstream'"},
        )
    return ScheduleConfig(**fields)


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
    from croniter import CroniterError, croniter

    # A stored spec written before a rule existed (or by hand) may hold a cron or timezone that
    # is now refused: it has no fire times rather than breaking every listing that shows it.
    try:
        zone = zoneinfo.ZoneInfo(timezone)
        start_local = after.astimezone(zone).replace(tzinfo=None)
        # Iterate naive wall times, then place each one in the zone ourselves: croniter's own
        # DST handling differs between versions.
        itr = croniter(cron, start_local)
    except (CroniterError, zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return
    last_utc = after.astimezone(_UTC)
    while True:
        try:
            wall: dt.datetime = itr.get_next(dt.datetime)
        except (CroniterError, ValueError, OverflowError):  # e.g. no date ever matches: 0 6 31 2 *
            return
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


def next_run(schedule: ScheduleConfig, *, now: dt.datetime) -> dt.datetime | None:
    """The next fire time after ``now``, in the schedule's timezone; ``None`` when it never fires.

    A schedule without a cron (``after: upstream`` only) has no fire time: upstream data starts it.
    """
    if schedule.cron is None:
        return None
    fire = next(fire_times(schedule.cron, schedule.timezone, after=now), None)
    return fire.local if fire is not None else None
