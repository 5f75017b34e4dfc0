"""ListWorkflows over a catalog: pages by cursor, filters, the orchestrator asked about the page only,
fire times computed for the page only and kept, broken documents named and never hiding the others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model import catalog as catalog_module
from dli.domain.model.catalog import Catalog, FireTimes, broken_spec, cursor_key, misnamed
from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import ParameterInvalidError, ServerError, SpecInvalidError
from dli.domain.usecases.bus import MessageBus
from dli.domain.usecases.listing import ListWorkflows
from dli.domain.usecases.message import MAX_PAGE
from dli.ports.orchestrator import RunQuery, WorkflowState
from dli.testing.specs import make_document

CODE, MANUAL = SourceType.CODE, SourceType.MANUAL
NOW = dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)


class RecordingOrchestrator(InMemoryOrchestrator):
    """Records what a listing asks."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.asked: list[set[str]] = []
        self.asked_runs: list[set[str]] = []
        self.scans = 0
        self.down = False

    def workflow_states(self, names: Collection[str]):
        self.asked.append(set(names))
        if self.down:
            raise ServerError("Airflow at http://airflow:8080 cannot be reached")
        return super().workflow_states(names)

    def last_run_states(self, names: Collection[str]):
        self.asked_runs.append(set(names))
        if self.down:
            raise ServerError("Airflow at http://airflow:8080 cannot be reached")
        return super().last_run_states(names)

    def pause_states(self):
        self.scans += 1
        return super().pause_states()


@pytest.fixture
def world():
    clock = FakeClock(current=NOW)
    inner = InMemorySpecStore()
    for i in range(300):
        inner.create(MANUAL, make_document(f"shop.bulk.t{i:03d}", cron=f"{i % 60} {i % 24} * * *"))
    for i in range(0, 300, 10):  # every tenth name also has a code spec, which overrides the manual one
        inner.create(CODE, make_document(f"shop.bulk.t{i:03d}", source=CODE))
    index = IndexedSpecStore(inner, now=clock.now)
    orchestrator = RecordingOrchestrator(clock)
    bus = MessageBus(store=index, orchestrator=orchestrator, clock=clock)
    return bus, index, orchestrator, clock, inner


def test_pages_follow_the_cursor_and_cover_every_row_once_in_order(world):
    bus, *_ = world
    seen, cursor, totals = [], None, set()
    while True:
        page = bus.handle(ListWorkflows(limit=70, after=cursor))
        seen.extend((w.dataset_name, w.source_type) for w in page.workflows)
        totals.add(page.total_count)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert totals == {330}
    assert len(seen) == 330 and len(set(seen)) == 330
    assert seen == sorted(seen, key=lambda row: (row[0], row[1] is MANUAL))  # code before manual
    assert seen[:3] == [("shop.bulk.t000", CODE), ("shop.bulk.t000", MANUAL), ("shop.bulk.t001", MANUAL)]


def test_a_page_asks_the_orchestrator_about_its_rows_only_and_never_scans_it(world):
    bus, _, orchestrator, *_ = world
    page = bus.handle(ListWorkflows(limit=5))
    assert orchestrator.asked == [{"shop.bulk.t000", "shop.bulk.t001", "shop.bulk.t002", "shop.bulk.t003"}]
    assert orchestrator.scans == 0
    assert [w.status for w in page.workflows][:2] == [WorkflowStatus.ACTIVE, WorkflowStatus.OVERRIDDEN]


