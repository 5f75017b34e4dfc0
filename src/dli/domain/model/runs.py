"""Run ids: every public run id names its dataset, so a run is found without scanning all DAGs."""

from __future__ import annotations

from dli.domain.model.errors import WorkflowNotFoundError
from dli.domain.model.names import validate_dataset_name

__all__ = ["RUN_ID_SEPARATOR", "make_run_id", "split_run_id"]

# Dataset names never contain '@'; orchestrator run ids (e.g. Airflow's
# 'scheduled__2025-01-01T09:00:00+00:00') may contain anything else.
RUN_ID_SEPARATOR = "@"


def make_run_id(dataset_name: str, native_id: str) -> str:
    """The public run id of the orchestrator's run ``native_id`` of ``dataset_name``."""
    return f"{dataset_name}{RUN_ID_SEPARATOR}{native_id}"


def split_run_id(run_id: str) -> tuple[str, str]:
    """``(dataset_name, native_id)`` of a public run id; DLI-800 when it cannot name a run."""
    name, sep, native = run_id.partition(RUN_ID_SEPARATOR)
    if not sep or not native or len(run_id) > 1000:
        raise WorkflowNotFoundError(
            f"Run '{run_id}' not found",
            hints=("Run ids look like '<dataset>@<run>'; see 'dli workflow history'.",),
            details={"run_id": run_id[:200]},
        )
    try:
        validate_dataset_name(name)
    except Exception:
        raise WorkflowNotFoundError(
            f"Run '{run_id[:200]}' not found",
            hints=("Run ids look like '<dataset>@<run>'; see 'dli workflow history'.",),
            details={"run_id": run_id[:200]},
        ) from None
    return name, native
