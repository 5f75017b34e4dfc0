"""Reading the store for the DAG factory: override resolution, broken documents, the S3 ETag cache."""

from __future__ import annotations

import datetime as dt

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.s3 import S3SpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.entrypoints.airflow.spec_source import load_specs
from tests.support.s3_servers import run_moto

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _doc(name: str, source: SourceType, sql: str = "SELECT 1") -> SpecDocument:
    spec = DatasetSpec(name=name, query_statement=sql, schedule=ScheduleConfig(cron="0 9 * * *"))
    return SpecDocument(spec=spec, source_type=source, registered_at=NOW)


def test_file_store_code_overrides_manual_and_each_name_appears_once(tmp_path) -> None:
    store = FilesystemSpecStore(tmp_path)
    store.create(SourceType.MANUAL, _doc("a.both", SourceType.MANUAL, "SELECT 'manual'"))
    store.create(SourceType.CODE, _doc("a.both", SourceType.CODE, "SELECT 'code'"))
    store.create(SourceType.MANUAL, _doc("a.manual", SourceType.MANUAL))
    loaded = {s.name: s for s in load_specs(tmp_path.as_uri())}
    assert set(loaded) == {"a.both", "a.manual"}
    assert loaded["a.both"].source is SourceType.CODE
    assert loaded["a.both"].document.spec.query_statement == "SELECT 'code'"


def test_a_broken_document_is_reported_for_its_name_only(tmp_path) -> None:
    store = FilesystemSpecStore(tmp_path)
    store.create(SourceType.MANUAL, _doc("a.good", SourceType.MANUAL))
    (tmp_path / "manual" / "a.bad.yaml").write_text("name: a.bad\nquery_statement: [oops\n")
    (tmp_path / "manual" / "a.other.yaml").write_text(store_text := "name: a.renamed\nquery_statement: x\n")
    loaded = {s.name: s for s in load_specs(tmp_path.as_uri())}
    assert loaded["a.good"].document is not None and loaded["a.good"].error is None
    assert loaded["a.bad"].document is None and "invalid YAML" in loaded["a.bad"].error
    assert loaded["a.other"].error and store_text


def test_only_reads_the_one_dataset_a_worker_runs(tmp_path) -> None:
    store = FilesystemSpecStore(tmp_path)
    for name in ("a.one", "a.two"):
        store.create(SourceType.MANUAL, _doc(name, SourceType.MANUAL))
    assert [s.name for s in load_specs(tmp_path.as_uri(), only="a.two")] == ["a.two"]
    assert load_specs(tmp_path.as_uri(), only="a.none") == []


def test_s3_documents_are_downloaded_once_per_etag(tmp_path, monkeypatch) -> None:
    with run_moto() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        bucket = server.new_bucket("src")
        url = f"s3://{bucket}/p"
        store = S3SpecStore.from_url(url, endpoint_url=server.endpoint_url)
        store.create(SourceType.MANUAL, _doc("a.one", SourceType.MANUAL, "SELECT 1"))
        cache = tmp_path / "cache"
        first = load_specs(url, cache_dir=cache)
        assert [s.document.spec.query_statement for s in first] == ["SELECT 1"]
        files = list(cache.rglob("*.yaml"))
        assert len(files) == 1
        reads = []
        original = S3SpecStore.read
        monkeypatch.setattr(S3SpecStore, "read", lambda self, *a: reads.append(a) or original(self, *a))
        load_specs(url, cache_dir=cache)
        assert reads == []  # unchanged ETag: served from the cache
        current = store.read(SourceType.MANUAL, "a.one")
        store.replace(SourceType.MANUAL, _doc("a.one", SourceType.MANUAL, "SELECT 2"), etag=current.etag)
        again = load_specs(url, cache_dir=cache)
        assert [s.document.spec.query_statement for s in again] == ["SELECT 2"]
        assert len(list(cache.rglob("*.yaml"))) == 1  # the stale copy is gone


def test_unknown_store_scheme_is_a_configuration_error() -> None:
    from dli.domain.model.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        load_specs("ftp://nowhere")


def test_an_unreachable_s3_serves_the_cached_copies_instead_of_dropping_every_dag(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    with run_moto() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        bucket = server.new_bucket("src")
        url = f"s3://{bucket}/p"
        S3SpecStore.from_url(url, endpoint_url=server.endpoint_url).create(
            SourceType.MANUAL, _doc("a.one", SourceType.MANUAL)
        )
        assert [s.name for s in load_specs(url, cache_dir=cache)] == ["a.one"]
    # moto is gone now: the listing fails, the cache answers.
    assert [s.name for s in load_specs(url, cache_dir=cache)] == ["a.one"]
    from dli.domain.model.errors import StoreUnavailableError

    with pytest.raises(StoreUnavailableError):
        load_specs(url, cache_dir=tmp_path / "empty-cache")
