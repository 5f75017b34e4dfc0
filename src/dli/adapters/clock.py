"""Clocks: the system clock and a manual one for tests and simulations."""

from __future__ import annotations

import datetime as dt

__all__ = ["FakeClock", "SystemClock"]

_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that moves only when told to.

    A plain class, not attrs: every CLI start imports this module for the system clock, and creating
    an attrs class costs start-up time.
    """

    def __init__(self, current: dt.datetime = _START) -> None:
        self.current = current
        """The time it tells."""

    def __repr__(self) -> str:
        return f"FakeClock(current={self.current!r})"

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self.current += dt.timedelta(seconds=seconds)
