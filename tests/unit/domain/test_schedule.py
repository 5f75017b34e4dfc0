import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dli.domain.model.errors import InvalidCronError, SpecInvalidError
from dli.domain.model.schedule import ScheduleConfig, fire_times, next_run, registration_schedule, validate_cron

UTC = dt.UTC


def test_schedule_defaults_match_the_spec():
    s = ScheduleConfig(cron="0 9 * * *")
    assert (s.timezone, s.enabled, s.retry_max_attempts, s.retry_delay_seconds) == ("UTC", True, 1, 300)


@pytest.mark.parametrize("cron", ["invalid", "0 9 * *", "0 9 * * * *", "60 * * * *", "* 24 * * *", "", 5])
def test_cron_must_have_five_valid_fields(cron):
    with pytest.raises(InvalidCronError) as exc:
        ScheduleConfig(cron=cron)
    assert exc.value.code.value == "DLI-805"
    assert "5-field" in exc.value.hints[0]


def test_a_schedule_without_cron_needs_after_upstream():
    with pytest.raises(InvalidCronError) as exc:
        ScheduleConfig(cron=None)
    assert exc.value.code.value == "DLI-805"
    # The hint fits every place a schedule comes from (a spec file, an API body): it names the section's keys.
    assert "after: upstream" in exc.value.message
    assert exc.value.hints == (
        "Write a 'cron' (5 fields, e.g. '0 9 * * *') and/or 'after: upstream' in the schedule: section.",
    )


SPEC_SCHEDULE = ScheduleConfig(
    cron="15 4 * * *", timezone="Asia/Seoul", enabled=False, retry_max_attempts=3, retry_delay_seconds=60
)


def test_registration_takes_the_spec_schedule_when_nothing_is_given():
    assert registration_schedule(SPEC_SCHEDULE) == SPEC_SCHEDULE


@pytest.mark.parametrize(
    ("given", "changed"),
    [
        ({"cron": "0 9 * * *"}, {"cron": "0 9 * * *"}),
        ({"timezone": "UTC"}, {"timezone": "UTC"}),
        ({"enabled": True}, {"enabled": True}),
        ({"retry_max_attempts": 1}, {"retry_max_attempts": 1}),
        ({"retry_delay_seconds": 300}, {"retry_delay_seconds": 300}),
        ({"after_upstream": True}, {"after": "upstream"}),
    ],
)
def test_registration_arguments_override_the_spec_schedule_field_by_field(given, changed):
    expected = {
        "cron": "15 4 * * *",
        "timezone": "Asia/Seoul",
        "enabled": False,
        "retry_max_attempts": 3,
        "retry_delay_seconds": 60,
        "after": None,
    }
    assert registration_schedule(SPEC_SCHEDULE, **given) == ScheduleConfig(**{**expected, **changed})


def test_registration_without_spec_schedule_defaults_what_is_not_given():
    assert registration_schedule(None, cron="0 9 * * *") == ScheduleConfig(cron="0 9 * * *")
    assert registration_schedule(None, after_upstream=True).after == "upstream"


def test_registration_can_drop_the_spec_after_upstream():
    spec = ScheduleConfig(cron="0 9 * * *", after="upstream")
    assert registration_schedule(spec, after_upstream=False) == ScheduleConfig(cron="0 9 * * *")
    with pytest.raises(InvalidCronError):  # nothing would start the runs
        registration_schedule(ScheduleConfig(after="upstream"), after_upstream=False)


@pytest.mark.parametrize("after_upstream", [None, False])
def test_registration_with_neither_a_trigger_nor_a_spec_schedule_is_dli_805_with_hints_that_work(after_upstream):
    with pytest.raises(InvalidCronError) as exc:
        registration_schedule(None, timezone="Asia/Seoul", after_upstream=after_upstream)
    assert exc.value.code.value == "DLI-805"
    assert exc.value.hints == (
        "Pass --cron '0 9 * * *' and/or --after-upstream, or add to the spec a schedule: section "
        "with a cron (and its timezone) or 'after: upstream'.",
    )


