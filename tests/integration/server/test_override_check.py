"""The periodic override check: store changes made behind the server's back are seen
within a check interval and every transition is logged; a check reads only what changed."""

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError, StoreUnavailableError
from dli.domain.model.override import TransitionKind
from dli.domain.usecases.bus import MessageBus
from dli.domain.usecases.listing import ListWorkflows
from dli.ports.spec_store import SpecStore
from tests.integration.server.conftest import LiveServer
from tests.support.specs import make_document

SPEC = {"query_statement": "SELECT 1", "schedule": {"cron": "0 8 * * *"}}


def test_code_spec_appearing_and_disappearing_is_listed_and_logged(live: LiveServer):
    name = "shop.override.live"
    assert live.call("POST", "/api/v1/workflows", json={"spec": {"name": name, **SPEC}}).status_code == 201
    live.process.wait_for_log(  # a check has seen the manual workflow alone
        lambda entry: (
            entry.get("event") == "override_transition"
            and entry.get("dataset_name") == name
            and entry.get("transition") == TransitionKind.APPEARED.value
        )
    )

    live.publish_code(name, cron="0 9 * * *")  # behind the server's back, as CI does
    live.wait_until(lambda: (name, "manual", "overridden") in live.listed(dataset_filter=name))
    assert live.listed(dataset_filter=name) == [(name, "code", "active"), (name, "manual", "overridden")]
    overridden = live.process.wait_for_log(
        lambda entry: (
            entry.get("event") == "override_transition"
            and entry.get("dataset_name") == name
            and entry.get("transition") == TransitionKind.OVERRIDDEN.value
        )
    )
    assert (overridden["active_before"], overridden["active_after"], overridden["level"]) == ("manual", "code", "info")

    live.store.delete(SourceType.CODE, name)
    live.wait_until(lambda: live.listed(dataset_filter=name) == [(name, "manual", "active")])
    back = live.process.wait_for_log(
        lambda entry: (
            entry.get("event") == "override_transition"
            and entry.get("dataset_name") == name
            and entry.get("transition") == TransitionKind.FALLBACK.value
        )
    )
    assert (back["active_before"], back["active_after"]) == ("code", "manual")
    assert live.call("GET", f"/api/v1/workflows/{name}").json()["cron"] == "0 8 * * *"
    live.call("DELETE", f"/api/v1/workflows/{name}")


def test_a_republished_code_spec_is_seen_with_its_new_content(live: LiveServer):
    name = "shop.override.changed"
    live.publish_code(name, cron="0 1 * * *")
    live.wait_until(lambda: (name, "code", "active") in live.listed(dataset_filter=name))
    versioned = live.store.read(SourceType.CODE, name)
    updated = make_document(name, source=SourceType.CODE, registered_by="ci", cron="0 2 * * *")
    live.store.replace(SourceType.CODE, updated, etag=versioned.etag)
    live.wait_until(lambda: live.call("GET", f"/api/v1/workflows/{name}").json()["cron"] == "0 2 * * *")
    live.store.delete(SourceType.CODE, name)
    live.wait_until(lambda: live.listed(dataset_filter=name) == [])


# -- the index, in process -----------------------------------------------------------------------


