"""What the console's pages show, computed from results: pure functions, no I/O, no framework.

The templates only place what these return: a duration as text, the bars of the duration chart,
the boxes and arrows of the lineage graph, the next fire times of a schedule, a page's filters.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence

import attrs

from dli.domain.model.dependencies import DependencyEdge, DependencyNode
from dli.domain.model.enums import RunStatus
from dli.domain.model.schedule import FireTime, fire_times
from dli.domain.model.workflow_runs import WorkflowRun

__all__ = [
    "Bar",
    "Box",
    "Chart",
    "Graph",
    "Line",
    "duration_text",
    "duration_chart",
    "lineage_graph",
    "next_fires",
    "parameter_input",
]


def duration_text(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``4.2s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


@attrs.frozen(kw_only=True)
class Bar:
    """One run in the duration chart."""

    x: float
    y: float
    width: float
    height: float
    status: str
    """The run's status, lower case (the bar's class: its colour)."""
    label: str
    """What a screen reader and a tooltip say."""


@attrs.frozen(kw_only=True)
class Chart:
    """The duration chart: bars, oldest on the left."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    longest: str
    """The longest duration, as text (the scale)."""


CHART_WIDTH = 600
CHART_HEIGHT = 120
MAX_BAR_WIDTH = 36.0


def duration_chart(runs: Sequence[WorkflowRun], *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> Chart:
    """Bars of the finished runs' durations, oldest first (``runs`` come newest first, as the history gives them)."""
    timed = [(run, run.duration_seconds) for run in reversed(runs)]
    shown = [(run, seconds) for run, seconds in timed if seconds is not None]
    if not shown:
        return Chart(width=width, height=height, bars=(), longest="-")
    longest = max(seconds for _, seconds in shown) or 1.0
    slot = width / len(shown)
    bar_width = min(MAX_BAR_WIDTH, max(2.0, slot * 0.7))
    bars = []
    for index, (run, seconds) in enumerate(shown):
        bar_height = max(2.0, (seconds / longest) * (height - 4))
        started = run.started_at.strftime("%Y-%m-%d %H:%M") if run.started_at else "?"
        bars.append(
            Bar(
                x=round(index * slot + (slot - bar_width) / 2, 1),
                y=round(height - bar_height, 1),
                width=round(bar_width, 1),
                height=round(bar_height, 1),
                status=run.status.value.lower(),
                label=f"{run.run_id}: {run.status.value}, {duration_text(seconds)}, started {started}",
            )
        )
    return Chart(width=width, height=height, bars=tuple(bars), longest=duration_text(longest))


@attrs.frozen(kw_only=True)
class Box:
    """A dataset in the lineage graph."""

    name: str
    x: float
    y: float
    relation: str
    """``self``, ``upstream`` or ``downstream``."""
    external: bool
    state: str
    """Its last run's status, lower case; ``none`` when it never ran, ``unknown`` when not looked up,
    ``external`` when dli does not run it."""
    href: str | None
    """Its page, when dli manages it."""


@attrs.frozen(kw_only=True)
class Line:
    """An arrow from an upstream to a downstream."""

    x1: float
    y1: float
    x2: float
    y2: float


@attrs.frozen(kw_only=True)
class Graph:
    """The lineage graph: upstreams left of the dataset, downstreams right, by distance."""

    width: int
    height: int
    box_width: int
    box_height: int
    boxes: tuple[Box, ...]
    lines: tuple[Line, ...]


BOX_WIDTH = 200
BOX_HEIGHT = 44
COLUMN_GAP = 60
ROW_GAP = 16


def lineage_graph(
    name: str,
    nodes: Sequence[DependencyNode],
    edges: Iterable[DependencyEdge],
    last_states: Mapping[str, RunStatus | None],
    *,
    href: str = "/ui/workflows/",
) -> Graph:
    """Boxes in columns by signed distance (upstreams negative), arrows along the edges."""

    def column(node: DependencyNode) -> int:
        if node.name == name or node.relation == "self":
            return 0
        return -node.distance if node.relation == "upstream" else node.distance

    ordered = sorted(nodes, key=lambda n: (column(n), n.name))
    if not any(n.name == name for n in ordered):
        ordered.insert(0, DependencyNode(name=name, relation="self", distance=0))
        ordered.sort(key=lambda n: (column(n), n.name))
    columns = {key: list(group) for key, group in itertools.groupby(ordered, key=column)}
    first = min(columns)
    tallest = max(len(group) for group in columns.values())
    height = tallest * (BOX_HEIGHT + ROW_GAP) + ROW_GAP
    width = len(columns) * (BOX_WIDTH + COLUMN_GAP) - COLUMN_GAP + 2 * ROW_GAP
    boxes: dict[str, Box] = {}
    for key, group in columns.items():
        x = ROW_GAP + (key - first) * (BOX_WIDTH + COLUMN_GAP)
        top = (height - len(group) * (BOX_HEIGHT + ROW_GAP) + ROW_GAP) / 2
        for row, node in enumerate(group):
            boxes[node.name] = Box(
                name=node.name,
                x=float(x),
                y=float(top + row * (BOX_HEIGHT + ROW_GAP)),
                relation="self" if key == 0 else node.relation,
                external=node.external,
                state=_state_of(node, last_states),
                href=None if node.external else href + node.name,
            )
    lines = []
    for edge in edges:
        up, down = boxes.get(edge.upstream), boxes.get(edge.downstream)
        if up is None or down is None:
            continue
        lines.append(Line(x1=up.x + BOX_WIDTH, y1=up.y + BOX_HEIGHT / 2, x2=down.x - 4, y2=down.y + BOX_HEIGHT / 2))
    return Graph(
        width=int(width),
        height=int(height),
        box_width=BOX_WIDTH,
        box_height=BOX_HEIGHT,
        boxes=tuple(boxes.values()),
        lines=tuple(lines),
    )


def _state_of(node: DependencyNode, last_states: Mapping[str, RunStatus | None]) -> str:
    if node.external:
        return "external"
    if node.name not in last_states:
        return "unknown"  # not looked up (further than one step, or a team the caller may not view)
    state = last_states[node.name]
    return state.value.lower() if state is not None else "none"


def next_fires(cron: str | None, timezone: str, *, now: dt.datetime, count: int = 5) -> tuple[FireTime, ...]:
    """The next ``count`` fire times of a cron in its timezone (each with its DST note, if any)."""
    if not cron:
        return ()
    return tuple(itertools.islice(fire_times(cron, timezone, after=now), count))


_INPUT_TYPES = {"int": "number", "integer": "number", "float": "number", "number": "number", "date": "date"}


def parameter_input(kind: str) -> tuple[str, str | None]:
    """The HTML input type of a declared parameter's type, and its ``step`` (``any`` for decimals)."""
    if kind in ("bool", "boolean"):
        return "select", None
    html = _INPUT_TYPES.get(kind, "text")
    step = "any" if kind in ("float", "number") else ("1" if html == "number" else None)
    return html, step
