"""What the console's pages compute: durations, the duration chart, the lineage graph, fire times, inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from dli.domain.model.dependencies import DependencyEdge, DependencyNode
from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.workflow_runs import WorkflowRun
from dli.entrypoints.server.console.views import (
    BOX_WIDTH,
    duration_chart,
    duration_text,
    lineage_graph,
    next_fires,
    parameter_input,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "-"), (4.24, "4.2s"), (185, "3m 05s"), (3720, "1h 02m"), (59.96, "60.0s")]
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


def _run(index: int, seconds: float | None, status: RunStatus = RunStatus.COMPLETED) -> WorkflowRun:
    start = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(days=index)
    return WorkflowRun(
        run_id=f"a.b@run{index}",
        dataset_name="a.b",
        run_type=RunType.SCHEDULED,
        source_type=SourceType.MANUAL,
        status=status,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=seconds) if seconds is not None else None,
    )


def test_the_chart_puts_the_oldest_run_left_and_the_longest_run_full_height():
    newest_first = [_run(3, 30), _run(2, None, RunStatus.RUNNING), _run(1, 60, RunStatus.FAILED), _run(0, 15)]
    chart = duration_chart(newest_first, width=300, height=100)
    assert [b.label.split(":")[0] for b in chart.bars] == ["a.b@run0", "a.b@run1", "a.b@run3"]  # unfinished left out
    assert [b.x for b in chart.bars] == sorted(b.x for b in chart.bars)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.status == "failed" and tallest.y + tallest.height == 100
    assert chart.longest == "1m 00s"
    assert all(b.x >= 0 and b.x + b.width <= 300 for b in chart.bars)


def test_an_empty_history_has_no_bars():
    assert duration_chart([]).bars == ()


def test_the_lineage_graph_puts_upstreams_left_downstreams_right_and_marks_externals():
    nodes = [
        DependencyNode(name="shop.sales", relation="self", distance=0),
        DependencyNode(name="raw.sales", relation="upstream", distance=1, external=True),
        DependencyNode(name="shop.orders", relation="upstream", distance=1),
        DependencyNode(name="shop.weekly", relation="downstream", distance=1),
        DependencyNode(name="shop.monthly", relation="downstream", distance=2),
    ]
    edges = [
        DependencyEdge(upstream="raw.sales", downstream="shop.sales"),
        DependencyEdge(upstream="shop.orders", downstream="shop.sales"),
        DependencyEdge(upstream="shop.sales", downstream="shop.weekly"),
        DependencyEdge(upstream="shop.weekly", downstream="shop.monthly"),
    ]
    graph = lineage_graph(
        "shop.sales", nodes, edges, {"shop.orders": RunStatus.FAILED, "shop.sales": None, "shop.weekly": None}
    )
    boxes = {b.name: b for b in graph.boxes}
    assert boxes["raw.sales"].x == boxes["shop.orders"].x < boxes["shop.sales"].x < boxes["shop.weekly"].x
    assert boxes["shop.weekly"].x < boxes["shop.monthly"].x
    assert boxes["raw.sales"].external and boxes["raw.sales"].state == "external" and boxes["raw.sales"].href is None
    assert boxes["shop.orders"].state == "failed" and boxes["shop.weekly"].state == "none"
    assert boxes["shop.monthly"].state == "unknown"  # not looked up
    assert boxes["shop.weekly"].href == "/ui/workflows/shop.weekly"
    assert len(graph.lines) == 4
    for line in graph.lines:  # every arrow goes left to right, from a box's right edge
        assert line.x1 < line.x2
    assert all(b.x + BOX_WIDTH <= graph.width for b in graph.boxes)
    assert all(b.y >= 0 for b in graph.boxes)


def test_a_dataset_without_dependencies_is_one_box():
    graph = lineage_graph("a.b", [], [], {})
    assert [b.name for b in graph.boxes] == ["a.b"] and graph.lines == ()


def test_fire_times_are_in_the_schedules_timezone_and_note_the_dst_gap():
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 schedule fires at the first valid time.
    fires = next_fires("30 2 * * *", "Europe/Berlin", now=dt.datetime(2026, 3, 27, 12, tzinfo=UTC), count=3)
    assert [f.local.date().isoformat() for f in fires] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert fires[0].utc.hour == 1 and fires[2].utc.hour == 0  # CET then CEST
    assert [f.note for f in fires].count(None) == 2
    assert fires[1].note and "DST" in fires[1].note


def test_no_cron_no_fire_times():
    assert next_fires(None, "UTC", now=dt.datetime(2026, 1, 1, tzinfo=UTC)) == ()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("string", ("text", None)),
        ("integer", ("number", "1")),
        ("float", ("number", "any")),
        ("date", ("date", None)),
        ("boolean", ("select", None)),
    ],
)
def test_each_parameter_type_has_its_input(kind, expected):
    assert parameter_input(kind) == expected
