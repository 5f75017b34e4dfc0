"""Formatting helpers of the human output."""

import datetime as dt
import io

import attrs
import pytest

from dli.adapters.codecs.results import from_jsonable, to_jsonable
from dli.domain.model.enums import RunStatus, RunType, SourceType, WorkflowStatus
from dli.domain.model.workflow import WorkflowInfo
from dli.domain.model.workflow_runs import RetryWait, WorkflowStatusResult
from dli.entrypoints.cli.render import countdown, duration, local_time, render_status, retry_notice, utc_time
from dli.entrypoints.cli.session import Session
from dli.entrypoints.cli.settings import Resolved
from dli.entrypoints.context import ExecutionContext

FAILED_AT = dt.datetime(2025, 1, 2, 9, 0, 30, tzinfo=dt.UTC)


def test_duration_is_seconds_then_hours():
    assert duration(None) == "-"
    assert duration(45.4) == "45s"
    assert duration(125) == "125s"
    assert duration(3725) == "1h02m05s"


def test_local_time_shows_the_zone_abbreviation_even_after_a_json_round_trip():
    info = WorkflowInfo(
        dataset_name="a.b",
        source_type=SourceType.MANUAL,
        status=WorkflowStatus.ACTIVE,
        cron="0 9 * * *",
        timezone="Asia/Seoul",
        next_run=dt.datetime(2025, 1, 2, 0, 0, tzinfo=dt.UTC),
    )
    wire = from_jsonable(to_jsonable(info), WorkflowInfo)  # fixed +09:00 offset, no zone name
    assert local_time(wire.next_run, wire.timezone) == "2025-01-02 09:00:00 KST"
    assert local_time(None, "UTC") == "-"


def test_utc_time_converts_and_treats_naive_as_utc():
    seoul = dt.datetime(2025, 1, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert utc_time(seoul) == "2025-01-02 00:00:00"
    assert utc_time(dt.datetime(2025, 1, 2, 9, 0)) == "2025-01-02 09:00:00"


def test_countdown_is_seconds_then_minutes_then_hours_and_now_once_due():
    assert countdown(45.4) == "in 45s"
    assert countdown(250) == "in 4m10s"
    assert countdown(3725) == "in 1h02m05s"
    assert countdown(0) == countdown(-12) == "now"


def _waiting(**retry) -> WorkflowStatusResult:
    wait = RetryWait(
        attempt=1,
        max_attempts=3,
        last_error="no such table: t",
        failed_at=FAILED_AT,
        next_attempt_at=FAILED_AT + dt.timedelta(minutes=5),
    )
    return WorkflowStatusResult(
        run_id="a.b@r1",
        dataset_name="a.b",
        source_type=SourceType.MANUAL,
        run_status=RunStatus.RUNNING,
        run_type=RunType.ADHOC,
        started_at=FAILED_AT - dt.timedelta(seconds=20),
        retry=attrs.evolve(wait, **retry),
    )


def _status_lines(status: WorkflowStatusResult, now: dt.datetime) -> list[str]:
    out = io.StringIO()
    render_status(Session(settings=lambda: Resolved(context=ExecutionContext()), stdout=out, now=lambda: now), status)
    return out.getvalue().splitlines()


def test_a_run_waiting_for_a_retry_says_so_under_its_status_after_a_json_round_trip():
    wire = from_jsonable(to_jsonable(_waiting()), WorkflowStatusResult)
    lines = _status_lines(wire, FAILED_AT + dt.timedelta(seconds=10))
    status = lines.index("  Status: running (waiting to retry)")
    assert lines[status + 1 : status + 4] == [
        "  Attempt: 1 of 3 failed at 2025-01-02 09:00:30 UTC",
        "  Next attempt: 2 of 3, due 2025-01-02 09:05:30 UTC (in 4m50s)",
        "  Last error: no such table: t",
    ]


def test_what_is_not_known_of_a_retry_wait_is_said_so_not_invented():
    lines = _status_lines(_waiting(last_error=None, failed_at=None, next_attempt_at=None), FAILED_AT)
    assert "  Attempt: 1 of 3 failed" in lines
    assert "  Next attempt: 2 of 3, due time unknown" in lines
    assert "  Last error: -" in lines


def test_the_wait_notice_is_one_line_with_the_error_and_the_due_time():
    notice = retry_notice("a.b@r1", _waiting().retry, FAILED_AT)
    assert (
        notice
        == "a.b@r1: attempt 1 of 3 failed: no such table: t; next attempt 2 of 3, due 2025-01-02 09:05:30 UTC (in 5m00s)"
    )


@pytest.mark.parametrize(("attempt", "max_attempts"), [(0, 2), (2, 2), (3, 2)])
def test_a_retry_wait_needs_a_failed_attempt_and_one_left(attempt, max_attempts):
    with pytest.raises(ValueError):
        RetryWait(attempt=attempt, max_attempts=max_attempts)
