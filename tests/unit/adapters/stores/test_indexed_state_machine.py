"""The server's index over a store with a change feed, as a state machine beside the store itself.

Writes come three ways: through the index (a request to this replica), by another writer that
records them (another replica, CI's publish) and around dli (``aws s3 cp``: no record). After each
step the index must agree with the store on every key, except the keys others wrote since the last
check and the keys written around dli since the last full listing; and its catalog must list
exactly the documents it holds.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.testing.specs import make_document

NAMES = ("shop.a", "shop.b", "shop.c")
SOURCES = (SourceType.CODE, SourceType.MANUAL)
Key = tuple[SourceType, str]


class _Store(InMemorySpecStore):
    """The in-memory store, whose writes can be made without a record (around dli)."""

    quiet = False

    def _record(self, source: SourceType, name: str, version: str) -> None:
        if not self.quiet:
            super()._record(source, name, version)


class IndexedStoreMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.now = 1_000.0
        self.store = _Store(clock=lambda: self.now)
        self.index = IndexedSpecStore(self.store, monotonic=lambda: self.now, full_check_interval_seconds=300)
        self.index.check()
        self.stale: set[Key] = set()  # written by a recording writer since the last check
        self.around: set[Key] = set()  # written around dli since the last full listing
        self.writes = 0

    def _write(self, target, source: SourceType, name: str, delete: bool) -> bool:
        """Write (or delete) the key; whether the store changed."""
        current = self.store.read(source, name)
        self.writes += 1
        document = make_document(name, source=source, description=f"version {self.writes}")
        if delete:
            return target.delete(source, name)
        if current is None:
            target.create(source, document)
        else:
            target.replace(source, document, etag=current.etag)
        return True

    @rule(source=st.sampled_from(SOURCES), name=st.sampled_from(NAMES), delete=st.booleans())
    def write_through_the_index(self, source: SourceType, name: str, delete: bool) -> None:
        self._write(self.index, source, name, delete)
        self.stale.discard((source, name))
        self.around.discard((source, name))

    @rule(source=st.sampled_from(SOURCES), name=st.sampled_from(NAMES), delete=st.booleans())
    def write_recorded_by_another_writer(self, source: SourceType, name: str, delete: bool) -> None:
        if self._write(self.store, source, name, delete):  # a delete of nothing records nothing
            self.stale.add((source, name))
            self.around.discard((source, name))  # its record makes the next check read the key

    @rule(source=st.sampled_from(SOURCES), name=st.sampled_from(NAMES), delete=st.booleans())
    def write_around_dli(self, source: SourceType, name: str, delete: bool) -> None:
        self.store.quiet = True
        try:
            changed = self._write(self.store, source, name, delete)
        finally:
            self.store.quiet = False
        if changed and (source, name) not in self.stale:
            self.around.add((source, name))

    @rule(seconds=st.sampled_from([0.0, 0.5, 30.0, 90.0, 299.0, 301.0, 5_000.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(full=st.booleans())
    def check(self, full: bool) -> None:
        report = self.index.check(full=full)
        assert report.full or not full
        self.stale.clear()
        if report.full:
            self.around.clear()

    @invariant()
    def the_index_agrees_with_the_store_on_every_key_it_can_know(self) -> None:
        for source in SOURCES:
            stored, indexed = self.store.list_etags(source), self.index.list_etags(source)
            for name in NAMES:
                if (source, name) in self.stale | self.around:
                    continue
                assert indexed.get(name) == stored.get(name), (source, name)
                if name in stored:
                    assert self.index.read(source, name) == self.store.read(source, name)

    @invariant()
    def the_catalog_lists_exactly_the_indexed_documents(self) -> None:
        catalog = self.index.catalog()
        for name in NAMES:
            listed = [(e.source_type, e.overridden) for e in catalog.entries_of(name)]
            held = [s for s in SOURCES if name in self.index.list_etags(s)]
            assert [source for source, _ in listed] == held
            assert [overridden for _, overridden in listed] == [
                source is SourceType.MANUAL and SourceType.CODE in held for source in held
            ]


IndexedStoreMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestIndexedStoreOverAChangeFeed = IndexedStoreMachine.TestCase
