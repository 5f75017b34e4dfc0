"""The DAG bundle's disk-cached store over a store with a change feed: a listing after the first
costs the recorded changes, not the store; a full listing comes back every interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from dli.adapters.stores.cached import DiskCachedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.testing.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE


class _Store(InMemorySpecStore):
    """Counts what reaches the store; some writes can be made without a record (around dli)."""

    def __init__(self, clock) -> None:
        super().__init__(clock=clock)
        self.reads: list[str] = []
        self.listings = 0
        self.quiet = False
        self.unreadable: set[str] = set()

    def read(self, source, name):
        self.reads.append(name)
        if name in self.unreadable:
            raise SpecInvalidError(f"{name}: invalid YAML")
        return super().read(source, name)

    def list_etags(self, source):
        self.listings += 1
        return super().list_etags(source)

    def _record(self, source, name, version):
        if not self.quiet:
            super()._record(source, name, version)


@pytest.fixture
def world(tmp_path: Path):
    now = [1_000.0]
    inner = _Store(clock=lambda: now[0])
    for i in range(5):
        inner.create(MANUAL, make_document(f"shop.t{i}"))
    cached = DiskCachedSpecStore(inner, cache_dir=tmp_path / "cache", monotonic=lambda: now[0])
    assert list(cached.list_etags(MANUAL)) == [f"shop.t{i}" for i in range(5)]
    assert inner.listings == 2  # both sources, once
    for i in range(5):  # as the bundle's first sync does: every version on disk
        cached.read(MANUAL, f"shop.t{i}")
    inner.reads.clear()
    inner.listings = 0
    return inner, cached, now, tmp_path / "cache"


def test_a_listing_after_the_first_downloads_the_recorded_changes_and_lists_nothing(world):
    inner, cached, now, cache = world
    etag = inner.read(MANUAL, "shop.t1").etag
    inner.replace(MANUAL, make_document("shop.t1", cron="0 1 * * *"), etag=etag)
    inner.delete(MANUAL, "shop.t2")
    inner.create(CODE, make_document("shop.t3", source=CODE))
    inner.reads.clear()
    now[0] += 30
    assert cached.list_etags(MANUAL) == inner.list_etags(MANUAL)
    assert cached.list_etags(CODE) == inner.list_etags(CODE)
    inner.listings -= 2  # the two comparisons above
    assert (sorted(inner.reads), inner.listings) == (["shop.t1", "shop.t2", "shop.t3"], 0)
    # The new version is on disk, the old one and the deleted spec's are gone.
    assert sorted(p.name.split(".")[1] for p in (cache / "manual").iterdir()) == ["t0", "t1", "t3", "t4"]
    inner.reads.clear()
    assert cached.read(MANUAL, "shop.t1").document.schedule.cron == "0 1 * * *"
    assert inner.reads == []


def test_a_write_made_around_dli_is_listed_when_the_full_listing_is_due(world):
    inner, cached, now, _ = world
    inner.quiet = True
    inner.create(MANUAL, make_document("shop.by.hand"))
    now[0] += 30
    assert "shop.by.hand" not in cached.list_etags(MANUAL)
    now[0] += 300
    assert "shop.by.hand" in cached.list_etags(MANUAL)
    assert inner.listings == 2


def test_a_recorded_document_that_cannot_be_read_makes_the_store_listed(world):
    inner, cached, now, _ = world
    inner.create(MANUAL, make_document("shop.bad"))
    inner.unreadable.add("shop.bad")
    now[0] += 30
    assert "shop.bad" in cached.list_etags(MANUAL)  # listed with its version: its DAG shows the error
    assert inner.listings == 2
