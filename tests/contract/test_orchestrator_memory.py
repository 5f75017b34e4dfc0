import attrs
import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.testing.orchestrator import OrchestratorContract

RETRY_DELAY_SECONDS = 60


def _simulation(clock: FakeClock) -> InMemoryOrchestrator:
    """The simulation over a store holding the spec of "shop.retrying" (its retries come from it, as
    the DAG factory's do); "shop.failing" and "shop.retrying" always fail."""
    store = InMemorySpecStore()
    spec = DatasetSpec(
        name="shop.retrying",
        query_statement="SELECT * FROM missing",
        execution={"retry_count": 1, "retry_delay_seconds": RETRY_DELAY_SECONDS},
        schedule=ScheduleConfig(cron="0 9 * * *"),
    )
    store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL))
    orch = InMemoryOrchestrator(clock=clock, store=store)
    orch.inject_failure("shop.failing", "division by zero")
    orch.inject_failure("shop.retrying", "no such table: missing")
    return orch


@attrs.define
class MemoryEnv:
    orchestrator: InMemoryOrchestrator
    clock: FakeClock
    ok: str = "shop.ok"
    failing: str = "shop.failing"
    slow: str = "shop.slow"
    retrying: str = "shop.retrying"
    retry_delay_seconds: int = RETRY_DELAY_SECONDS

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
        orch = _simulation(clock)
        for name in ("shop.ok", "shop.failing", "shop.slow", "shop.retrying"):
            orch.set_paused(name, False)
        return MemoryEnv(orchestrator=orch, clock=clock)


class TestCachingOrchestratorOverMemory(OrchestratorContract):
    """The server's run-state cache in front of the simulation keeps every promise of the port."""

    @pytest.fixture
    def orch_env(self):
        from dli.adapters.orchestrator_cache import CachingOrchestrator

        clock = FakeClock()
        cached = CachingOrchestrator(_simulation(clock), ttl_seconds=0.0)
        for name in ("shop.ok", "shop.failing", "shop.slow", "shop.retrying"):
            cached.set_paused(name, False)
        return MemoryEnv(orchestrator=cached, clock=clock)
