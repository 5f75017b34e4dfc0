"""A hypothesis state machine driving WorkflowAPI against a plain-dict model.

``workflow_machine(store_factory)`` returns a RuleBasedStateMachine class running the real
use-cases over the given spec store (in-memory, filesystem, S3...) and the in-memory orchestrator
on a fake clock. After every step the invariants compare the system with the model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from dli import ExecutionContext, ExecutionMode, RunStatus, SourceType, WorkflowAPI, WorkflowStatus
from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.domain.model.errors import DLIError
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import SpecStore
from tests.support.specs import make_spec

NAMES = ["shop.a", "shop.b", "shop.c.d"]
CRONS = ["0 9 * * *", "30 2 * * *", "*/15 * * * *", "0 0 1 * *"]


def workflow_machine(store_factory: Callable[[], SpecStore]) -> type[RuleBasedStateMachine]:
    class WorkflowMachine(RuleBasedStateMachine):
        runs = Bundle("runs")

        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self.store = store_factory()
            self.project = Path(tempfile.mkdtemp(prefix="dli-sm-"))
            self.api = WorkflowAPI(
                ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path=self.project, user="sm"),
                store=self.store,
                orchestrator=InMemoryOrchestrator(clock=self.clock),
                clock=self.clock,
            )
            self.code: dict[str, str] = {}
            self.manual: dict[str, str] = {}
            self.paused: dict[str, bool] = {}
            self.run_rank: dict[str, int] = {}

        # -- helpers ---------------------------------------------------------------------------

        def expect_error(self, code: str, call: Callable[[], object]) -> None:
            try:
                call()
            except DLIError as exc:
                assert exc.code.value == code, f"expected {code}, got {exc.code.value}: {exc.message}"
            else:
                raise AssertionError(f"expected {code}")

        def active(self, name: str) -> bool:
            return name in self.code or name in self.manual

        def is_paused(self, name: str) -> bool:
            return self.paused.get(name, False)

        # -- rules -----------------------------------------------------------------------------

        @rule(name=st.sampled_from(NAMES), cron=st.sampled_from(CRONS), force=st.booleans(), enabled=st.booleans())
        def register(self, name: str, cron: str, force: bool, enabled: bool) -> None:
            call = lambda: self.api.register(name, cron=cron, force=force, enabled=enabled)  # noqa: E731
            if name in self.code:
                self.expect_error("DLI-803", call)
            elif name in self.manual and not force:
                self.expect_error("DLI-804", call)
            else:
                result = call()
                assert result.updated == (name in self.manual)
                self.manual[name] = cron
                self.paused[name] = not enabled

        @rule(name=st.sampled_from(NAMES))
        def unregister(self, name: str) -> None:
            call = lambda: self.api.unregister(name)  # noqa: E731
            if name in self.manual:
                call()
                del self.manual[name]
                if name not in self.code:
                    # Unregister unschedules at once: the orchestrator keeps the name paused (Airflow
                    # keeps a DAG's pause state), so a later CODE spec of that name starts paused.
                    self.paused[name] = True
            elif name in self.code:
                self.expect_error("DLI-803", call)
            else:
                self.expect_error("DLI-800", call)

        @rule(name=st.sampled_from(NAMES), cron=st.sampled_from(CRONS))
        def publish_code(self, name: str, cron: str) -> None:
            doc = SpecDocument(spec=make_spec(name, cron=cron), source_type=SourceType.CODE, registered_by="ci")
            existing = self.store.read(SourceType.CODE, name)
            if existing is None:
                self.store.create(SourceType.CODE, doc)
            else:
                self.store.replace(SourceType.CODE, doc, etag=existing.etag)
            self.code[name] = cron

        @rule(name=st.sampled_from(NAMES))
        def remove_code(self, name: str) -> None:
            assert self.store.delete(SourceType.CODE, name) == (name in self.code)
            self.code.pop(name, None)

        @rule(name=st.sampled_from(NAMES), pause=st.booleans())
        def pause_or_unpause(self, name: str, pause: bool) -> None:
            call = (lambda: self.api.pause(name)) if pause else (lambda: self.api.unpause(name))
            if not self.active(name):
                self.expect_error("DLI-800", call)
            elif self.is_paused(name) == pause:
                self.expect_error("DLI-807", call)
            else:
                call()
                self.paused[name] = pause

        @rule(target=runs, name=st.sampled_from(NAMES))
        def run(self, name: str) -> str:
            call = lambda: self.api.run(name)  # noqa: E731
            if not self.active(name):
                self.expect_error("DLI-800", call)
                return "none@missing"
            if self.is_paused(name):
                self.expect_error("DLI-807", call)
                return "none@missing"
            run_id = call().run_id
            self.run_rank[run_id] = 0
            return run_id

        @rule(name=st.sampled_from(NAMES), days=st.integers(1, 3))
        def backfill(self, name: str, days: int) -> None:
            call = lambda: self.api.backfill(name, start_date="2025-01-01", end_date=f"2025-01-0{days}")  # noqa: E731
            if not self.active(name):
                self.expect_error("DLI-800", call)
            elif self.is_paused(name):
                self.expect_error("DLI-807", call)
            else:
                result = call()
                assert len(result.run_ids) == days
                for run_id in result.run_ids:
                    self.run_rank[run_id] = 0

        @rule(run_id=consumes(runs))
        def stop(self, run_id: str) -> None:
            if run_id not in self.run_rank:
                self.expect_error("DLI-800", lambda: self.api.stop(run_id))
                return
            status = self.api.get_status(run_id).run_status
            if status.is_terminal:
                self.expect_error("DLI-807", lambda: self.api.stop(run_id))
            else:
                assert self.api.stop(run_id).run_status is RunStatus.KILLED

        @rule(seconds=st.sampled_from([0.5, 1, 2, 5]))
        def advance(self, seconds: float) -> None:
            self.clock.advance(seconds)

        # -- invariants ------------------------------------------------------------------------

        @invariant()
        def stored_specs_match_the_model(self) -> None:
            # A manual spec is never lost unless unregistered; code specs never change through the API.
            assert {
                n: v.document.schedule.cron for n in NAMES if (v := self.store.read(SourceType.MANUAL, n))
            } == self.manual
            assert {
                n: v.document.schedule.cron for n in NAMES if (v := self.store.read(SourceType.CODE, n))
            } == self.code

        @invariant()
        def listing_matches_the_model(self) -> None:
            expected = set()
            for name, cron in self.code.items():
                status = WorkflowStatus.PAUSED if self.is_paused(name) else WorkflowStatus.ACTIVE
                expected.add((name, SourceType.CODE, status, cron))
            for name, cron in self.manual.items():
                if name in self.code:  # overridden exactly when both exist; code always wins
                    status = WorkflowStatus.OVERRIDDEN
                else:
                    status = WorkflowStatus.PAUSED if self.is_paused(name) else WorkflowStatus.ACTIVE
                expected.add((name, SourceType.MANUAL, status, cron))
            listed = {(w.dataset_name, w.source_type, w.status, w.cron) for w in self.api.list_workflows().workflows}
            assert listed == expected
            for name in NAMES:
                info = self.api.get(name)
                if name in self.code:
                    assert info.source_type is SourceType.CODE
                elif name in self.manual:
                    assert info.source_type is SourceType.MANUAL
                else:
                    assert info is None

        @invariant()
        def run_states_only_move_forward(self) -> None:
            for run_id, rank in list(self.run_rank.items()):
                status = self.api.get_status(run_id).run_status
                assert status.rank >= rank, f"{run_id} went back to {status}"
                self.run_rank[run_id] = status.rank

    return WorkflowMachine
