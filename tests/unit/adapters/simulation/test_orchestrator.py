"""The in-memory orchestrator: data-aware scheduling, as Airflow's asset schedule behaves, and retries,
as Airflow's task retries do."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.spec import SpecDocument
from dli.ports.orchestrator import BackfillRequest, RunQuery
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
    runs, _ = orch.list_runs(RunQuery(names={"s.joined"}, limit=10))
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
    orch.backfill(BackfillRequest(name="s.a", dates=[dt.date(2025, 1, 1)]))
    clock.advance(10)
    _run(orch, clock, "s.b", "2025-01-01")
    assert _joined(orch) == []


def test_without_a_store_nothing_is_started_by_upstream_data():
    clock = FakeClock()
    orch = InMemoryOrchestrator(clock=clock)
    orch.trigger("s.a", parameters={}, triggered_by=None)
    clock.advance(10)
    assert orch.list_runs(RunQuery(limit=10))[1] == 1


# -- retries ----------------------------------------------------------------------------------------


def _retrying(*, schedule_attempts: int | None = None, failing_attempts: int | None = None):
    """A spec with 2 retries 300 s apart (the execution block, or ``schedule.retry`` when given)."""
    clock = FakeClock()
    store = InMemorySpecStore()
    spec = make_spec("s.flaky", execution={"retry_count": 2, "retry_delay_seconds": 300})
    if schedule_attempts is not None:
        spec = attrs.evolve(
            spec, schedule=attrs.evolve(spec.schedule, retry_max_attempts=schedule_attempts, retry_delay_seconds=120)
        )
    store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL))
    orch = InMemoryOrchestrator(clock=clock, store=store, queue_seconds=1, run_seconds=2)
    orch.inject_failure("s.flaky", "boom", attempts=failing_attempts)
    record = orch.trigger("s.flaky", parameters={}, triggered_by=None)
    return orch, clock, record.run_id


def test_a_failed_attempt_waits_the_specs_retry_delay_running_then_the_next_attempt_runs():
    orch, clock, run_id = _retrying()
    clock.advance(5)  # attempt 1: 00:00:01 to 00:00:03, failed
    waiting = orch.get_run(run_id)
    assert waiting.status is RunStatus.RUNNING and waiting.error_message is None
    assert (waiting.retry.attempt, waiting.retry.max_attempts, waiting.retry.last_error) == (1, 3, "boom")
    assert waiting.retry.next_attempt_at - waiting.retry.failed_at == dt.timedelta(seconds=300)
    assert orch.running() == {"s.flaky"}
    clock.advance(299)  # 00:05:04: attempt 2 runs from 00:05:03 to 00:05:05
    assert orch.get_run(run_id).retry is None and orch.get_run(run_id).status is RunStatus.RUNNING
    assert "attempt 1 of 3; next attempt at" in orch.logs(run_id)


def test_the_last_failed_attempt_fails_the_run():
    orch, clock, run_id = _retrying()
    clock.advance(2 * 302 + 10)
    final = orch.get_run(run_id)
    assert final.status is RunStatus.FAILED and final.retry is None and final.error_message == "boom"
    assert final.finished_at - final.started_at == dt.timedelta(seconds=2 * 302 + 2)


def test_a_retry_that_succeeds_completes_the_run():
    orch, clock, run_id = _retrying(failing_attempts=1)
    clock.advance(400)
    final = orch.get_run(run_id)
    assert final.status is RunStatus.COMPLETED and final.retry is None


def test_the_schedules_retry_settings_win_over_the_execution_block():
    orch, clock, run_id = _retrying(schedule_attempts=2)
    clock.advance(5)
    retry = orch.get_run(run_id).retry
    assert retry.max_attempts == 2 and retry.next_attempt_at - retry.failed_at == dt.timedelta(seconds=120)


def test_stopping_a_run_waiting_for_a_retry_kills_it_and_ends_the_wait():
    orch, clock, run_id = _retrying()
    clock.advance(5)
    stopped = orch.stop_run(run_id)
    assert stopped.status is RunStatus.KILLED and stopped.retry is None
    clock.advance(1000)
    assert orch.get_run(run_id).status is RunStatus.KILLED


def test_without_a_store_a_run_gets_one_attempt():
    clock = FakeClock()
    orch = InMemoryOrchestrator(clock=clock, queue_seconds=1, run_seconds=2)
    orch.inject_failure("s.any", "boom")
    run_id = orch.trigger("s.any", parameters={}, triggered_by=None).run_id
    clock.advance(5)
    assert orch.get_run(run_id).status is RunStatus.FAILED
