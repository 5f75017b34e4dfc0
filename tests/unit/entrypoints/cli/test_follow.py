"""Outcome of ``--wait`` over several runs."""

import pytest

from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.workflow_runs import WorkflowStatusResult
from dli.entrypoints.cli.follow import outcome, outcome_code


def _status(state: RunStatus) -> WorkflowStatusResult:
    return WorkflowStatusResult(
        run_id="a.b@1", dataset_name="a.b", source_type=SourceType.MANUAL, run_status=state, run_type=RunType.BACKFILL
    )


@pytest.mark.parametrize(
    ("states", "expected", "code"),
    [
        ([RunStatus.COMPLETED, RunStatus.COMPLETED], "completed", 0),
        ([RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.KILLED], "failed", 3),
        ([RunStatus.KILLED, RunStatus.RUNNING], "killed", 4),
        ([RunStatus.COMPLETED, RunStatus.RUNNING, RunStatus.PENDING], "timeout", 5),
        ([RunStatus.FAILED, RunStatus.PENDING], "failed", 3),
    ],
)
def test_failed_beats_killed_beats_timeout_beats_completed(states, expected, code):
    name = outcome([_status(s) for s in states])
    assert name == expected
    assert outcome_code(name) == code
