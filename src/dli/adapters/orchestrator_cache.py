"""An Orchestrator decorator for the Basecamp server: list rows' run state, cached briefly and bounded in time.

``list`` asks the orchestrator about the workflows of its page (``workflow_states``). Under load many
lists show the same page, and an Airflow that is slow or down must not make every list slow or fail.
So, for ``workflow_states`` only:

- answers are kept for ``ttl_seconds`` (a few seconds: a list may be that stale; a pause, trigger or
  stop made through this server forgets the workflow's entry at once, so its caller sees it);
- one fetch per name at a time: concurrent lists of the same page wait for the same request;
- a caller waits at most ``budget_seconds``; names not answered by then are left out (the list marks
  them unknown) while the fetch goes on and fills the cache for the next list;
- after a failure the orchestrator is not asked again for ``cooldown_seconds``: lists answer at once,
  without run state, instead of each waiting for Airflow's timeouts.

``last_run_states`` (a page's last run states) is kept for ``ttl_seconds`` too, forgotten by the same
writes; it is fetched in the caller's thread (after a failure, not at all during the cooldown).
Every other method passes through unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from dli.domain.model.enums import RunStatus
from dli.domain.model.errors import DLIError, ServerError
from dli.domain.model.runs import split_run_id
from dli.domain.model.workflow import DagState
from dli.ports.orchestrator import (
    BackfillHandle,
    BackfillRequest,
    ChainStep,
    Orchestrator,
    RunQuery,
    RunRecord,
    WorkflowState,
)

__all__ = ["CachingOrchestrator"]


class CachingOrchestrator:
    """Serves ``workflow_states`` from a short-lived cache; everything else goes to ``inner``."""

    def __init__(
        self,
        inner: Orchestrator,
        *,
        ttl_seconds: float = 5.0,
        budget_seconds: float = 2.0,
        cooldown_seconds: float = 10.0,
        max_fetches: int = 4,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._budget = budget_seconds
        self._cooldown = cooldown_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._states: dict[str, tuple[float, WorkflowState]] = {}  # name -> (expires at, state)
        self._last_runs: dict[str, tuple[float, RunStatus | None]] = {}  # name -> (expires at, newest run's status)
        self._pending: dict[str, Future[Mapping[str, WorkflowState]]] = {}
        self._forgotten: dict[str, float] = {}  # name -> when a write through us made its state stale
        self._down: tuple[float, DLIError] | None = None  # (until, why)
        self._pool = ThreadPoolExecutor(max_workers=max_fetches, thread_name_prefix="dli-workflow-states")

    @property
    def inner(self) -> Orchestrator:
        """The decorated orchestrator."""
        return self._inner

    def __repr__(self) -> str:
        return f"CachingOrchestrator({self._inner!r})"

    def __getattr__(self, name: str) -> Any:
        # What the port does not name (e.g. the simulation's test hooks) is the inner orchestrator's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def close(self) -> None:
        """Stop the fetch threads and close the inner orchestrator."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    # -- the cached call -------------------------------------------------------------------------

    def workflow_states(
        self, names: Collection[str], *, budget_seconds: float | None = None
    ) -> Mapping[str, WorkflowState]:
        """Cached states of ``names``; names not answered within the budget are left out.

        ``budget_seconds`` overrides the wait for this call (a health probe waits less than a list).

        Raises:
            ServerError: The orchestrator failed (now, or less than ``cooldown_seconds`` ago).
        """
        now = self._monotonic()
        answer: dict[str, WorkflowState] = {}
        missing: list[str] = []
        with self._lock:
            for name in set(names):
                hit = self._states.get(name)
                if hit is not None and hit[0] > now:
                    answer[name] = hit[1]
                else:
                    missing.append(name)
            if not missing:
                return answer
            if self._down is not None and self._down[0] > now:
                raise self._down_error(self._down[1])
            futures = {self._pending[n] for n in missing if n in self._pending}
            new = sorted(n for n in missing if n not in self._pending)
            if new:
                future = self._pool.submit(self._fetch, new, now)
                for name in new:
                    self._pending[name] = future
                futures.add(future)
        done, _ = wait(futures, timeout=self._budget if budget_seconds is None else budget_seconds)
        for future in done:
            error = future.exception()
            if isinstance(error, DLIError):
                raise self._down_error(error)
            if error is not None:
                raise error  # a bug: the server answers 500 and logs it
            for name, state in future.result().items():
                if name in missing:
                    answer[name] = state
        return answer

    def last_run_states(self, names: Collection[str]) -> Mapping[str, RunStatus]:
        """Cached status of the newest run of each of ``names`` (left out: no run).

        Raises:
            ServerError: The orchestrator failed (now, or less than ``cooldown_seconds`` ago).
        """
        now = self._monotonic()
        answer: dict[str, RunStatus | None] = {}
        with self._lock:
            for name in set(names):
                hit = self._last_runs.get(name)
                if hit is not None and hit[0] > now:
                    answer[name] = hit[1]
            missing = sorted(set(names) - answer.keys())
            if missing and self._down is not None and self._down[0] > now:
                raise self._down_error(self._down[1])
        if missing:
            try:
                fetched = self._inner.last_run_states(missing)
            except DLIError as exc:
                with self._lock:
                    self._down = (self._monotonic() + self._cooldown, exc)
                raise self._down_error(exc) from None
            with self._lock:
                expires = self._monotonic() + self._ttl
                for name in missing:
                    answer[name] = fetched.get(name)
                    if self._forgotten.get(name, float("-inf")) < now:
                        self._last_runs[name] = (expires, fetched.get(name))
        return {name: status for name, status in answer.items() if status is not None}

    def _fetch(self, names: Sequence[str], started: float) -> Mapping[str, WorkflowState]:
        try:
            states = self._inner.workflow_states(names)
        except DLIError as exc:
            with self._lock:
                self._down = (self._monotonic() + self._cooldown, exc)
                self._drop_pending(names)
            raise
        except BaseException:
            with self._lock:
                self._drop_pending(names)
            raise
        with self._lock:
            expires = self._monotonic() + self._ttl
            for name, state in states.items():
                # A write made through us after the fetch started may have changed it: do not keep it.
                if self._forgotten.get(name, float("-inf")) < started:
                    self._states[name] = (expires, state)
            self._down = None
            self._drop_pending(names)
        return states

    def _drop_pending(self, names: Sequence[str]) -> None:
        for name in names:
            self._pending.pop(name, None)

    def _down_error(self, cause: DLIError) -> ServerError:
        if isinstance(cause, ServerError) and cause.message.endswith("(not asked again for a few seconds)"):
            return cause
        return ServerError(
            f"{cause.message} (not asked again for a few seconds)",
            hints=cause.hints,
            details=cause.details,
        )

    def forget(self, name: str) -> None:
        """Drop the cached state of ``name``: the next list asks the orchestrator."""
        with self._lock:
            self._states.pop(name, None)
            self._last_runs.pop(name, None)
            self._forgotten[name] = self._monotonic()

    # -- writes: forget what they change ---------------------------------------------------------

    def sync(self, name: str) -> None:
        self._inner.sync(name)
        self.forget(name)

    def set_paused(self, name: str, paused: bool) -> None:
        try:
            self._inner.set_paused(name, paused)
        finally:
            self.forget(name)

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        try:
            return self._inner.trigger(name, parameters=parameters, triggered_by=triggered_by)
        finally:
            self.forget(name)

    def backfill(self, request: BackfillRequest) -> BackfillHandle:
        try:
            return self._inner.backfill(request)
        finally:
            self.forget(request.name)

    def backfill_chain(self, steps: Sequence[ChainStep], *, triggered_by: str | None) -> BackfillHandle:
        try:
            return self._inner.backfill_chain(steps, triggered_by=triggered_by)
        finally:
            for name in {step.name for step in steps}:
                self.forget(name)

    def stop_run(self, run_id: str) -> RunRecord:
        try:
            return self._inner.stop_run(run_id)
        finally:
            self.forget(split_run_id(run_id)[0])

    # -- reads: pass through ---------------------------------------------------------------------

    def dag_state(self, name: str) -> DagState:
        return self._inner.dag_state(name)

    def is_paused(self, name: str) -> bool | None:
        return self._inner.is_paused(name)

    def is_running(self, name: str) -> bool:
        return self._inner.is_running(name)

    def pause_states(self) -> Mapping[str, bool]:
        return self._inner.pause_states()

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._inner.get_run(run_id)

    def list_runs(self, query: RunQuery) -> tuple[Sequence[RunRecord], int]:
        return self._inner.list_runs(query)

    def running(self) -> set[str]:
        return self._inner.running()

    def logs(self, run_id: str) -> str:
        return self._inner.logs(run_id)
