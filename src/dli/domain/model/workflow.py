"""Workflows and runs as users see them, and the result models of the WorkflowAPI methods.

The rows of a listing (``WorkflowInfo``, ``BrokenSpec``, ``WorkflowListResult``) live in ``_rows``;
the other results in ``_results``, imported from this module on first use (PEP 562): creating an
attrs class costs start-up time, and ``dli workflow list`` needs none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from dli.domain.model._rows import BrokenSpec, WorkflowInfo, WorkflowListResult

__all__ = [
    "BrokenSpec",
    "DagState",
    "DatasetInfo",
    "RetryWait",
    "RunLogs",
    "WorkflowHistoryResult",
    "WorkflowInfo",
    "WorkflowListResult",
    "WorkflowRegisterResult",
    "WorkflowRun",
    "WorkflowRunResult",
    "WorkflowStatusResult",
]

_LATER = frozenset(
    {
        "DagState",
        "DatasetInfo",
        "RetryWait",
        "RunLogs",
        "WorkflowHistoryResult",
        "WorkflowRegisterResult",
        "WorkflowRun",
        "WorkflowRunResult",
        "WorkflowStatusResult",
    }
)
"""The classes defined in ``_results``."""


def __getattr__(name: str) -> Any:
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = getattr(importlib.import_module("dli.domain.model._results"), name)
    globals()[name] = cls  # later look-ups skip this function
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *_LATER})
