"""The DAG bundle's files: one shard file per non-empty shard, rewritten only when its specs change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dli.adapters.airflow.runs import shard_file, shard_of, shard_of_file
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import StoreUnavailableError
from dli.entrypoints.airflow.shards import INDEX_FILE, read_index, sync_bundle
from dli.testing.specs import make_document

SHARDS = 8


def _names_in_distinct_shards(count: int, shards: int = SHARDS) -> list[str]:
    names, seen = [], set()
    for i in range(1000):
        name = f"shop.ds_{i}"
        if shard_of(name, shards) not in seen:
            seen.add(shard_of(name, shards))
            names.append(name)
        if len(names) == count:
            return names
    raise AssertionError("not enough shards")


def _sync(folder: Path, store, shards: int = SHARDS):
    return sync_bundle(folder, store, store_url="memory://test", shards=shards)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("dli_shard_*.py")}


def _age(folder: Path) -> None:
    """Set every file back a minute, so that a rewrite shows in the mtime whatever the clock's resolution."""
    for path in folder.iterdir():
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns - 60 * 10**9, stat.st_mtime_ns - 60 * 10**9))


def test_shard_of_agrees_across_processes_whatever_the_hash_seed() -> None:
    names = [f"shop.ds_{i}" for i in range(50)]
    probe = "import sys; from dli.adapters.airflow.runs import shard_of; print([shard_of(n, 64) for n in sys.argv[1:]])"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe, *names],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"{[shard_of(n, 64) for n in names]}\n"}
    assert len({shard_of(n, 64) for n in names}) > 20  # spread, not piled into a few files


def test_shard_file_names_round_trip_and_other_files_are_not_shards() -> None:
    assert shard_of_file("dags/" + shard_file(7, 64)) == (7, 64)
    assert shard_of_file("dli_dags.py") is None
    assert shard_of_file("dli_shard_7_of_64.py") is None


