"""Formatting helpers of the human output."""

import datetime as dt

from dli.adapters.codecs.results import from_jsonable, to_jsonable
from dli.domain.model.enums import SourceType, WorkflowStatus
from dli.domain.model.workflow import WorkflowInfo
from dli.entrypoints.cli.render import duration, local_time, utc_time


def test_duration_is_seconds_then_hours():
    assert duration(None) == "-"
    assert duration(45.4) == "45s"
    assert duration(125) == "125s"
    assert duration(3725) == "1h02m05s"


def test_local_time_shows_the_zone_abbreviation_even_after_a_json_round_trip():
    info = WorkflowInfo(
        dataset_name="a.b", source_type=SourceType.MANUAL, status=WorkflowStatus.ACTIVE, cron="0 9 * * *",
        timezone="Asia/Seoul", next_run=dt.datetime(2025, 1, 2, 0, 0, tzinfo=dt.timezone.utc),
    )
    wire = from_jsonable(to_jsonable(info), WorkflowInfo)  # fixed +09:00 offset, no zone name
    assert local_time(wire.next_run, wire.timezone) == "2025-01-02 09:00:00 KST"
    assert local_time(None, "UTC") == "-"


def test_utc_time_converts_and_treats_naive_as_utc():
    seoul = dt.datetime(2025, 1, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert utc_time(seoul) == "2025-01-02 00:00:00"
    assert utc_time(dt.datetime(2025, 1, 2, 9, 0)) == "2025-01-02 09:00:00"
