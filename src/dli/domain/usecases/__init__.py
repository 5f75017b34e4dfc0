"""Use-cases: one verb each, taking the ports they need as keyword arguments."""

from dli.domain.usecases.backfill import trigger_backfill
from dli.domain.usecases.control_plane import InProcessControlPlane
from dli.domain.usecases.history import get_history
from dli.domain.usecases.listing import get_workflow, list_workflows
from dli.domain.usecases.pause import pause_workflow, unpause_workflow
from dli.domain.usecases.register import register_workflow, unregister_workflow
from dli.domain.usecases.runs import get_run_status, get_run_logs, stop_run, trigger_run

__all__ = [
    "InProcessControlPlane",
    "get_history",
    "get_run_logs",
    "get_run_status",
    "get_workflow",
    "list_workflows",
    "pause_workflow",
    "register_workflow",
    "stop_run",
    "trigger_backfill",
    "trigger_run",
    "unpause_workflow",
    "unregister_workflow",
]
