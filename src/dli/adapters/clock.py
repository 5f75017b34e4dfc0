"""Clocks: the system clock and a manual one for tests and simulations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.adapters._fake_clock import FakeClock

__all__ = ["FakeClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


def __getattr__(name: str) -> Any:
    if name != "FakeClock":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dli.adapters._fake_clock import FakeClock  # built on first use (see _fake_clock)

    return FakeClock


def __dir__() -> list[str]:
    return sorted({*globals(), "FakeClock"})