def test_cron_expressions_are_evaluated_by_the_check_not_by_the_pages(world, monkeypatch):
    bus, index, _, clock, _ = world
    index.check()  # loads the index and computes every next fire time
    calls = []
    real = catalog_module.next_run

    def counting(schedule, *, now):
        calls.append(now)
        return real(schedule, now=now)

    monkeypatch.setattr(catalog_module, "next_run", counting)
    first = bus.handle(ListWorkflows(limit=10))
    assert calls == [] and all(w.next_run for w in first.workflows if w.status is WorkflowStatus.ACTIVE)
    clock.advance(86_400)  # every fire time has passed: a page shown now evaluates its own rows
    later = bus.handle(ListWorkflows(limit=10))
    assert len(calls) == 9  # the overridden row shows no next run
    assert all(w.next_run > clock.now() for w in later.workflows if w.next_run is not None)
    index.check()  # and the next check the others (not the overridden manual ones)
    assert len(calls) == 300
    walked = bus.handle(ListWorkflows(limit=100, after=later.next_cursor))
    assert len(calls) == 300 and len(walked.workflows) == 100


def test_filters_are_applied_before_paging_and_total_counts_every_match(world):
    bus, _, orchestrator, *_ = world
    assert bus.handle(ListWorkflows(source_type=CODE)).total_count == 30
    overridden = bus.handle(ListWorkflows(status=WorkflowStatus.OVERRIDDEN, limit=1000))
    assert overridden.total_count == 30 and {w.source_type for w in overridden.workflows} == {MANUAL}
    assert bus.handle(ListWorkflows(dataset_filter="t29")).total_count == 11  # t029..t299: t29x and t029
    glob = bus.handle(ListWorkflows(dataset_filter="shop.bulk.t00?", source_type=MANUAL))
    assert [w.dataset_name for w in glob.workflows] == [f"shop.bulk.t00{i}" for i in range(10)]
    for i in (1, 2, 3):
        orchestrator.set_paused(f"shop.bulk.t00{i}", True)
    paused = bus.handle(ListWorkflows(status=WorkflowStatus.PAUSED))
    assert [w.dataset_name for w in paused.workflows] == ["shop.bulk.t001", "shop.bulk.t002", "shop.bulk.t003"]
    active = bus.handle(ListWorkflows(enabled_only=True, limit=5))
    assert active.total_count == 300 - 3 and active.workflows[1].dataset_name == "shop.bulk.t004"
    assert bus.handle(ListWorkflows(status=WorkflowStatus.PAUSED, enabled_only=True)).total_count == 0


def test_the_team_filter_lists_the_team_s_workflows_only_and_pages_over_them():
    clock = FakeClock(current=NOW)
    inner = InMemorySpecStore()
    for i in range(12):
        inner.create(MANUAL, make_document(f"shop.team.t{i:02d}", team="@sales" if i % 3 == 0 else "@ops"))
    inner.create(CODE, make_document("shop.team.t01", source=CODE, team="@sales"))  # overrides an @ops manual one
    bus = MessageBus(
        store=IndexedSpecStore(inner, now=clock.now), orchestrator=InMemoryOrchestrator(clock=clock), clock=clock
    )
    first = bus.handle(ListWorkflows(team="@sales", limit=3))
    assert first.total_count == 5
    rest = bus.handle(ListWorkflows(team="@sales", limit=3, after=first.next_cursor))
    rows = [(w.dataset_name, w.source_type) for w in (*first.workflows, *rest.workflows)]
    assert rows == [
        ("shop.team.t00", MANUAL),
        ("shop.team.t01", CODE),
        ("shop.team.t03", MANUAL),
        ("shop.team.t06", MANUAL),
        ("shop.team.t09", MANUAL),
    ]
    assert {w.team for w in (*first.workflows, *rest.workflows)} == {"@sales"}
    assert bus.handle(ListWorkflows(team="@ops", source_type=MANUAL)).total_count == 8
    assert bus.handle(ListWorkflows(team="@nobody")).total_count == 0
    assert bus.handle(ListWorkflows(team="")).total_count == 13  # an empty filter is no filter


