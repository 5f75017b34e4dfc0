"""Clock port."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """Tells the time, so that schedules and simulated runs can be tested."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware (UTC)."""
        ...
