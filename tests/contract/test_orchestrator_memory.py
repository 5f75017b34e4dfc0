import attrs
import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.testing.orchestrator import OrchestratorContract


@attrs.define
class MemoryEnv:
    orchestrator: InMemoryOrchestrator
    clock: FakeClock
    ok: str = "shop.ok"
    failing: str = "shop.failing"
    slow: str = "shop.slow"

    def wait(self, predicate, timeout):
        waited = 0.0
        while not predicate():
            if waited >= timeout:
                raise AssertionError("condition not reached")
            self.clock.advance(0.5)
            waited += 0.5


class TestInMemoryOrchestrator(OrchestratorContract):
    @pytest.fixture
    def orch_env(self):
        clock = FakeClock()
        orch = InMemoryOrchestrator(clock=clock)
        orch.inject_failure("shop.failing", "division by zero")
        for name in ("shop.ok", "shop.failing", "shop.slow"):
            orch.set_paused(name, False)
        return MemoryEnv(orchestrator=orch, clock=clock)


class TestCachingOrchestratorOverMemory(OrchestratorContract):
    """The server's run-state cache in front of the simulation keeps every promise of the port."""

    @pytest.fixture
    def orch_env(self):
        from dli.adapters.orchestrator_cache import CachingOrchestrator

        clock = FakeClock()
        inner = InMemoryOrchestrator(clock=clock)
        inner.inject_failure("shop.failing", "division by zero")
        cached = CachingOrchestrator(inner, ttl_seconds=0.0)
        for name in ("shop.ok", "shop.failing", "shop.slow"):
            cached.set_paused(name, False)
        return MemoryEnv(orchestrator=cached, clock=clock)
