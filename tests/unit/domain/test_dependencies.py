"""The dependency graph rules: cycles, externals, orders and distances, over random graphs."""

from __future__ import annotations

from itertools import pairwise

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dli.domain.model.dependencies import (
    DependencyGraph,
    check_acyclic,
    latest_execution_date,
    upstream_warnings,
)
from dli.domain.model.enums import DependencyDirection
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.schedule import ScheduleConfig
from dli.testing.specs import make_spec

UP, DOWN = DependencyDirection.UPSTREAM, DependencyDirection.DOWNSTREAM

MANAGED = [f"m.d{i}" for i in range(8)]
EXTERNAL = ["ext.raw.events", "ext.raw.users"]


@st.composite
def graphs(draw: st.DrawFn, *, acyclic: bool = False) -> dict[str, list[str]]:
    """``{managed name: depends_on}``; upstreams drawn from managed and external names.

    With ``acyclic``, a dataset only depends on datasets earlier in a random order (and externals).
    """
    names = draw(st.lists(st.sampled_from(MANAGED), min_size=1, max_size=len(MANAGED), unique=True))
    if acyclic:
        names = draw(st.permutations(names))
    out = {}
    for index, name in enumerate(names):
        pool = (names[:index] if acyclic else names) + EXTERNAL
        out[name] = draw(st.lists(st.sampled_from(pool), max_size=4))
    return out


def _has_cycle(depends_on: dict[str, list[str]]) -> bool:
    """Reference: Kahn's algorithm leaves nodes behind exactly when there is a cycle."""
    managed = set(depends_on)
    remaining = {n: {u for u in deps if u in managed} for n, deps in depends_on.items()}
    while True:
        free = [n for n, ups in remaining.items() if not ups]
        if not free:
            return bool(remaining)
        for n in free:
            del remaining[n]
        for ups in remaining.values():
            ups.difference_update(free)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_a_cycle_is_found_exactly_when_there_is_one_and_it_is_a_real_cycle(depends_on):
    graph = DependencyGraph.of(depends_on)
    cycle = graph.find_cycle()
    assert (cycle is not None) == _has_cycle(depends_on)
    if cycle is not None:
        assert cycle[0] == cycle[-1] and len(cycle) >= 2
        assert len(set(cycle[:-1])) == len(cycle) - 1  # a simple cycle
        for node, upstream in pairwise(cycle):
            assert upstream in depends_on[node]


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_externals_never_take_part_in_a_cycle(depends_on):
    cycle = DependencyGraph.of(depends_on).find_cycle()
    assert cycle is None or not set(cycle) & set(EXTERNAL)


@settings(max_examples=200, deadline=None)
@given(graphs(acyclic=True))
def test_a_graph_where_each_depends_only_on_earlier_ones_is_accepted(depends_on):
    check_acyclic(DependencyGraph.of(depends_on))


@settings(max_examples=200, deadline=None)
@given(graphs(acyclic=True), st.data())
def test_downstream_order_puts_every_dataset_after_its_upstreams_and_covers_the_closure(depends_on, data):
    graph = DependencyGraph.of(depends_on)
    root = data.draw(st.sampled_from(sorted(depends_on)))
    order = graph.downstream_order(root)
    assert order[0] == root
    reachable = {root}
    changed = True
    while changed:
        before = len(reachable)
        reachable |= {n for n, deps in depends_on.items() if reachable & set(deps)}
        changed = len(reachable) != before
    assert set(order) == reachable and len(order) == len(reachable)
    position = {name: i for i, name in enumerate(order)}
    for name in order:
        for upstream in graph.managed_upstreams(name):
            if upstream in position:
                assert position[upstream] < position[name]


