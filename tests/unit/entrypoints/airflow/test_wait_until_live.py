"""``WorkflowAPI.wait_until_live`` (behind ``dli workflow register --wait``)."""

from __future__ import annotations

import pytest

from dli import ExecutionContext, ExecutionMode, WorkflowAPI
from dli.domain.model.errors import WorkflowRegistrationError
from dli.domain.model.workflow import DagState
from dli.domain.usecases.dag_state import GetDagState


class _Bus:
    """Answers GetDagState from a script of states."""

    def __init__(self, states):
        self.states = list(states)
        self.asked = 0

    def handle(self, message):
        assert isinstance(message, GetDagState)
        self.asked += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def close(self):
        pass


def _api(states):
    bus = _Bus(states)
    return WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.MOCK), bus=bus, local_specs=object()), bus


def test_returns_once_the_dag_is_visible() -> None:
    api, plane = _api([DagState(visible=False), DagState(visible=False), DagState(visible=True)])
    assert api.wait_until_live("a.b", sleep=lambda _s: None).visible
    assert plane.asked == 3


def test_a_broken_spec_is_reported_as_a_registration_error() -> None:
    api, _ = _api([DagState(visible=True, error="invalid YAML (line 2)")])
    with pytest.raises(WorkflowRegistrationError, match="invalid YAML"):
        api.wait_until_live("a.b", sleep=lambda _s: None)


def test_gives_up_after_the_timeout() -> None:
    clock = iter(range(0, 1000, 10))
    api, _ = _api([DagState(visible=False)])
    with pytest.raises(WorkflowRegistrationError, match="within 30s"):
        api.wait_until_live("a.b", timeout_seconds=30, sleep=lambda _s: None, monotonic=lambda: next(clock))


def test_mock_mode_is_live_at_once() -> None:
    api = WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.MOCK))
    assert api.wait_until_live("iceberg.analytics.daily_clicks").visible
