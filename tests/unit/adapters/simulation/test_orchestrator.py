"""The in-memory orchestrator's data-aware scheduling, as Airflow's asset schedule behaves."""

from __future__ import annotations

import datetime as dt

import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.spec import SpecDocument
from dli.testing.specs import make_spec


@pytest.fixture
def env():
    clock = FakeClock()
    store = InMemorySpecStore()
    for spec in (
        make_spec("s.a"),
        make_spec("s.b"),
        make_spec("s.joined", cron=None, after="upstream", depends_on=("s.a", "s.b", "ext.raw")),
    ):
        store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL))
    orch = InMemoryOrchestrator(clock=clock, store=store, queue_seconds=1, run_seconds=2)
    return orch, clock


def _run(orch, clock, name, date):
    record = orch.trigger(name, parameters={"execution_date": date}, triggered_by=None)
    clock.advance(10)
    assert orch.get_run(record.run_id).status is RunStatus.COMPLETED


def _joined(orch):
    runs, _ = orch.list_runs(names={"s.joined"}, limit=10)
    return list(reversed(runs))


def test_a_workflow_after_several_upstreams_waits_for_each_and_takes_the_latest_date(env):
    orch, clock = env
    _run(orch, clock, "s.a", "2025-01-02")
    assert _joined(orch) == []  # s.b has not published yet; the external table never does
    _run(orch, clock, "s.b", "2025-01-01")
    (first,) = _joined(orch)
    assert first.run_type is RunType.SCHEDULED and first.status is RunStatus.COMPLETED
    assert first.parameters == {"execution_date": "2025-01-02"}
    _run(orch, clock, "s.a", "2025-01-05")
    assert len(_joined(orch)) == 1  # each upstream must publish again since the last run
    _run(orch, clock, "s.b", "2025-01-04")
    assert [r.parameters["execution_date"] for r in _joined(orch)] == ["2025-01-02", "2025-01-05"]


def test_failed_runs_and_backfills_publish_nothing(env):
    orch, clock = env
    orch.inject_failure("s.a", "boom")
    record = orch.trigger("s.a", parameters={}, triggered_by=None)
    clock.advance(10)
    assert orch.get_run(record.run_id).status is RunStatus.FAILED
    orch.clear_failure("s.a")
    orch.backfill("s.a", dates=[dt.date(2025, 1, 1)], parameters={}, triggered_by=None)
    clock.advance(10)
    _run(orch, clock, "s.b", "2025-01-01")
    assert _joined(orch) == []


def test_without_a_store_nothing_is_started_by_upstream_data():
    clock = FakeClock()
    orch = InMemoryOrchestrator(clock=clock)
    orch.trigger("s.a", parameters={}, triggered_by=None)
    clock.advance(10)
    assert orch.list_runs(limit=10)[1] == 1