def test_an_invalid_override_is_refused_as_when_given_alone():
    with pytest.raises(InvalidCronError, match="Unknown timezone"):
        registration_schedule(SPEC_SCHEDULE, timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("cron", "after", "trigger"),
    [("0 9 * * *", None, "cron"), (None, "upstream", "upstream"), ("0 9 * * *", "upstream", "both")],
)
def test_the_trigger_is_the_cron_upstream_data_or_both(cron, after, trigger):
    schedule = ScheduleConfig(cron=cron, after=after)
    assert schedule.trigger.value == trigger
    assert schedule.after_upstream is (after is not None)


@pytest.mark.parametrize("after", ["downstream", "Upstream", True, 1, ""])
def test_after_accepts_only_upstream(after):
    with pytest.raises(SpecInvalidError) as exc:
        ScheduleConfig(cron="0 9 * * *", after=after)
    assert exc.value.details["field"] == "after"


def test_an_upstream_only_schedule_has_no_next_run():
    assert next_run(ScheduleConfig(after="upstream"), now=dt.datetime(2025, 1, 1, tzinfo=UTC)) is None
    both = ScheduleConfig(cron="0 9 * * *", after="upstream")
    assert next_run(both, now=dt.datetime(2025, 1, 1, tzinfo=UTC)) == dt.datetime(
        2025, 1, 1, 9, tzinfo=zoneinfo.ZoneInfo("UTC")
    )


def test_cron_whitespace_is_normalised():
    assert ScheduleConfig(cron="  0   9 * *  1-5 ").cron == "0 9 * * 1-5"


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", None])
def test_timezone_must_be_a_real_iana_zone(tz):
    with pytest.raises(InvalidCronError):
        ScheduleConfig(cron="0 9 * * *", timezone=tz)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(0, 300), (-1, 0), (1, -5), (True, 0), (1.5, 0), (101, 0), (float("inf"), 0), (1, 86_401), (1, 10**20), (1, "60")],
)
def test_retry_bounds_are_enforced(attempts, delay):
    with pytest.raises(SpecInvalidError) as exc:
        ScheduleConfig(cron="0 9 * * *", retry_max_attempts=attempts, retry_delay_seconds=delay)
    assert exc.value.details["field"] in ("retry.max_attempts", "retry.delay_seconds")


def test_retry_limits_themselves_are_allowed():
    s = ScheduleConfig(cron="0 9 * * *", retry_max_attempts=100, retry_delay_seconds=86_400)
    assert (s.retry_max_attempts, s.retry_delay_seconds) == (100, 86_400)


@pytest.mark.parametrize("enabled", ["false", "true", 0, 1, None])
def test_enabled_must_be_a_bool_not_text_that_reads_as_one(enabled):
    with pytest.raises(SpecInvalidError) as exc:
        ScheduleConfig(cron="0 9 * * *", enabled=enabled)
    assert exc.value.message.startswith("enabled: expected bool")


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("61 6 * * *", "minute field '61' is out of range"),
        ("0 24 * * *", "hour field '24' is out of range"),
        ("0 6 32 * *", "day-of-month field '32' is out of range"),
        ("0 6 * 13 *", "month field '13' is out of range"),
        ("0 6 * * 8", "day-of-week field '8' is out of range"),
        ("0 6 * foo *", "month field 'foo' is not valid"),
    ],
)
def test_a_bad_cron_field_is_named(cron, field):
    with pytest.raises(InvalidCronError) as exc:
        validate_cron(cron)
    assert field in exc.value.message
    assert exc.value.details["field"] == "cron"


