"""Clocks: the system clock and a manual one for tests and simulations."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["FakeClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


@attrs.define
class FakeClock:
    """A clock that moves only when told to."""

    current: dt.datetime = attrs.field(factory=lambda: dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    """The time it tells."""

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self.current += dt.timedelta(seconds=seconds)