@settings(max_examples=200, deadline=None)
@given(graphs(), st.data())
def test_walk_gives_shortest_distances_within_the_depth(depends_on, data):
    graph = DependencyGraph.of(depends_on)
    root = data.draw(st.sampled_from(sorted(depends_on)))
    depth = data.draw(st.none() | st.integers(min_value=0, max_value=4))
    direction = data.draw(st.sampled_from([UP, DOWN]))
    distances = graph.walk(root, direction, depth=depth)
    # Reference: relax distances until nothing changes (Bellman-Ford on unit edges).
    edges = [(n, u) for n, deps in depends_on.items() for u in deps]
    if direction is DOWN:
        edges = [(u, n) for n, u in edges]
    best = {root: 0}
    for _ in range(len(MANAGED) + len(EXTERNAL)):
        for a, b in edges:
            if a in best and best[a] + 1 < best.get(b, 10**9):
                best[b] = best[a] + 1
    expected = {n: d for n, d in best.items() if depth is None or d <= depth}
    assert distances == expected


def test_a_cycle_is_refused_with_dli_203_naming_it():
    graph = DependencyGraph.of({"s.a": ["s.b"], "s.b": ["s.c", "ext.x"], "s.c": ["s.a"]})
    with pytest.raises(SpecInvalidError) as exc:
        check_acyclic(graph)
    assert exc.value.code.value == "DLI-203"
    assert "Dependency cycle: s.a -> s.b -> s.c -> s.a" in exc.value.message
    assert exc.value.details["cycle"] == ["s.a", "s.b", "s.c", "s.a"]


def test_a_dataset_depending_on_itself_is_a_cycle():
    assert DependencyGraph.of({"s.a": ["s.a"]}).find_cycle() == ("s.a", "s.a")


def test_downstream_order_refuses_a_cycle_below_the_root():
    graph = DependencyGraph.of({"s.a": [], "s.b": ["s.a", "s.c"], "s.c": ["s.b"]})
    with pytest.raises(SpecInvalidError):
        graph.downstream_order("s.a")


def test_upstreams_split_into_managed_and_external_and_repeats_are_dropped():
    graph = DependencyGraph.of({"s.a": [], "s.b": ["s.a", "ext.t", "s.a"]})
    assert graph.upstreams["s.b"] == ("s.a", "ext.t")
    assert graph.managed_upstreams("s.b") == ("s.a",)
    assert graph.external_upstreams("s.b") == ("ext.t",)
    assert graph.downstreams["ext.t"] == ("s.b",)
    assert not graph.is_managed("ext.t")


def test_an_unreadable_active_spec_is_managed_without_upstreams():
    graph = DependencyGraph.of_specs({"s.a": None, "s.b": make_spec("s.b", depends_on=("s.a",))})
    assert graph.is_managed("s.a") and graph.upstreams["s.a"] == ()
    assert graph.managed_upstreams("s.b") == ("s.a",)


def test_warnings_name_external_upstreams_and_an_upstream_schedule_nothing_can_start():
    spec = attrs.evolve(make_spec("s.b", cron=None, depends_on=("ext.t",)), schedule=ScheduleConfig(after="upstream"))
    graph = DependencyGraph.of_specs({"s.b": spec})
    external, stranded = upstream_warnings(graph, spec)
    assert "ext.t" in external and "external" in external
    assert "will not run on its own" in stranded
    with_cron = attrs.evolve(spec, schedule=ScheduleConfig(cron="0 9 * * *", after="upstream"))
    assert "only its cron" in upstream_warnings(graph, with_cron)[1]
    managed = DependencyGraph.of_specs({"s.a": None, "s.b": attrs.evolve(spec, depends_on=("s.a",))})
    assert upstream_warnings(managed, attrs.evolve(spec, depends_on=("s.a",))) == ()


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ([{"execution_date": "2025-01-01"}], "2025-01-01"),
        ([{"execution_date": "2025-01-03"}, {"execution_date": "2025-01-02"}], "2025-01-03"),
        ([{"execution_date": "2025-02-30"}, {"execution_date": "2025-01-02"}], "2025-01-02"),
        ([{}, None, {"execution_date": 20250101}, {"execution_date": "yesterday"}], None),
        ([], None),
    ],
)
def test_a_run_started_by_upstream_data_processes_the_latest_date_of_its_triggering_events(extras, expected):
    assert latest_execution_date(extras) == expected


