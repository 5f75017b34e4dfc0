"""The Orchestrator contract, written once: in-memory simulation and real Airflow must agree.

Subclasses provide an ``orch_env`` fixture with:

- ``orchestrator``: the adapter under test;
- ``ok``, ``failing``, ``slow``: names of workflows known to it (unpaused) whose runs complete,
  fail, and run long enough to be stopped;
- ``retrying``: one whose statement always fails, with 1 retry ``retry_delay_seconds`` after the
  failed attempt (keep it short: the test waits for both attempts);
- ``wait(predicate, timeout)``: let (real or simulated) time pass until ``predicate()`` is true.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from itertools import pairwise

import pytest

from dli.domain.model.enums import RunStatus, RunType
from dli.domain.model.errors import InvalidStateError, WorkflowNotFoundError
from dli.ports.orchestrator import BackfillRequest, ChainStep, RunQuery, WorkflowState

UNKNOWN = "contract.never_registered"


def _terminal(orch, run_id):
    return lambda: (r := orch.get_run(run_id)) is not None and r.status.is_terminal


class OrchestratorContract:
    def test_trigger_runs_to_completion_with_its_parameters(self, orch_env):
        orch = orch_env.orchestrator
        record = orch.trigger(orch_env.ok, parameters={"execution_date": "2025-01-01"}, triggered_by="alice")
        assert record.run_id.startswith(orch_env.ok + "@")
        assert record.run_type is RunType.ADHOC
        assert record.status in (RunStatus.PENDING, RunStatus.RUNNING)
        orch_env.wait(_terminal(orch, record.run_id), 180)
        final = orch.get_run(record.run_id)
        assert final.status is RunStatus.COMPLETED
        assert final.parameters.get("execution_date") == "2025-01-01"
        assert final.started_at is not None and final.finished_at >= final.started_at
        assert final.triggered_by == "alice"
        assert orch_env.ok not in orch.running() or orch.get_run(record.run_id).status.is_terminal

    def test_failed_run_reports_an_error(self, orch_env):
        orch = orch_env.orchestrator
        record = orch.trigger(orch_env.failing, parameters={}, triggered_by=None)
        orch_env.wait(_terminal(orch, record.run_id), 180)
        final = orch.get_run(record.run_id)
        assert final.status is RunStatus.FAILED
        assert final.error_message
        assert orch.logs(record.run_id).strip()

    def test_a_failed_attempt_with_a_retry_left_keeps_the_run_running_and_says_so(self, orch_env):
        orch = orch_env.orchestrator
        record = orch.trigger(orch_env.retrying, parameters={}, triggered_by=None)
        orch_env.wait(lambda: orch.get_run(record.run_id).retry is not None, 240)
        waiting = orch.get_run(record.run_id)
        assert waiting.status is RunStatus.RUNNING and waiting.error_message is None
        retry = waiting.retry
        assert (retry.attempt, retry.max_attempts) == (1, 2)
        assert retry.last_error
        assert retry.failed_at is not None
        assert retry.next_attempt_at == retry.failed_at + dt.timedelta(seconds=orch_env.retry_delay_seconds)
        assert orch.is_running(orch_env.retrying)
        listed, _ = orch.list_runs(RunQuery(names={orch_env.retrying}, limit=5))
        assert next(r for r in listed if r.run_id == record.run_id).retry == retry
        orch_env.wait(_terminal(orch, record.run_id), 300)
        final = orch.get_run(record.run_id)
        assert final.status is RunStatus.FAILED and final.retry is None
        assert final.error_message

    def test_stop_kills_a_running_run_and_it_stays_killed(self, orch_env):
        orch = orch_env.orchestrator
        record = orch.trigger(orch_env.slow, parameters={}, triggered_by=None)
        orch_env.wait(lambda: orch.get_run(record.run_id).status is RunStatus.RUNNING, 120)
        assert orch_env.slow in orch.running()
        assert orch.stop_run(record.run_id).status is RunStatus.KILLED
        orch_env.wait(lambda: True, 1)
        assert orch.get_run(record.run_id).status is RunStatus.KILLED
        with pytest.raises(InvalidStateError):
            orch.stop_run(record.run_id)

    def test_unknown_runs_are_none_or_not_found(self, orch_env):
        orch = orch_env.orchestrator
        assert orch.get_run(f"{orch_env.ok}@no_such_run") is None
        with pytest.raises(WorkflowNotFoundError):
            orch.stop_run(f"{orch_env.ok}@no_such_run")

    def test_backfill_runs_dates_in_order(self, orch_env):
        orch = orch_env.orchestrator
        dates = [dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)]
        handle = orch.backfill(BackfillRequest(name=orch_env.ok, dates=dates, triggered_by="bob"))
        assert len(handle.run_ids) == 3
        for run_id in handle.run_ids:
            orch_env.wait(_terminal(orch, run_id), 300)
        finals = [orch.get_run(r) for r in handle.run_ids]
        assert [f.status for f in finals] == [RunStatus.COMPLETED] * 3
        assert [f.run_type for f in finals] == [RunType.BACKFILL] * 3
        assert [f.logical_date.date() for f in finals] == dates
        assert [f.parameters.get("execution_date") for f in finals] == [d.isoformat() for d in dates]
        assert all(a.finished_at <= b.started_at for a, b in pairwise(finals))

    def test_backfill_stops_after_the_first_failed_date(self, orch_env):
        orch = orch_env.orchestrator
        dates = [dt.date(2025, 2, 1), dt.date(2025, 2, 2), dt.date(2025, 2, 3)]
        handle = orch.backfill(BackfillRequest(name=orch_env.failing, dates=dates))
        for run_id in handle.run_ids:
            orch_env.wait(_terminal(orch, run_id), 300)
        finals = [orch.get_run(r) for r in handle.run_ids]
        assert finals[0].status is RunStatus.FAILED
        assert all(f.status is not RunStatus.COMPLETED and f.started_at is None for f in finals[1:])

    def test_a_backfill_chain_runs_each_step_after_the_one_before_across_workflows(self, orch_env):
        orch = orch_env.orchestrator
        steps = [
            ChainStep(name=orch_env.ok, date=dt.date(2025, 4, 1)),
            ChainStep(name=orch_env.slow, date=dt.date(2025, 4, 1), parameters={"n": 1}),
            ChainStep(name=orch_env.ok, date=dt.date(2025, 4, 2)),
        ]
        # The last step waits for the slow one, which runs until stopped: killing it stops the chain.
        handle = orch.backfill_chain(steps, triggered_by="carol")
        assert [r.split("@")[0] for r in handle.run_ids] == [s.name for s in steps]
        first, middle, last = handle.run_ids
        orch_env.wait(_terminal(orch, first), 300)
        orch_env.wait(lambda: orch.get_run(middle).status is RunStatus.RUNNING, 300)
        assert orch.get_run(last).status is RunStatus.PENDING and orch.get_run(last).started_at is None
        orch.stop_run(middle)
        orch_env.wait(_terminal(orch, last), 300)
        finals = [orch.get_run(r) for r in handle.run_ids]
        assert [f.status for f in finals] == [RunStatus.COMPLETED, RunStatus.KILLED, RunStatus.KILLED]
        assert finals[2].started_at is None
        assert finals[0].finished_at <= finals[1].started_at
        assert all(f.run_type is RunType.BACKFILL and f.triggered_by == "carol" for f in finals)
        assert [f.parameters.get("execution_date") for f in finals] == ["2025-04-01", "2025-04-01", "2025-04-02"]
        assert finals[1].parameters.get("n") == 1

    def test_a_backfill_chain_completes_in_order_and_stops_at_the_first_failure(self, orch_env):
        orch = orch_env.orchestrator
        ok = [ChainStep(name=orch_env.ok, date=dt.date(2025, 5, d)) for d in (1, 2)]
        handle = orch.backfill_chain(ok, triggered_by=None)
        for run_id in handle.run_ids:
            orch_env.wait(_terminal(orch, run_id), 300)
        done = [orch.get_run(r) for r in handle.run_ids]
        assert [f.status for f in done] == [RunStatus.COMPLETED] * 2
        assert done[0].finished_at <= done[1].started_at
        assert [f.logical_date.date() for f in done] == [dt.date(2025, 5, 1), dt.date(2025, 5, 2)]
        failing = orch.backfill_chain(
            [
                ChainStep(name=orch_env.failing, date=dt.date(2025, 6, 1)),
                ChainStep(name=orch_env.ok, date=dt.date(2025, 6, 1)),
            ],
            triggered_by=None,
        )
        for run_id in failing.run_ids:
            orch_env.wait(_terminal(orch, run_id), 300)
        first, second = (orch.get_run(r) for r in failing.run_ids)
        assert first.status is RunStatus.FAILED
        assert second.status is RunStatus.KILLED and second.started_at is None

    def test_list_runs_newest_first_with_filters_and_total(self, orch_env):
        orch = orch_env.orchestrator
        first = orch.trigger(orch_env.ok, parameters={}, triggered_by=None)
        orch_env.wait(_terminal(orch, first.run_id), 180)
        second = orch.trigger(orch_env.ok, parameters={}, triggered_by=None)
        orch_env.wait(_terminal(orch, second.run_id), 180)
        runs, total = orch.list_runs(RunQuery(names={orch_env.ok}, limit=1))
        assert [r.run_id for r in runs] == [second.run_id] and total >= 2
        runs, _ = orch.list_runs(RunQuery(names={orch_env.ok}, limit=50))
        ids = [r.run_id for r in runs]
        assert ids.index(second.run_id) < ids.index(first.run_id)
        assert all(r.dataset_name == orch_env.ok for r in runs)
        failed, _ = orch.list_runs(RunQuery(names={orch_env.ok}, status=RunStatus.FAILED, limit=50))
        assert second.run_id not in [r.run_id for r in failed]
        assert all(r.status is RunStatus.FAILED for r in failed)
        none, none_total = orch.list_runs(RunQuery(names=set(), limit=5))
        assert list(none) == [] and none_total == 0

    def test_pause_state_round_trips(self, orch_env):
        orch = orch_env.orchestrator
        orch.set_paused(orch_env.ok, True)
        orch_env.wait(lambda: orch.pause_states().get(orch_env.ok) is True, 30)
        orch.set_paused(orch_env.ok, False)
        orch_env.wait(lambda: orch.pause_states().get(orch_env.ok) is False, 30)

    def test_is_paused_follows_set_paused_for_that_one_workflow(self, orch_env):
        orch = orch_env.orchestrator
        orch.set_paused(orch_env.ok, True)
        orch_env.wait(lambda: orch.is_paused(orch_env.ok) is True, 30)
        orch.set_paused(orch_env.ok, False)
        orch_env.wait(lambda: orch.is_paused(orch_env.ok) is False, 30)

    def test_is_paused_is_none_for_a_workflow_the_orchestrator_does_not_know(self, orch_env):
        assert orch_env.orchestrator.is_paused(UNKNOWN) is None

    def test_is_running_while_a_run_is_pending_or_running_and_not_after(self, orch_env):
        orch = orch_env.orchestrator
        record = orch.trigger(orch_env.slow, parameters={}, triggered_by=None)
        assert orch.is_running(orch_env.slow)
        orch_env.wait(lambda: orch.get_run(record.run_id).status is RunStatus.RUNNING, 120)
        assert orch.is_running(orch_env.slow)
        assert not orch.is_running(UNKNOWN)  # another workflow's run does not count
        orch.stop_run(record.run_id)
        ok = orch.trigger(orch_env.ok, parameters={}, triggered_by=None)
        orch_env.wait(_terminal(orch, ok.run_id), 180)
        orch_env.wait(lambda: not orch.is_running(orch_env.ok), 60)

    def test_workflow_states_answer_every_name_asked_in_one_go(self, orch_env):
        orch = orch_env.orchestrator
        assert orch.workflow_states([]) == {}
        orch.set_paused(orch_env.ok, True)
        record = orch.trigger(orch_env.slow, parameters={}, triggered_by=None)
        try:
            orch_env.wait(lambda: orch.workflow_states([orch_env.ok])[orch_env.ok].paused is True, 30)
            orch_env.wait(lambda: orch.get_run(record.run_id).status is RunStatus.RUNNING, 120)
            states = orch.workflow_states([orch_env.ok, orch_env.slow, UNKNOWN])
            assert set(states) == {orch_env.ok, orch_env.slow, UNKNOWN}
            assert states[orch_env.ok].paused is True
            assert states[orch_env.slow].running is True
            assert states[UNKNOWN] == WorkflowState(paused=None, running=False)
        finally:
            with contextlib.suppress(InvalidStateError):
                orch.stop_run(record.run_id)
            orch.set_paused(orch_env.ok, False)
        orch_env.wait(lambda: orch.workflow_states([orch_env.ok])[orch_env.ok].paused is False, 30)
        orch_env.wait(lambda: not orch.workflow_states([orch_env.slow])[orch_env.slow].running, 60)

    def test_last_run_states_give_each_workflow_s_newest_run_and_leave_out_those_without(self, orch_env):
        orch = orch_env.orchestrator
        assert orch.last_run_states([]) == {}
        failed = orch.trigger(orch_env.failing, parameters={}, triggered_by=None)
        orch_env.wait(_terminal(orch, failed.run_id), 180)
        record = orch.trigger(orch_env.ok, parameters={}, triggered_by=None)
        states = orch.last_run_states([orch_env.ok, orch_env.failing, UNKNOWN])
        assert states[orch_env.ok] in (RunStatus.PENDING, RunStatus.RUNNING)  # the newest, not an older one
        assert states[orch_env.failing] is RunStatus.FAILED
        assert UNKNOWN not in states
        orch_env.wait(_terminal(orch, record.run_id), 180)
        assert orch.last_run_states([orch_env.ok]) == {orch_env.ok: RunStatus.COMPLETED}
