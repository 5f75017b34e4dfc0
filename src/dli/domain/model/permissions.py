"""The permission model: CODE workflows change only through Git (from the CLI or API: pause, unpause)."""

from __future__ import annotations

import enum

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import WorkflowPermissionError

__all__ = ["Action", "check_allowed"]


class Action(str, enum.Enum):
    """What the CLI/API asks to do with a workflow."""

    MODIFY = "modify"
    DELETE = "delete"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    RUN = "run"


_CODE_ALLOWED = frozenset({Action.PAUSE, Action.UNPAUSE, Action.RUN})


def check_allowed(action: Action, *, source: SourceType, dataset_name: str) -> None:
    """Raise WorkflowPermissionError (DLI-803) when the CLI/API may not do ``action``."""
    if source is SourceType.CODE and action not in _CODE_ALLOWED:
        verb = "modify" if action is Action.MODIFY else "delete"
        raise WorkflowPermissionError(
            f"Permission denied for workflow '{dataset_name}': cannot {verb} a CODE workflow",
            hints=(
                "This dataset is managed by Code (GitOps).",
                "Only pause/unpause operations are allowed via CLI; change it in Git instead.",
            ),
            details={"dataset_name": dataset_name, "source_type": source.value},
        )
