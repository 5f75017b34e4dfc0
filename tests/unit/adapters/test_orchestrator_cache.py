"""CachingOrchestrator: run state for list rows cached briefly, forgotten by writes made through it,
bounded in waiting, and not asked at all for a while after the orchestrator failed."""

from __future__ import annotations

import threading

import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.orchestrator_cache import CachingOrchestrator
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.domain.model.enums import RunStatus
from dli.domain.model.errors import ServerError
from dli.ports.orchestrator import RunQuery


class Inner(InMemoryOrchestrator):
    def __init__(self) -> None:
        super().__init__(clock=FakeClock(), queue_seconds=0, run_seconds=60)
        self.asked: list[list[str]] = []
        self.asked_runs: list[list[str]] = []
        self.fail: ServerError | None = None
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def workflow_states(self, names):
        self.asked.append(sorted(names))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        return super().workflow_states(names)

    def last_run_states(self, names):
        self.asked_runs.append(sorted(names))
        if self.fail is not None:
            raise self.fail
        return super().last_run_states(names)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cached():
    inner, clock = Inner(), Clock()
    cache = CachingOrchestrator(inner, ttl_seconds=5, budget_seconds=2, cooldown_seconds=10, monotonic=clock)
    yield cache, inner, clock
    cache.close()


def test_states_are_kept_for_the_ttl_then_asked_again(cached):
    cache, inner, clock = cached
    inner.set_paused("a.b", True)
    assert cache.workflow_states(["a.b", "c.d"])["a.b"].paused is True
    assert cache.workflow_states(["c.d", "a.b"])["c.d"].paused is None
    assert inner.asked == [["a.b", "c.d"]]
    clock.now += 5.1
    cache.workflow_states(["a.b"])
    assert inner.asked == [["a.b", "c.d"], ["a.b"]]


def test_writes_through_the_cache_forget_what_they_change(cached):
    cache, inner, _ = cached
    cache.workflow_states(["a.b", "c.d"])
    cache.set_paused("a.b", True)
    assert cache.workflow_states(["a.b", "c.d"])["a.b"].paused is True
    assert inner.asked[-1] == ["a.b"]  # c.d still cached
    run = cache.trigger("c.d", parameters={}, triggered_by=None)
    assert cache.workflow_states(["c.d"])["c.d"].running is True
    cache.stop_run(run.run_id)
    assert cache.workflow_states(["c.d"])["c.d"].running is False
    assert inner.asked[-3:] == [["a.b"], ["c.d"], ["c.d"]]


def test_after_a_failure_the_orchestrator_is_left_alone_for_the_cooldown(cached):
    cache, inner, clock = cached
    inner.fail = ServerError("Airflow at http://airflow:8080 cannot be reached")
    with pytest.raises(ServerError, match="cannot be reached"):
        cache.workflow_states(["a.b"])
    with pytest.raises(ServerError, match="not asked again"):
        cache.workflow_states(["a.b", "x.y"])
    assert len(inner.asked) == 1
    inner.fail = None
    clock.now += 10.1
    assert cache.workflow_states(["a.b"])["a.b"].paused is None
    assert len(inner.asked) == 2


def test_a_slow_orchestrator_costs_a_caller_the_budget_and_the_answer_is_kept_for_the_next(cached):
    cache, inner, _ = cached
    cache.workflow_states(["a.b"])
    cache._budget = 0.05  # a short budget for the test
    inner.gate = threading.Event()
    answer = cache.workflow_states(["a.b", "slow.one"])
    assert set(answer) == {"a.b"}  # what was cached; slow.one is left out (unknown)
    again = cache.workflow_states(["slow.one"])  # joins the fetch already under way
    assert again == {} and inner.asked.count(["slow.one"]) == 1
    inner.gate.set()
    cache._budget = 5
    assert set(cache.workflow_states(["slow.one"])) == {"slow.one"}
    assert inner.asked.count(["slow.one"]) == 1


def test_a_write_during_a_fetch_keeps_the_fetched_state_out_of_the_cache(cached):
    cache, inner, _ = cached
    inner.gate = threading.Event()
    fetched: dict = {}
    worker = threading.Thread(target=lambda: fetched.update(cache.workflow_states(["a.b"])))
    worker.start()
    assert inner.entered.wait(5)
    cache.set_paused("a.b", True)  # after the fetch read its (old) state
    inner.gate.set()
    worker.join(5)
    inner.gate = None
    assert cache.workflow_states(["a.b"])["a.b"].paused is True
    assert inner.asked == [["a.b"], ["a.b"]]


def test_other_methods_pass_through(cached):
    cache, inner, _ = cached
    cache.set_paused("a.b", False)
    assert cache.is_paused("a.b") is False and cache.pause_states() == {"a.b": False}
    run = cache.trigger("a.b", parameters={"x": 1}, triggered_by="alice")
    assert cache.get_run(run.run_id).parameters == {"x": 1}
    assert cache.is_running("a.b") and cache.running() == {"a.b"}
    assert cache.list_runs(RunQuery(names={"a.b"}))[1] == 1
    assert cache.dag_state("a.b").visible
    cache.sync("a.b")
    assert "run started" in cache.logs(run.run_id) or cache.logs(run.run_id) == ""


def test_what_the_port_does_not_name_is_the_inner_orchestrators(cached):
    cache, inner, _ = cached
    cache.inject_failure("a.b", "boom")  # a hook of the simulation, used by tests through the server
    run = cache.trigger("a.b", parameters={}, triggered_by=None)
    inner._clock.advance(120)
    assert cache.get_run(run.run_id).error_message == "boom"
    with pytest.raises(AttributeError):
        cache.no_such_method  # noqa: B018


def test_last_run_states_are_kept_for_the_ttl_forgotten_by_a_trigger_and_only_the_missing_are_asked(cached):
    cache, inner, clock = cached
    inner.trigger("a.b", parameters={}, triggered_by=None)
    assert cache.last_run_states(["a.b", "c.d"]) == {"a.b": RunStatus.RUNNING}  # c.d has no run: left out
    assert cache.last_run_states(["c.d", "a.b"]) == {"a.b": RunStatus.RUNNING}
    assert inner.asked_runs == [["a.b", "c.d"]]  # a name without runs is cached too
    cache.last_run_states(["a.b", "e.f"])
    assert inner.asked_runs[-1] == ["e.f"]
    cache.trigger("c.d", parameters={}, triggered_by=None)
    assert cache.last_run_states(["a.b", "c.d"])["c.d"] is RunStatus.RUNNING
    assert inner.asked_runs[-1] == ["c.d"]
    clock.now += 5.1
    cache.last_run_states(["a.b"])
    assert inner.asked_runs[-1] == ["a.b"]


def test_after_a_failure_last_run_states_are_not_asked_for_the_cooldown(cached):
    cache, inner, clock = cached
    inner.fail = ServerError("Airflow at http://airflow:8080 cannot be reached")
    with pytest.raises(ServerError):
        cache.last_run_states(["a.b"])
    with pytest.raises(ServerError, match="not asked again"):
        cache.last_run_states(["a.b"])
    assert inner.asked_runs == [["a.b"]]
    inner.fail = None
    clock.now += 10.1
    assert cache.last_run_states(["a.b"]) == {}
