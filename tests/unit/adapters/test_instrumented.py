"""The instrumented ports report every call, with its outcome, and change nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from dli.adapters.clock import FakeClock
from dli.adapters.instrumented import InstrumentedOrchestrator, instrumented_store
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, WorkflowAlreadyExistsError
from dli.domain.model.spec import SpecDocument
from dli.ports.change_feed import ChangeFeed
from tests.support.specs import make_spec


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    @contextlib.contextmanager
    def __call__(self, dependency: str, kind: str, operation: str) -> Iterator[None]:
        try:
            yield
        except DLIError as exc:
            self.calls.append((dependency, kind, operation, exc.code.value))
            raise
        self.calls.append((dependency, kind, operation, "ok"))


def test_store_calls_are_reported_with_their_outcome_and_answer_as_the_store_does() -> None:
    seen = Recorder()
    store = instrumented_store(InMemorySpecStore(), seen)
    document = SpecDocument(spec=make_spec("shop.orders"), source_type=SourceType.MANUAL, registered_by="me")
    etag = store.create(SourceType.MANUAL, document)
    with pytest.raises(WorkflowAlreadyExistsError):
        store.create(SourceType.MANUAL, document)
    read = store.read(SourceType.MANUAL, "shop.orders")
    assert read is not None and read.etag == etag
    assert store.list_etags(SourceType.MANUAL) == {"shop.orders": etag}
    assert store.url == "memory://"
    assert seen.calls == [
        ("store", "memory", "create", "ok"),
        ("store", "memory", "create", "DLI-804"),
        ("store", "memory", "read", "ok"),
        ("store", "memory", "list", "ok"),
    ]


def test_a_store_with_a_change_feed_stays_one_and_one_without_does_not_become_one(tmp_path: Path) -> None:
    seen = Recorder()
    feed = instrumented_store(InMemorySpecStore(), seen)  # records its writes, as S3 does
    assert isinstance(feed, ChangeFeed)
    assert feed.recent_changes(seconds=5) == []  # type: ignore[attr-defined]
    assert not isinstance(instrumented_store(FilesystemSpecStore(tmp_path), seen), ChangeFeed)
    assert seen.calls == [("store", "memory", "recent_changes", "ok")]


def test_orchestrator_calls_are_reported_by_method() -> None:
    seen = Recorder()
    store = InMemorySpecStore()
    orchestrator = InstrumentedOrchestrator(InMemoryOrchestrator(clock=FakeClock(), store=store), seen, kind="memory")
    orchestrator.workflow_states(["shop.none"])
    assert orchestrator.get_run("shop.none@manual__2025-01-01T00:00:00+00:00") is None
    assert [call[2] for call in seen.calls] == ["workflow_states", "get_run"]
    assert {call[:2] for call in seen.calls} == {("orchestrator", "memory")}