def test_each_row_shows_its_newest_run_s_status_asked_for_the_page_s_rows_only(world):
    bus, _, orchestrator, clock, _ = world
    stopped = orchestrator.trigger("shop.bulk.t001", parameters={}, triggered_by=None)
    orchestrator.stop_run(stopped.run_id)
    orchestrator.trigger("shop.bulk.t002", parameters={}, triggered_by=None)
    clock.advance(3600)  # t002's run is over by now
    orchestrator.trigger("shop.bulk.t001", parameters={}, triggered_by=None)  # newer than the stopped one
    orchestrator.trigger("shop.bulk.t200", parameters={}, triggered_by=None)  # not on the page
    page = bus.handle(ListWorkflows(limit=4))
    last = {(w.dataset_name, w.source_type): w.last_run_status for w in page.workflows}
    (t002_run,), _ = orchestrator.list_runs(RunQuery(names={"shop.bulk.t002"}))
    assert t002_run.status.is_terminal
    assert last == {
        ("shop.bulk.t000", CODE): None,
        ("shop.bulk.t000", MANUAL): None,
        ("shop.bulk.t001", MANUAL): RunStatus.PENDING,
        ("shop.bulk.t002", MANUAL): t002_run.status,
    }
    assert orchestrator.asked_runs == [{"shop.bulk.t000", "shop.bulk.t001", "shop.bulk.t002"}]
    orchestrator.down = True
    unknown = bus.handle(ListWorkflows(limit=4))
    assert {w.last_run_status for w in unknown.workflows} == {None} and unknown.warnings


def test_running_only_lists_the_running_workflows(world):
    bus, _, orchestrator, *_ = world
    orchestrator.trigger("shop.bulk.t005", parameters={}, triggered_by=None)
    running = bus.handle(ListWorkflows(running_only=True))
    assert [(w.dataset_name, w.running) for w in running.workflows] == [("shop.bulk.t005", True)]


def test_with_the_orchestrator_down_the_rows_are_listed_as_unknown_with_a_warning(world):
    bus, _, orchestrator, *_ = world
    orchestrator.down = True
    page = bus.handle(ListWorkflows(limit=3))
    assert [w.dataset_name for w in page.workflows] == ["shop.bulk.t000", "shop.bulk.t000", "shop.bulk.t001"]
    assert all(not w.status_known and w.running is None for w in page.workflows)
    assert page.workflows[2].status is WorkflowStatus.ACTIVE  # from the spec's enabled
    assert page.warnings and "cannot be reached" in page.warnings[0]
    paused = bus.handle(ListWorkflows(status=WorkflowStatus.PAUSED))
    assert paused.total_count == 0 and "cannot be reached" in paused.warnings[0]


def test_broken_documents_are_named_and_hide_nothing(world):
    bus, index, _, _, inner = world
    real_read = inner.read

    def read(source, name):
        if (source, name) in {(MANUAL, "shop.bulk.t007"), (CODE, "shop.bulk.t020")}:
            raise SpecInvalidError(f"memory://{source.value}/{name}.yaml: schedule.cron: it never fires")
        return real_read(source, name)

    inner.read = read  # type: ignore[method-assign]
    # A document whose name: differs from its key (only a hand edit or another tool can do that).
    inner._data[(MANUAL, "shop.bulk.misnamed")] = (make_document("shop.other.name"), "hand-edited")
    index.check()
    listed = bus.handle(ListWorkflows(limit=1000))
    names = {(w.dataset_name, w.source_type) for w in listed.workflows}
    assert ("shop.bulk.t007", MANUAL) not in names and ("shop.bulk.t020", CODE) not in names
    assert listed.total_count == 330 - 2
    assert [(b.key, b.code) for b in listed.broken] == [
        ("manual/shop.bulk.misnamed.yaml", "DLI-203"),
        ("manual/shop.bulk.t007.yaml", "DLI-203"),
        ("code/shop.bulk.t020.yaml", "DLI-203"),
    ]
    assert "named 'shop.other.name', not 'shop.bulk.misnamed'" in listed.broken[0].reason
    # The broken code spec still overrides its manual one, as in Airflow.
    t020 = [w for w in listed.workflows if w.dataset_name == "shop.bulk.t020"]
    assert [(w.source_type, w.status) for w in t020] == [(MANUAL, WorkflowStatus.OVERRIDDEN)]
    assert bus.handle(ListWorkflows(dataset_filter="t00", source_type=MANUAL)).broken_count == 1
    with pytest.raises(SpecInvalidError, match="never fires"):
        index.read(MANUAL, "shop.bulk.t007")


