"""GetDagState: whether the orchestrator runs a workflow yet (``WorkflowAPI.wait_until_live``)."""

from __future__ import annotations

import attrs

from dli.domain.model.workflow import DagState
from dli.domain.usecases.message import Route, WorkflowMessage, handles
from dli.ports.orchestrator import Orchestrator

__all__ = ["GetDagState", "get_dag_state"]


@attrs.frozen(kw_only=True, repr=False)
class GetDagState(WorkflowMessage[DagState]):
    """Whether the orchestrator runs the workflow yet (its DAG is parsed), or its import error."""

    query = True
    route = Route(path="/api/v1/workflows/{dataset_name}/live", tag="workflows")


@handles(GetDagState)
def get_dag_state(message: GetDagState, *, orchestrator: Orchestrator) -> DagState:
    """Whether the orchestrator runs the workflow yet, or why it cannot."""
    return orchestrator.dag_state(message.dataset_name)