@settings(max_examples=200, deadline=None)
@given(graphs(), st.data())
def test_checking_from_roots_finds_exactly_the_cycles_upstream_of_them(depends_on, data):
    graph = DependencyGraph.of(depends_on)
    root = data.draw(st.sampled_from(sorted(depends_on)))
    upstream_of_root = set(graph.walk(root, UP))
    sub = {n: deps for n, deps in depends_on.items() if n in upstream_of_root}
    try:
        check_acyclic(graph, roots=[root])
    except SpecInvalidError as exc:
        assert _has_cycle(sub)
        assert set(exc.details["cycle"]) <= upstream_of_root
    else:
        assert not _has_cycle(sub)


@st.composite
def stores(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``(code, manual)``: dataset -> depends_on under each source (a name may be in both)."""
    code_names = draw(st.lists(st.sampled_from(MANAGED), max_size=5, unique=True))
    manual_names = draw(st.lists(st.sampled_from(MANAGED), max_size=5, unique=True))
    deps = st.lists(st.sampled_from(MANAGED + EXTERNAL), max_size=3)
    return {n: draw(deps) for n in code_names}, {n: draw(deps) for n in manual_names}


@settings(max_examples=100, deadline=None)
@given(stores())
def test_the_graph_is_the_active_specs_code_over_manual(sources):
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.usecases.dependencies import load_active_specs
    from dli.testing.specs import make_document

    code, manual = sources
    store = InMemorySpecStore()
    for source, specs in ((SourceType.CODE, code), (SourceType.MANUAL, manual)):
        for name, deps in specs.items():
            store.create(source, make_document(name, source=source, depends_on=tuple(deps)))
    graph = load_active_specs(store).graph
    assert set(graph.upstreams) == set(code) | set(manual)
    for name in graph.upstreams:
        active = code[name] if name in code else manual[name]
        assert graph.upstreams[name] == tuple(dict.fromkeys(active))
        assert set(graph.external_upstreams(name)) == {u for u in active if u not in graph.upstreams}


class _Plain:
    """A store without a catalog of its own: ``load_active_specs`` reads every document of it."""

    def __init__(self, store) -> None:
        self._store = store

    def list_etags(self, source):
        return self._store.list_etags(source)

    def read(self, source, name):
        return self._store.read(source, name)


@settings(max_examples=60, deadline=None)
@given(stores(), st.sets(st.tuples(st.sampled_from(["code", "manual"]), st.sampled_from(MANAGED)), max_size=3))
def test_the_servers_catalog_gives_the_same_active_specs_as_reading_every_document(sources, broken):
    from dli.adapters.clock import FakeClock
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.usecases.dependencies import load_active_specs
    from dli.testing.specs import make_document

    code, manual = sources
    inner = InMemorySpecStore()
    for source, specs in ((SourceType.CODE, code), (SourceType.MANUAL, manual)):
        for name, deps in specs.items():
            inner.create(source, make_document(name, source=source, depends_on=tuple(deps)))
    for source_name, name in broken:  # unreadable documents: a key whose content names another dataset
        inner._data[(SourceType(source_name), name)] = (make_document("zz.other.name"), "hand-edited")
    index = IndexedSpecStore(inner, now=FakeClock().now)
    index.check()
    from_catalog = load_active_specs(index)
    read_one_by_one = load_active_specs(_Plain(index))
    assert from_catalog.documents == read_one_by_one.documents
    assert from_catalog.graph.upstreams == read_one_by_one.graph.upstreams


def test_the_servers_dependency_graph_is_built_once_per_version_of_the_store():
    from dli.adapters.clock import FakeClock
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.usecases.dependencies import load_active_specs
    from dli.testing.specs import make_document

    index = IndexedSpecStore(InMemorySpecStore(), now=FakeClock().now)
    index.create(SourceType.MANUAL, make_document("a.b.c"))
    first = load_active_specs(index)
    assert load_active_specs(index) is first  # not rebuilt per call
    index.create(SourceType.MANUAL, make_document("a.b.d", depends_on=("a.b.c",)))
    after_write = load_active_specs(index)
    assert after_write is not first and after_write.graph.upstreams["a.b.d"] == ("a.b.c",)
    assert load_active_specs(index, overlay={"a.b.c": make_spec("a.b.c", depends_on=("a.b.d",))}) is not after_write
