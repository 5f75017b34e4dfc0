"""The filesystem store beyond its contract: what a listing costs."""

from __future__ import annotations

from pathlib import Path

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.testing.specs import make_document


def test_a_filesystem_listing_reads_only_the_files_that_changed_since_the_last(tmp_path: Path, monkeypatch) -> None:
    store = FilesystemSpecStore(tmp_path / "store")
    for i in range(5):
        store.create(SourceType.MANUAL, make_document(f"shop.ds_{i}"))
    first = dict(store.list_etags(SourceType.MANUAL))
    reads: list[str] = []
    original = FilesystemSpecStore._read_bytes

    def counting(self, path):
        reads.append(path.name)
        return original(self, path)

    monkeypatch.setattr(FilesystemSpecStore, "_read_bytes", counting)
    assert dict(store.list_etags(SourceType.MANUAL)) == first
    assert reads == []
    store.replace(SourceType.MANUAL, make_document("shop.ds_2", cron="0 1 * * *"), etag=first["shop.ds_2"])
    reads.clear()
    second = dict(store.list_etags(SourceType.MANUAL))
    assert reads == ["shop.ds_2.yaml"]
    assert second["shop.ds_2"] != first["shop.ds_2"] and {k: v for k, v in second.items() if k != "shop.ds_2"} == {
        k: v for k, v in first.items() if k != "shop.ds_2"
    }
