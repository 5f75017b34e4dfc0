"""Run ids: every public run id names its dataset, so a run is found without scanning all DAGs."""

from __future__ import annotations

from dli.domain.model.errors import WorkflowNotFoundError
from dli.domain.model.names import DATASET_NAME, validate_dataset_name

__all__ = ["MAX_RUN_ID_LENGTH", "RUN_ID_PATTERN", "RUN_ID_SEPARATOR", "make_run_id", "split_run_id"]

# Dataset names never contain '@'; orchestrator run ids (e.g. Airflow's
# 'scheduled__2025-01-01T09:00:00+00:00') may contain anything else.
RUN_ID_SEPARATOR = "@"
MAX_RUN_ID_LENGTH = 1000
RUN_ID_PATTERN = f"^(?:{DATASET_NAME.pattern}){RUN_ID_SEPARATOR}[A-Za-z0-9_.~:+-]+(?![\\s\\S])"
"""What a run id looks like, as a JSON Schema ``pattern``: the dataset, '@', and the orchestrator's run
id in the characters Airflow allows in one (its ``allowed_run_id_pattern``)."""


def make_run_id(dataset_name: str, native_id: str) -> str:
    """The public run id of the orchestrator's run ``native_id`` of ``dataset_name``."""
    return f"{dataset_name}{RUN_ID_SEPARATOR}{native_id}"


def split_run_id(run_id: str) -> tuple[str, str]:
    """``(dataset_name, native_id)`` of a public run id; DLI-800 when it cannot name a run."""
    name, sep, native = run_id.partition(RUN_ID_SEPARATOR)
    if not sep or not native or len(run_id) > MAX_RUN_ID_LENGTH:
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
