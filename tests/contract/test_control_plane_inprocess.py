"""The control-plane contract in process, over the in-memory adapters (what MOCK mode runs)."""

from __future__ import annotations

import attrs
import pytest

from dli import ExecutionContext, ExecutionMode, WorkflowAPI
from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from tests.contract.control_plane_contract import ControlPlaneContract


@attrs.define
class InProcessBackend:
    api: object
    project: object
    store: InMemorySpecStore
    clock: FakeClock
    generates_missing_specs: bool = True

    def publish_code(self, spec):
        self.store.create(SourceType.CODE, SpecDocument(spec=spec, source_type=SourceType.CODE, registered_by="ci"))

    def remove_code(self, name):
        self.store.delete(SourceType.CODE, name)

    def sleep(self, seconds):
        self.clock.advance(seconds)

    def monotonic(self):
        return self.clock.now().timestamp()


class TestInProcessControlPlane(ControlPlaneContract):
    @pytest.fixture
    def backend(self, tmp_path):
        clock = FakeClock()
        store = InMemorySpecStore()
        api = WorkflowAPI(
            ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path=tmp_path, user="tester"),
            store=store,
            orchestrator=InMemoryOrchestrator(clock=clock, store=store),
            clock=clock,
        )
        return InProcessBackend(api=api, project=tmp_path, store=store, clock=clock)
