"""The backfill types of the orchestrator port, re-exported by ``dli.ports.orchestrator`` and built on
first use from there: only backfills need them, and creating an attrs class costs start-up time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["BackfillHandle", "ChainStep"]


@attrs.frozen(kw_only=True)
class BackfillHandle:
    """A backfill that was started."""

    backfill_id: str
    """Orchestrator's id of the backfill."""
    run_ids: tuple[str, ...]
    """One run per date, in date order."""


@attrs.frozen(kw_only=True)
class ChainStep:
    """One run of a chained backfill: a dataset and the date it processes."""

    name: str
    """The dataset (workflow)."""
    date: dt.date
    """The calendar day it processes (its ``execution_date``), in ``timezone``."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """Run parameters besides ``execution_date``."""
    timezone: str = "UTC"
    """The workflow's schedule timezone."""
