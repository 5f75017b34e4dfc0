"""A clock that moves only when told to, for tests and simulations.

Re-exported by ``dli.adapters.clock`` and built on first use from there: every CLI start imports
that module for the system clock, and creating an attrs class costs start-up time.
"""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["FakeClock"]


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
