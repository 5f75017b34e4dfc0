"""The stall instruments name what held the event loop: late wake-ups and long garbage collections."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dli.entrypoints.server.stalls import GcWatch, LoopWatch


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


def test_a_collection_longer_than_the_threshold_is_logged_and_counted_a_short_one_is_not() -> None:
    now = [0.0]
    log = _Log()
    watch = GcWatch(threshold_seconds=0.05, monotonic=lambda: now[0], logger=log)
    watch("start", {"generation": 0})
    now[0] += 0.01
    watch("stop", {"generation": 0, "collected": 3})
    watch("start", {"generation": 2})
    now[0] += 0.2
    watch("stop", {"generation": 2, "collected": 7})
    assert [(e, f["generation"], f["duration_ms"]) for e, f in log.lines] == [("gc_pause", 2, 200.0)]
    assert (watch.pauses.count, watch.pauses.longest_seconds) == (1, 0.2)


def test_a_loop_held_past_the_threshold_is_logged_as_stalled() -> None:
    log = _Log()

    async def hold_the_loop() -> LoopWatch:
        watch = LoopWatch(interval_seconds=0.01, threshold_seconds=0.05, logger=log)
        watch.start()
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # what a synchronous call in a coroutine does to every request
        await asyncio.sleep(0.05)
        await watch.stop()
        return watch

    watch = asyncio.run(hold_the_loop())
    assert watch.stalls.count >= 1
    assert log.lines and log.lines[0][0] == "event_loop_stalled"
    assert log.lines[0][1]["late_ms"] > 50
