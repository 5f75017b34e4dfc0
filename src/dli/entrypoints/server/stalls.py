"""What holds the event loop: a lag watcher and the garbage collector's pauses, logged.

Every request of a Basecamp process goes through one event loop. Anything that holds it (work done
in a coroutine instead of a thread, a full garbage collection over the index's objects, a thread
that keeps the GIL) delays every request at once, so it shows as a tail latency, not as a slow
route. Two cheap instruments name such stalls in the logs:

- ``LoopWatch``: a task that asks to be woken every ``interval_seconds`` and logs ``event_loop_stalled``
  with how late it was when that is more than ``threshold_seconds`` (the loop was held that long);
- ``GcWatch``: ``gc.callbacks`` timing each collection; one that took more than
  ``threshold_seconds`` is logged as ``gc_pause`` with its generation and what it collected.

Both count what they saw (``stalls``, ``pauses``, the longest), for tests and ``/health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from typing import Any

import attrs
import structlog

__all__ = ["GcWatch", "LoopWatch", "StallCounts"]

_log = structlog.get_logger("dli.server")


@attrs.define
class StallCounts:
    """How many stalls were seen, and the longest (seconds)."""

    count: int = 0
    longest_seconds: float = 0.0

    def saw(self, seconds: float) -> None:
        self.count += 1
        self.longest_seconds = max(self.longest_seconds, seconds)


class LoopWatch:
    """Logs the event loop being held longer than ``threshold_seconds``."""

    def __init__(
        self,
        *,
        interval_seconds: float = 0.05,
        threshold_seconds: float = 0.1,
        monotonic: Callable[[], float] = time.perf_counter,
        logger: Any | None = None,
    ) -> None:
        self._interval = interval_seconds
        self._threshold = threshold_seconds
        self._monotonic = monotonic
        self._log = logger or _log
        self._task: asyncio.Task[None] | None = None
        self.stalls = StallCounts()

    def start(self) -> None:
        """Start watching the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="dli-loop-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            due = self._monotonic() + self._interval
            await asyncio.sleep(self._interval)
            late = self._monotonic() - due
            if late > self._threshold:
                self.stalls.saw(late)
                self._log.warning("event_loop_stalled", late_ms=round(late * 1000, 1))


class GcWatch:
    """Logs garbage collections that take longer than ``threshold_seconds`` (they stop every thread)."""

    def __init__(
        self,
        *,
        threshold_seconds: float = 0.05,
        monotonic: Callable[[], float] = time.perf_counter,
        logger: Any | None = None,
    ) -> None:
        self._threshold = threshold_seconds
        self._monotonic = monotonic
        self._log = logger or _log
        self._started: float | None = None
        self.pauses = StallCounts()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._monotonic()
            return
        if self._started is None:
            return
        took = self._monotonic() - self._started
        self._started = None
        if took > self._threshold:
            self.pauses.saw(took)
            self._log.warning(
                "gc_pause",
                generation=info.get("generation"),
                collected=info.get("collected"),
                duration_ms=round(took * 1000, 1),
                frozen=gc.get_freeze_count(),
            )

    def start(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self)