class CountingStore(InMemorySpecStore):
    """Counts reads, to show what a check and a listing cost."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.listings = 0

    def read(self, source, name):
        self.reads += 1
        return super().read(source, name)

    def list_etags(self, source):
        self.listings += 1
        return super().list_etags(source)


def _fill(store: SpecStore, count: int) -> None:
    for i in range(count):
        store.create(SourceType.MANUAL, make_document(f"shop.bulk.t{i:03d}"))


def _change_three(inner: SpecStore) -> None:
    versioned = inner.read(SourceType.MANUAL, "shop.bulk.t007")
    inner.replace(SourceType.MANUAL, make_document("shop.bulk.t007", cron="0 3 * * *"), etag=versioned.etag)
    inner.delete(SourceType.MANUAL, "shop.bulk.t008")
    inner.create(SourceType.CODE, make_document("shop.bulk.t009", source=SourceType.CODE))


def _assert_three_changed(index: IndexedSpecStore, report) -> None:
    assert [(t.name, t.kind) for t in report.transitions] == [
        ("shop.bulk.t008", TransitionKind.REMOVED),
        ("shop.bulk.t009", TransitionKind.OVERRIDDEN),
    ]
    assert index.read(SourceType.MANUAL, "shop.bulk.t007").document.schedule.cron == "0 3 * * *"
    assert [(e.name, e.source_type.value) for e in index.catalog().entries_of("shop.bulk.t009")] == [
        ("shop.bulk.t009", "code"),
        ("shop.bulk.t009", "manual"),
    ]
    assert index.catalog().entries_of("shop.bulk.t008") == ()


def test_a_full_check_rereads_only_the_specs_that_changed():
    inner = CountingStore()
    _fill(inner, 200)
    index = IndexedSpecStore(inner)
    assert index.check().reread == 200
    inner.reads = 0
    assert index.check(full=True).reread == 0 and inner.reads == 0
    _change_three(inner)
    inner.reads = 0
    report = index.check(full=True)
    assert (report.full, report.reread, report.removed, inner.reads) == (True, 2, 1, 2)
    _assert_three_changed(index, report)


def test_a_check_over_a_change_feed_reads_the_changed_keys_and_lists_nothing():
    inner = CountingStore()
    _fill(inner, 200)
    index = IndexedSpecStore(inner)
    index.check()  # the first check lists the store
    inner.reads = inner.listings = 0
    report = index.check()
    assert (report.full, report.reread, inner.reads, inner.listings) == (False, 0, 0, 0)
    _change_three(inner)
    inner.reads = 0
    report = index.check()
    assert (report.full, report.reread, report.removed, inner.reads, inner.listings) == (False, 3, 1, 3, 0)
    _assert_three_changed(index, report)
    inner.reads = 0
    assert index.check().reread == 0 and inner.reads == 0  # changes already seen are not read again


class LosingStore(CountingStore):
    """A store whose change records of some names are lost (a writer died between its two puts)."""

    lost: frozenset[str] = frozenset({"shop.bulk.lost"})

    def recent_changes(self, *, seconds):
        return [c for c in super().recent_changes(seconds=seconds) if c.name not in self.lost]


def test_a_write_whose_record_was_lost_is_seen_by_the_next_full_listing():
    inner, now = LosingStore(), [0.0]
    index = IndexedSpecStore(inner, full_check_interval_seconds=300, monotonic=lambda: now[0])
    index.check()
    inner.create(SourceType.MANUAL, make_document("shop.bulk.lost"))
    now[0] += 30
    assert index.check().full is False
    assert "shop.bulk.lost" not in index.list_etags(SourceType.MANUAL)
    now[0] += 300
    report = index.check()
    assert (report.full, report.reread) == (True, 1)
    assert "shop.bulk.lost" in index.list_etags(SourceType.MANUAL)


class FlakyFeedStore(CountingStore):
    failures = 0

    def recent_changes(self, *, seconds):
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("Spec store memory:// did not answer in 10 s")
        return super().recent_changes(seconds=seconds)


def test_a_change_is_not_lost_when_a_check_fails_before_reading_it():
    inner, now = FlakyFeedStore(), [0.0]
    index = IndexedSpecStore(inner, monotonic=lambda: now[0], clock_skew_seconds=0)
    index.check()
    inner.create(SourceType.MANUAL, make_document("shop.bulk.late"))
    inner.failures = 1
    now[0] += 30
    with pytest.raises(StoreUnavailableError):
        index.check()
    now[0] += 30  # the next window reaches back to the last check that succeeded
    report = index.check()
    assert (report.full, report.reread) == (False, 1)
    assert "shop.bulk.late" in index.list_etags(SourceType.MANUAL)


def test_listing_reads_no_spec_once_indexed():
    inner = CountingStore()
    _fill(inner, 50)
    index = IndexedSpecStore(inner)
    index.check()
    clock = FakeClock()
    bus = MessageBus(store=index, orchestrator=InMemoryOrchestrator(clock=clock), clock=clock)
    inner.reads = inner.listings = 0
    listed = bus.handle(ListWorkflows(limit=1000))
    assert listed.total_count == 50
    assert (inner.reads, inner.listings) == (0, 0)


@pytest.mark.parametrize("full", [True, False], ids=["listing", "change-feed"])
def test_writes_through_the_index_are_visible_at_once_and_survive_a_concurrent_check(full):
    inner = CountingStore()
    index = IndexedSpecStore(inner)
    index.check()
    listing_started, release = threading.Event(), threading.Event()
    original_list, original_feed = inner.list_etags, inner.recent_changes

    def slow_list(source):
        result = original_list(source)
        if source is SourceType.MANUAL:
            listing_started.set()
            release.wait(5)
        return result

    def slow_feed(*, seconds):
        result = original_feed(seconds=seconds)
        listing_started.set()
        release.wait(5)
        return result

    if full:
        inner.list_etags = slow_list  # type: ignore[method-assign]
    else:
        inner.recent_changes = slow_feed  # type: ignore[method-assign]
    checker = threading.Thread(target=lambda: index.check(full=full))
    checker.start()
    assert listing_started.wait(5)
    index.create(SourceType.MANUAL, make_document("shop.race.new"))  # after the check listed
    release.set()
    checker.join(5)
    assert "shop.race.new" in index.list_etags(SourceType.MANUAL)
    index.delete(SourceType.MANUAL, "shop.race.new")
    assert "shop.race.new" not in index.list_etags(SourceType.MANUAL)


def test_the_first_check_logs_a_summary_not_a_transition_per_spec():
    inner = InMemorySpecStore()
    _fill(inner, 3)
    with capture_logs() as logs:
        IndexedSpecStore(inner).check()
    assert [line["event"] for line in logs if line["log_level"] != "debug"] == ["spec_index_loaded"]
    assert logs[0]["workflows"] == 3


def test_an_unreadable_spec_is_kept_aside_named_and_logged_once(tmp_path):
    inner = FilesystemSpecStore.from_url((tmp_path / "store").as_uri())
    _fill(inner, 2)
    (tmp_path / "store" / "code").mkdir(parents=True, exist_ok=True)
    (tmp_path / "store" / "code" / "shop.bulk.broken.yaml").write_bytes(b"name: [unclosed")  # a bad CI upload
    index = IndexedSpecStore(inner)
    with capture_logs() as logs:
        index.check()
        index.check()
    assert [line["event"] for line in logs].count("spec_unreadable") == 1
    assert set(index.list_etags(SourceType.MANUAL)) == {"shop.bulk.t000", "shop.bulk.t001"}
    assert set(index.list_etags(SourceType.CODE)) == {"shop.bulk.broken"}  # it is in the store
    assert [(b.key, b.code) for b in index.catalog().broken] == [("code/shop.bulk.broken.yaml", "DLI-203")]
    assert [e.name for e in index.catalog().entries] == ["shop.bulk.t000", "shop.bulk.t001"]
    with pytest.raises(SpecInvalidError, match="shop.bulk.broken"):
        index.read(SourceType.CODE, "shop.bulk.broken")

    inner.delete(SourceType.CODE, "shop.bulk.broken")  # CI publishes the fixed spec
    inner.create(SourceType.CODE, make_document("shop.bulk.broken", source=SourceType.CODE))
    index.check()
    assert index.catalog().broken == () and index.broken() == ()
    assert index.read(SourceType.CODE, "shop.bulk.broken").document.name == "shop.bulk.broken"


def test_a_spec_named_differently_from_its_key_is_broken_not_listed_under_two_names(tmp_path):
    inner = FilesystemSpecStore.from_url((tmp_path / "store").as_uri())
    _fill(inner, 1)
    text = (tmp_path / "store" / "manual" / "shop.bulk.t000.yaml").read_text()
    (tmp_path / "store" / "manual" / "shop.bulk.copy.yaml").write_text(text)  # copied by hand, name: unchanged
    index = IndexedSpecStore(inner)
    index.check()
    assert [e.name for e in index.catalog().entries] == ["shop.bulk.t000"]
    [broken] = index.broken()
    assert broken.key == "manual/shop.bulk.copy.yaml"
    assert "named 'shop.bulk.t000', not 'shop.bulk.copy'" in broken.reason
    with pytest.raises(SpecInvalidError, match="not 'shop.bulk.copy'"):
        index.read(SourceType.MANUAL, "shop.bulk.copy")
