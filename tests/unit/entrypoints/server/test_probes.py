"""The health probe: one call at a time, bounded, and never hiding a failure behind an old answer."""

from __future__ import annotations

import asyncio
import threading

from dli.domain.model.errors import StoreUnavailableError
from dli.entrypoints.server.probes import BoundedProbe, ProbeOutcome


def test_a_silent_dependency_is_reported_after_the_budget_and_asked_only_once_while_it_hangs() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hang() -> None:
        calls.append(1)
        release.wait(10)

    probe = BoundedProbe(hang, describe="Spec store s3://b/p", budget_seconds=0.1)

    async def poll() -> list[ProbeOutcome]:
        return [await probe.probe() for _ in range(3)]

    try:
        outcomes = asyncio.run(poll())
    finally:
        release.set()
        probe.close()
    assert outcomes == [ProbeOutcome(False, "[DLI-503] Spec store s3://b/p did not answer within 0.1 s")] * 3
    assert len(calls) == 1


def test_a_failing_dependency_is_reported_with_its_error_and_a_later_answer_is_fresh() -> None:
    state = {"up": False}

    def check() -> None:
        if not state["up"]:
            raise StoreUnavailableError("Spec store s3://b/p cannot list: denied")

    now = [0.0]
    probe = BoundedProbe(check, describe="Spec store", fresh_seconds=1.0, monotonic=lambda: now[0])
    try:
        assert asyncio.run(probe.probe()) == ProbeOutcome(False, "[DLI-503] Spec store s3://b/p cannot list: denied")
        state["up"] = True
        now[0] = 1.5  # past the freshness: asked again
        assert asyncio.run(probe.probe()) == ProbeOutcome(True)
    finally:
        probe.close()