def test_the_listing_without_an_index_reads_the_store_and_names_broken_documents_too():
    clock = FakeClock(current=NOW)
    store = InMemorySpecStore()
    store.create(MANUAL, make_document("shop.a"))
    store.create(MANUAL, make_document("shop.b"))
    real_read = store.read
    store.read = lambda s, n: (_ for _ in ()).throw(SpecInvalidError("bad")) if n == "shop.a" else real_read(s, n)  # type: ignore[method-assign]
    bus = MessageBus(store=store, orchestrator=InMemoryOrchestrator(clock=clock), clock=clock)
    listed = bus.handle(ListWorkflows())
    assert [w.dataset_name for w in listed.workflows] == ["shop.b"]
    assert [(b.dataset_name, b.reason) for b in listed.broken] == [("shop.a", "bad")]


def test_a_write_through_the_index_is_in_the_next_page_at_once(world):
    bus, index, *_ = world
    index.create(MANUAL, make_document("shop.bulk.t000a"))
    page = bus.handle(ListWorkflows(limit=3))
    assert [w.dataset_name for w in page.workflows] == ["shop.bulk.t000", "shop.bulk.t000", "shop.bulk.t000a"]
    index.delete(CODE, "shop.bulk.t000")
    page = bus.handle(ListWorkflows(limit=2))
    assert [(w.dataset_name, w.status) for w in page.workflows] == [
        ("shop.bulk.t000", WorkflowStatus.ACTIVE),  # no longer overridden
        ("shop.bulk.t000a", WorkflowStatus.ACTIVE),
    ]


@pytest.mark.parametrize("cursor", ["", "shop.a", "shop.a/git", "Shop.A/code", "../x/code", "a/b/code"])
def test_a_cursor_no_page_returned_is_refused(cursor):
    if cursor == "":
        assert ListWorkflows(after=cursor).after is None
        return
    with pytest.raises(ParameterInvalidError, match="cursor"):
        ListWorkflows(after=cursor)


def test_the_page_size_is_bounded():
    assert ListWorkflows(limit=MAX_PAGE).limit == MAX_PAGE
    with pytest.raises(ParameterInvalidError, match="from 1 to 1000") as refused:
        ListWorkflows(limit=MAX_PAGE + 1)
    assert "next_cursor" in refused.value.hints[0]


def test_catalog_pieces():
    doc = make_document("shop.x")
    assert misnamed(MANUAL, "shop.x", doc) is None
    assert misnamed(MANUAL, "shop.y", doc).key == "manual/shop.y.yaml"
    assert broken_spec(CODE, "shop.z", ValueError("odd")).reason == "ValueError: odd"
    assert cursor_key("shop.x/code") < cursor_key("shop.x/manual") < cursor_key("shop.x0/code")
    catalog = Catalog.build(
        code={"shop.x": (make_document("shop.x", source=CODE), "e1")}, manual={"shop.x": (doc, "e2")}
    )
    assert [(e.source_type, e.overridden) for e in catalog.entries_of("shop.x")] == [(CODE, False), (MANUAL, True)]
    assert catalog.select(overridden=True) is catalog.select(overridden=True)  # kept per catalog
    fires = FireTimes()
    entry = catalog.entries[0]
    first = fires.next_fire(entry, NOW)
    assert fires.next_fire(entry, NOW) == first and len(fires) == 1
    fires.keep_only([])
    assert len(fires) == 0


def test_the_orchestrator_states_answer_every_name(world):
    _, _, orchestrator, *_ = world
    orchestrator.set_paused("shop.bulk.t001", True)
    assert orchestrator.workflow_states(["shop.bulk.t001", "nope.nope"]) == {
        "shop.bulk.t001": WorkflowState(paused=True, running=False),
        "nope.nope": WorkflowState(paused=None, running=False),
    }