@pytest.mark.parametrize("cron", ["0 6 31 2 *", "0 6 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_cron_that_never_fires_is_refused(cron):
    with pytest.raises(InvalidCronError) as exc:
        ScheduleConfig(cron=cron)
    assert exc.value.code.value == "DLI-805"
    assert "never fires" in exc.value.message
    assert "February" in exc.value.hints[0]


@pytest.mark.parametrize(
    "cron", ["0 6 * 2 *", "0 6 * 2 5", "0 6 31 * *", "0 6 L * *", "0 6 31 * 1", "0 6 29 * *", "*/5 * * * *"]
)
def test_validation_skips_the_search_for_a_cron_with_any_day_or_any_month_because_it_always_fires(cron):
    from dli.domain.model.schedule import _never_fires

    assert validate_cron(cron) == cron
    assert not _never_fires(cron)


@pytest.mark.parametrize("cron", ["0 6 29 2 *", "0 6 31 2 1", "0 6 L 2 *"])
def test_a_cron_that_fires_rarely_is_accepted(cron):
    assert ScheduleConfig(cron=cron).cron == cron


@pytest.mark.parametrize(
    ("cron", "timezone"), [("0 6 31 2 *", "UTC"), ("61 6 * * *", "UTC"), ("0 9 * * *", "Mars/Base")]
)
def test_fire_times_of_a_schedule_that_slipped_through_are_none(cron, timezone):
    after = dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert list(fire_times(cron, timezone, after=after)) == []
    slipped = object.__new__(ScheduleConfig)  # as if read by an older, laxer version
    object.__setattr__(slipped, "cron", cron)
    object.__setattr__(slipped, "timezone", timezone)
    assert next_run(slipped, now=after) is None


def test_next_run_is_in_the_workflow_timezone():
    now = dt.datetime(2025, 1, 1, 0, 30, tzinfo=UTC)  # 09:30 in Seoul
    nxt = next_run(ScheduleConfig(cron="0 9 * * *", timezone="Asia/Seoul"), now=now)
    assert nxt.isoformat() == "2025-01-02T09:00:00+09:00"


def test_next_run_is_strictly_after_now():
    now = dt.datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    assert next_run(ScheduleConfig(cron="0 9 * * *"), now=now) == dt.datetime(2025, 1, 2, 9, tzinfo=UTC)


def test_wall_time_is_kept_across_dst_change():
    # New York leaves DST on 2025-11-02: 09:00 local is 13:00 UTC before, 14:00 UTC after.
    times = list(_take(fire_times("0 9 * * *", "America/New_York", after=dt.datetime(2025, 11, 1, 0, tzinfo=UTC)), 2))
    assert [t.utc.hour for t in times] == [13, 14]
    assert all(t.local.hour == 9 for t in times)


def test_dst_gap_fires_once_at_the_end_of_the_gap():
    # Berlin springs forward on 2025-03-30 at 02:00 -> 03:00: 02:30 does not exist that day.
    times = list(_take(fire_times("30 2 * * *", "Europe/Berlin", after=dt.datetime(2025, 3, 29, 12, tzinfo=UTC)), 2))
    gap = times[0]
    assert gap.note == "DST gap"
    assert gap.local.isoformat() == "2025-03-30T03:00:00+02:00"
    assert times[1].note is None and times[1].local.isoformat() == "2025-03-31T02:30:00+02:00"


def test_dst_overlap_fires_once_at_the_first_occurrence():
    # Berlin falls back on 2025-10-26 at 03:00 -> 02:00: 02:30 happens twice.
    times = list(_take(fire_times("30 2 * * *", "Europe/Berlin", after=dt.datetime(2025, 10, 25, 12, tzinfo=UTC)), 2))
    assert times[0].note == "DST overlap"
    assert times[0].utc.isoformat() == "2025-10-26T00:30:00+00:00"
    assert times[1].local.date() == dt.date(2025, 10, 27)


def test_fire_times_requires_an_aware_start():
    with pytest.raises(ValueError):
        next(fire_times("0 9 * * *", "UTC", after=dt.datetime(2025, 1, 1)))


def _take(it, n):
    for _ in range(n):
        yield next(it)


ZONES = ["UTC", "Asia/Seoul", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]


@settings(max_examples=60, deadline=None)
@given(
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 1, 1)),
)
def test_fire_times_increase_and_keep_the_wall_clock_unless_in_a_gap(minute, hour, zone, start):
    after = start.replace(tzinfo=UTC)
    times = list(_take(fire_times(f"{minute} {hour} * * *", zone, after=after), 4))
    utcs = [t.utc for t in times]
    assert utcs[0] > after
    assert utcs == sorted(utcs) and len(set(utcs)) == 4
    for t in times:
        assert t.local.tzinfo == zoneinfo.ZoneInfo(zone)
        if t.note != "DST gap":
            assert (t.local.hour, t.local.minute) == (hour, minute)
