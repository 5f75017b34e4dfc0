"""Health probes of one dependency each: fresh, bounded in time, and never more than one at a time.

``/health`` must tell the truth quickly. A dependency that accepts connections and never answers (a
hung S3 endpoint, an overloaded Airflow) holds a probe for its client's read timeout (10 s), and a
worker thread cannot be cancelled. So a probe:

- runs the dependency call in a worker thread and waits for it at most ``budget_seconds``; past the
  budget the dependency is reported as not answering, and the call goes on in its thread;
- is single-flight: while a call is still out, the next ``/health`` waits for that same call (what is
  left of its budget) instead of starting another one, so a polled health endpoint can never pile up
  threads against a hung dependency;
- remembers nothing that could hide a failure: a call that answered is the answer for at most
  ``fresh_seconds`` (health checks poll several times a second under a load balancer), a call still
  out past the budget is a failure whatever the last answer was.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from dli.domain.model.errors import DLIError, ErrorCode

__all__ = ["BoundedProbe", "ProbeOutcome"]


@attrs.frozen
class ProbeOutcome:
    """What one probe found."""

    reachable: bool
    error: str | None = None


def _outcome(check: Callable[[], object]) -> ProbeOutcome:
    try:
        check()
    except DLIError as exc:
        return ProbeOutcome(False, f"[{exc.code.value}] {exc.message}")
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not fail
        return ProbeOutcome(False, type(exc).__name__)
    return ProbeOutcome(True)


class BoundedProbe:
    """Asks one dependency whether it answers, within ``budget_seconds``."""

    def __init__(
        self,
        check: Callable[[], object],
        *,
        describe: str,
        budget_seconds: float = 2.0,
        fresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``describe``: how the error names the dependency ("Spec store s3://bucket/prefix")."""
        self._check = check
        self._describe = describe
        self._budget = budget_seconds
        self._fresh = fresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dli-health-probe")
        self._running: tuple[float, Future[ProbeOutcome]] | None = None
        self._last: tuple[float, ProbeOutcome] | None = None

    @property
    def budget_seconds(self) -> float:
        return self._budget

    def _start(self) -> tuple[float, Future[ProbeOutcome]] | ProbeOutcome:
        with self._lock:
            now = self._monotonic()
            if self._running is not None and not self._running[1].done():
                return self._running
            if self._last is not None and now - self._last[0] <= self._fresh:
                return self._last[1]
            future = self._pool.submit(_outcome, self._check)
            self._running = running = (now, future)
        # Outside the lock: a call already done runs its callback here, and the callback takes the lock.
        future.add_done_callback(self._record)
        return running

    def _record(self, future: Future[ProbeOutcome]) -> None:
        if future.cancelled():
            return
        with self._lock:
            self._last = (self._monotonic(), future.result())

    async def probe(self) -> ProbeOutcome:
        """The dependency's state, from a call made now (or still out), within the budget."""
        started = self._start()
        if isinstance(started, ProbeOutcome):
            return started
        since, future = started
        remaining = self._budget - (self._monotonic() - since)
        if remaining > 0:
            try:
                return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), remaining)
            except TimeoutError:
                pass
        elif future.done():
            return future.result()
        return ProbeOutcome(
            False, f"[{ErrorCode.SERVER_ERROR.value}] {self._describe} did not answer within {self._budget:g} s"
        )

    def close(self) -> None:
        """Stop waiting for a call still out (its thread ends with the dependency's own timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
