"""The dataset dependency graph: who depends on whom, cycles, externals, orders (pure).

The graph is made of the *active* specs of the store (code over manual): each managed dataset
points at the names in its ``depends_on``. A name no store knows is *external* (a table dli does
not run): it is shown, but it never starts a run and never takes part in a cycle.

Everything here is a pure function of the specs; the use-cases read them through the ports.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs

from dli.domain.model.enums import DependencyDirection, ResultStatus, ScheduleTrigger, SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.sql_check import SqlEdge

__all__ = [
    "DependencyEdge",
    "DependencyGraph",
    "DependencyNode",
    "WorkflowDependenciesResult",
    "check_acyclic",
    "cycle_error",
    "latest_execution_date",
    "upstream_warnings",
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _dedupe(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


@attrs.frozen(kw_only=True)
class DependencyGraph:
    """Managed datasets and their upstreams; build it with ``DependencyGraph.of``."""

    upstreams: Mapping[str, tuple[str, ...]]
    """Each managed dataset -> the names in its ``depends_on`` (in order, without repeats)."""
    downstreams: Mapping[str, tuple[str, ...]]
    """Each name (managed or external) -> the managed datasets that depend on it, sorted."""

    @classmethod
    def of(cls, depends_on: Mapping[str, Iterable[str]]) -> DependencyGraph:
        """The graph of ``{managed dataset: its depends_on}``."""
        upstreams = {name: _dedupe(deps) for name, deps in depends_on.items()}
        downstreams: dict[str, set[str]] = {}
        for name, deps in upstreams.items():
            for upstream in deps:
                downstreams.setdefault(upstream, set()).add(name)
        return cls(upstreams=upstreams, downstreams={k: tuple(sorted(v)) for k, v in downstreams.items()})

    @classmethod
    def of_specs(cls, specs: Mapping[str, DatasetSpec | None]) -> DependencyGraph:
        """The graph of the active specs by name; ``None`` (an unreadable spec) is managed, without upstreams."""
        return cls.of({name: spec.depends_on if spec is not None else () for name, spec in specs.items()})

    def is_managed(self, name: str) -> bool:
        """Whether a store holds a spec of ``name``."""
        return name in self.upstreams

    def managed_upstreams(self, name: str) -> tuple[str, ...]:
        """The upstreams of ``name`` that dli manages (those that can start its runs)."""
        return tuple(u for u in self.upstreams.get(name, ()) if u in self.upstreams)

    def external_upstreams(self, name: str) -> tuple[str, ...]:
        """The upstreams of ``name`` that no store knows."""
        return tuple(u for u in self.upstreams.get(name, ()) if u not in self.upstreams)

    def direct(self, name: str, direction: DependencyDirection) -> tuple[str, ...]:
        """The neighbours of ``name`` one step ``upstream`` or ``downstream``."""
        if direction is DependencyDirection.UPSTREAM:
            return self.upstreams.get(name, ())
        return self.downstreams.get(name, ())

    def walk(self, root: str, direction: DependencyDirection, *, depth: int | None = None) -> dict[str, int]:
        """Every name reachable from ``root`` going ``direction`` (one side), with its distance (root: 0).

        Breadth first, so each name gets its shortest distance; ``depth`` bounds the distance. Safe on
        graphs with cycles.
        """
        if direction is DependencyDirection.BOTH:
            raise ValueError("walk one side at a time")
        distances = {root: 0}
        frontier = [root]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            following: list[str] = []
            for name in frontier:
                for neighbour in self.direct(name, direction):
                    if neighbour not in distances:
                        distances[neighbour] = level
                        following.append(neighbour)
            frontier = following
        return distances

    def find_cycle(self) -> tuple[str, ...] | None:
        """A dependency cycle among managed datasets, as ``(a, b, ..., a)`` (each depends on the next); or ``None``.

        Deterministic: names are visited in sorted order, so the same graph always reports the same cycle.
        """
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self.upstreams, white)
        for start in sorted(self.upstreams):
            if colour[start] != white:
                continue
            # An explicit stack of (name, its managed upstreams still to visit): no recursion limit.
            path = [start]
            stack: list[Iterator[str]] = [iter(sorted(self.managed_upstreams(start)))]
            colour[start] = grey
            while stack:
                following = next(stack[-1], None)
                if following is None:
                    colour[path.pop()] = black
                    stack.pop()
                    continue
                if colour[following] == grey:
                    return (*path[path.index(following) :], following)
                if colour[following] == white:
                    colour[following] = grey
                    path.append(following)
                    stack.append(iter(sorted(self.managed_upstreams(following))))
        return None

    def downstream_order(self, root: str) -> tuple[str, ...]:
        """``root`` and every managed dataset downstream of it, each after all of its upstreams among them.

        Ties are broken by name, so the order is stable. Raises DLI-203 on a cycle.
        """
        members = set(self.walk(root, DependencyDirection.DOWNSTREAM))
        check_acyclic(DependencyGraph.of({n: self.managed_upstreams(n) for n in members}))
        waiting = {n: sum(1 for u in self.managed_upstreams(n) if u in members) for n in members}
        ready = [n for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for downstream in self.downstreams.get(name, ()):
                if downstream in waiting:
                    waiting[downstream] -= 1
                    if waiting[downstream] == 0:
                        heapq.heappush(ready, downstream)
        return tuple(order)


def cycle_error(cycle: Sequence[str]) -> SpecInvalidError:
    """DLI-203 naming the cycle, ``a -> b -> a`` (each depends on the next)."""
    text = " -> ".join(cycle)
    return SpecInvalidError(
        f"Dependency cycle: {text}",
        hints=(
            "Each dataset depends on the next (depends_on); a dataset cannot be its own upstream.",
            "Remove one of these depends_on entries; nothing was written.",
        ),
        details={"cycle": list(cycle)},
    )


def check_acyclic(graph: DependencyGraph, *, roots: Iterable[str] | None = None) -> None:
    """Raise DLI-203 naming a cycle when the managed datasets depend on each other in a circle.

    With ``roots``, only the datasets upstream of them (and themselves) are checked: every cycle
    through a root lies there, and a circle elsewhere in the store, written before this check existed,
    does not block an unrelated write.
    """
    starts: list[str] = []
    if roots is not None:
        starts = list(roots)
        members: set[str] = set()
        for root in starts:
            members |= set(graph.walk(root, DependencyDirection.UPSTREAM))
        graph = DependencyGraph.of({n: graph.upstreams[n] for n in members if n in graph.upstreams})
    cycle = graph.find_cycle()
    if cycle is not None:
        # Told from the dataset being written when it is in the circle: 'b -> a -> b' for a register of b.
        ring = list(cycle[:-1])
        first = next((ring.index(r) for r in starts if r in ring), 0)
        ring = ring[first:] + ring[:first]
        raise cycle_error((*ring, ring[0]))


def upstream_warnings(graph: DependencyGraph, spec: DatasetSpec) -> tuple[str, ...]:
    """What to tell the user about ``spec``'s upstreams: external ones, and an ``after: upstream``
    schedule that nothing can start."""
    warnings: list[str] = []
    external = graph.external_upstreams(spec.name)
    if external:
        warnings.append(
            f"'{spec.name}' depends on {', '.join(external)}, which no store knows: "
            f"treated as external {'table' if len(external) == 1 else 'tables'} (they never start its runs)"
        )
    schedule = spec.schedule
    if schedule is not None and schedule.after_upstream and not graph.managed_upstreams(spec.name):
        if schedule.cron is None:
            warnings.append(
                f"'{spec.name}' runs after its upstream datasets, but none of them is managed by dli: "
                "it will not run on its own until one is registered (run it with 'dli workflow run')"
            )
        else:
            warnings.append(
                f"'{spec.name}' runs after its upstream datasets, but none of them is managed by dli: "
                "only its cron starts it for now"
            )
    return tuple(warnings)


def latest_execution_date(extras: Iterable[Mapping[str, object] | None]) -> str | None:
    """The ``execution_date`` a run started by upstream data processes: the latest one among the
    triggering events (``YYYY-MM-DD``), or ``None`` when no event carries one.

    When several upstreams (or several runs of one upstream) published before the run started, it
    processes the most recent date they produced.
    """
    dates = []
    for extra in extras:
        value = (extra or {}).get("execution_date")
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                continue
            dates.append(value)
    return max(dates) if dates else None


# -- the result of ``dli workflow deps`` -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class DependencyNode:
    """One dataset of a dependency graph as shown to the user."""

    name: str
    """Dataset name."""
    relation: str
    """``root``, ``upstream`` or ``downstream`` of the dataset asked about."""
    distance: int
    """Steps from the dataset asked about (0 for it)."""
    external: bool = False
    """No store knows it: a table dli does not run."""
    source_type: SourceType | None = None
    """Source of its active spec (``None`` when external)."""
    trigger: ScheduleTrigger | None = None
    """What starts its scheduled runs (``None`` when external or unreadable)."""


@attrs.frozen(kw_only=True)
class DependencyEdge:
    """``downstream`` depends on ``upstream``."""

    upstream: str
    """The dataset depended on."""
    downstream: str
    """The dataset that depends on it."""


@attrs.frozen(kw_only=True)
class WorkflowDependenciesResult:
    """Result of ``dependencies`` (``dli workflow deps``)."""

    dataset_name: str
    """The dataset asked about."""
    direction: DependencyDirection
    """Which side was walked."""
    depth: int | None = None
    """How many steps at most (``None``: all)."""
    nodes: tuple[DependencyNode, ...] = ()
    """The dataset first, then its upstreams, then its downstreams, each by distance and name."""
    edges: tuple[DependencyEdge, ...] = ()
    """Every dependency between two of the nodes that the walk followed."""
    status: ResultStatus = ResultStatus.SUCCESS
    """Outcome."""
    from_sql: tuple[SqlEdge, ...] | None = None
    """With ``from_sql``: the tables the dataset's SQL reads, matched to datasets and ``depends_on``."""
    sql_warnings: tuple[str, ...] = ()
    """With ``from_sql``: what the SQL check says about ``depends_on`` (and the SQL itself)."""