def test_each_dataset_lands_in_the_file_of_its_shard(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    names = _names_in_distinct_shards(3)
    for name in names:
        store.create(SourceType.MANUAL, make_document(name))
    report = _sync(tmp_path, store)
    assert sorted(report.written) == sorted(shard_file(shard_of(n, SHARDS), SHARDS) for n in names)
    assert sorted(_mtimes(tmp_path)) == sorted(report.written)
    index = read_index(tmp_path)
    assert index is not None and set(index.specs) == set(names)
    for name in names:
        assert set(index.members(shard_of(name, SHARDS))) == {name}
    text = (tmp_path / shard_file(shard_of(names[0], SHARDS), SHARDS)).read_text()
    assert "load_shard(globals(), __file__, store_url='memory://test', specs={" in text
    assert repr(names[0]) in text
    assert "airflow" in text and "dag" in text  # Airflow's safe mode skips files without both words


def test_a_sync_without_changes_touches_no_file(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    for name in _names_in_distinct_shards(3):
        store.create(SourceType.MANUAL, make_document(name))
    _sync(tmp_path, store)
    _age(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    report = _sync(tmp_path, store)
    assert report.written == () and report.removed == ()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_a_changed_spec_rewrites_only_the_file_of_its_shard(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    first, *others = _names_in_distinct_shards(3)
    for name in (first, *others):
        store.create(SourceType.MANUAL, make_document(name))
    _sync(tmp_path, store)
    _age(tmp_path)
    before = _mtimes(tmp_path)
    etag = store.read(SourceType.MANUAL, first).etag
    store.replace(SourceType.MANUAL, make_document(first, cron="0 7 * * *"), etag=etag)
    report = _sync(tmp_path, store)
    changed = shard_file(shard_of(first, SHARDS), SHARDS)
    assert report.written == (changed,)
    after = _mtimes(tmp_path)
    assert {f for f in after if after[f] != before[f]} == {changed}


def test_a_new_dataset_in_a_shard_with_others_rewrites_that_shard_only(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    base = _names_in_distinct_shards(2)
    for name in base:
        store.create(SourceType.MANUAL, make_document(name))
    _sync(tmp_path, store)
    sibling = next(
        f"shop.new_{i}" for i in range(1000) if shard_of(f"shop.new_{i}", SHARDS) == shard_of(base[0], SHARDS)
    )
    store.create(SourceType.MANUAL, make_document(sibling))
    report = _sync(tmp_path, store)
    assert report.written == (shard_file(shard_of(base[0], SHARDS), SHARDS),)
    assert set(read_index(tmp_path).members(shard_of(base[0], SHARDS))) == {base[0], sibling}


def test_a_shard_left_empty_loses_its_file_so_airflow_retires_its_dags(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    gone, kept = _names_in_distinct_shards(2)
    for name in (gone, kept):
        store.create(SourceType.MANUAL, make_document(name))
    _sync(tmp_path, store)
    store.delete(SourceType.MANUAL, gone)
    report = _sync(tmp_path, store)
    assert report.removed == (shard_file(shard_of(gone, SHARDS), SHARDS),)
    assert set(_mtimes(tmp_path)) == {shard_file(shard_of(kept, SHARDS), SHARDS)}


def test_registering_an_upstream_rewrites_the_shard_of_a_dataset_scheduled_after_it(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    upstream, downstream, bystander = _names_in_distinct_shards(3)
    store.create(SourceType.MANUAL, make_document(downstream, after="upstream", depends_on=(upstream,)))
    store.create(SourceType.MANUAL, make_document(bystander, depends_on=(upstream,)))  # cron only: not affected
    _sync(tmp_path, store)
    assert read_index(tmp_path).specs[downstream].upstreams == (upstream,)
    store.create(SourceType.MANUAL, make_document(upstream))
    report = _sync(tmp_path, store)
    assert sorted(report.written) == sorted(shard_file(shard_of(n, SHARDS), SHARDS) for n in (upstream, downstream))


def test_the_index_holds_the_code_spec_when_both_exist(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document("shop.both"))
    store.create(SourceType.CODE, make_document("shop.both", source=SourceType.CODE, cron="0 1 * * *"))
    _sync(tmp_path, store)
    entry = read_index(tmp_path).specs["shop.both"]
    assert entry.source is SourceType.CODE
    assert entry.etag == store.read(SourceType.CODE, "shop.both").etag


def test_a_broken_document_is_indexed_for_its_own_broken_dag_and_the_others_sync(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store = FilesystemSpecStore(store_dir)
    store.create(SourceType.MANUAL, make_document("shop.good"))
    (store_dir / "manual" / "shop.bad.yaml").write_text("name: shop.bad\nschedule: {cron: 'not a cron'}\n")
    report = sync_bundle(tmp_path / "dags", store, store_url=store_dir.as_uri(), shards=SHARDS)
    assert report.datasets == 2
    assert set(read_index(tmp_path / "dags").specs) == {"shop.good", "shop.bad"}


def test_changing_the_shard_count_moves_every_dataset_to_the_new_files(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    for name in _names_in_distinct_shards(3):
        store.create(SourceType.MANUAL, make_document(name))
    _sync(tmp_path, store, shards=SHARDS)
    _sync(tmp_path, store, shards=4)
    assert {shard_of_file(f)[1] for f in _mtimes(tmp_path)} == {4}
    assert json.loads((tmp_path / INDEX_FILE).read_text())["shards"] == 4


def test_a_store_that_cannot_be_listed_leaves_the_bundle_as_it_was(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document("shop.kept"))
    _sync(tmp_path, store)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    class Down(InMemorySpecStore):
        def list_etags(self, source: SourceType):
            raise StoreUnavailableError("S3 at http://s3 did not answer")

    with pytest.raises(StoreUnavailableError):
        _sync(tmp_path, Down())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_shard_count_must_be_between_1_and_999(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 1 and 999"):
        _sync(tmp_path, InMemorySpecStore(), shards=0)


class _CountingStore(InMemorySpecStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def read(self, source: SourceType, name: str):
        self.reads.append(name)
        return super().read(source, name)


def test_through_the_disk_cache_a_changed_spec_is_the_only_one_downloaded(tmp_path: Path) -> None:
    from dli.adapters.stores.cached import DiskCachedSpecStore

    inner = _CountingStore()
    names = [f"shop.ds_{i}" for i in range(20)]
    for name in names:
        inner.create(SourceType.MANUAL, make_document(name))
    sync_bundle(
        tmp_path / "dags", DiskCachedSpecStore(inner, cache_dir=tmp_path / "cache"), store_url="s3://b/p", shards=SHARDS
    )
    assert sorted(inner.reads) == sorted(names)  # the first sync fills the cache
    inner.reads.clear()
    etag = inner.read(SourceType.MANUAL, "shop.ds_3").etag
    inner.replace(SourceType.MANUAL, make_document("shop.ds_3", cron="0 1 * * *"), etag=etag)
    inner.reads.clear()
    sync_bundle(
        tmp_path / "dags", DiskCachedSpecStore(inner, cache_dir=tmp_path / "cache"), store_url="s3://b/p", shards=SHARDS
    )
    assert inner.reads == ["shop.ds_3"]
    # A shard's parse reads its versions from the cache, with the index's listing: nothing downloaded.
    index = read_index(tmp_path / "dags")
    inner.reads.clear()
    listed = {SourceType.MANUAL: {name: entry.etag for name, entry in index.specs.items()}}
    cached = DiskCachedSpecStore(inner, cache_dir=tmp_path / "cache", listed=listed)
    assert all(cached.read(SourceType.MANUAL, name) is not None for name in names)
    assert inner.reads == []


def test_with_the_last_index_an_unchanged_listing_writes_nothing_and_a_lost_file_comes_back(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    names = _names_in_distinct_shards(3)
    for name in names:
        store.create(SourceType.MANUAL, make_document(name))
    first = _sync(tmp_path, store)
    _age(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = sync_bundle(tmp_path, store, store_url="memory://test", shards=SHARDS, last=first.index)
    assert again.written == () and again.index == first.index
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    lost = shard_file(shard_of(names[1], SHARDS), SHARDS)
    (tmp_path / lost).unlink()
    restored = sync_bundle(tmp_path, store, store_url="memory://test", shards=SHARDS, last=again.index)
    assert restored.written == (lost,)
