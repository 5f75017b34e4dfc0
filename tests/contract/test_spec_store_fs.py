"""The SpecStore contract over the filesystem store, plus what only a directory on disk can get wrong."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from dli.adapters.codecs.specs import document_to_bytes
from dli.adapters.stores._shared import etag_of
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import (
    ConfigurationError,
    StoreUnavailableError,
    WorkflowAlreadyExistsError,
    WorkflowRegistrationError,
)
from dli.entrypoints.bootstrap import build_store
from dli.testing.spec_store import SpecStoreContract
from tests.support.specs import make_document

MANUAL, CODE = SourceType.MANUAL, SourceType.CODE
NAME = "shop.sales.daily"


class TestFilesystemSpecStore(SpecStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return FilesystemSpecStore.from_url((tmp_path / "store").as_uri())


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root) -> FilesystemSpecStore:
    return FilesystemSpecStore.from_url(root.as_uri())


def test_documents_live_under_code_and_manual_as_yaml_files(store, root):
    manual = make_document(cron="0 9 * * *")
    store.create(MANUAL, manual)
    store.create(CODE, make_document("shop.code.only", source=CODE))
    assert (root / "manual" / f"{NAME}.yaml").read_bytes() == document_to_bytes(manual)
    assert (root / "code" / "shop.code.only.yaml").is_file()


def test_etag_is_the_md5_of_the_stored_bytes_like_s3(store, root):
    etag = store.create(MANUAL, make_document())
    assert etag == etag_of((root / "manual" / f"{NAME}.yaml").read_bytes())


def test_writes_leave_no_temporary_files_behind(store, root):
    etag = store.create(MANUAL, make_document(cron="0 9 * * *"))
    store.replace(MANUAL, make_document(cron="0 8 * * *"), etag=etag)
    with pytest.raises(WorkflowAlreadyExistsError):
        store.create(MANUAL, make_document(cron="0 7 * * *"))
    with pytest.raises(WorkflowRegistrationError):
        store.replace(MANUAL, make_document(cron="0 6 * * *"), etag=etag)
    assert sorted(p.name for p in (root / "manual").iterdir() if not p.name == ".lock") == [f"{NAME}.yaml"]


def test_listing_ignores_temporary_and_foreign_files(store, root):
    store.create(MANUAL, make_document())
    (root / "manual" / ".tmp-abc.part").write_bytes(b"half a docu")
    (root / "manual" / "README.txt").write_text("not a spec")
    assert list(store.list_etags(MANUAL)) == [NAME]


def test_opening_the_store_removes_its_abandoned_temp_files_and_nothing_else(store, root):
    etag = store.create(MANUAL, make_document())
    store.create(CODE, make_document("shop.code", source=CODE))
    hour_ago = os.stat(root).st_mtime - 3600
    abandoned = [root / "manual" / ".tmp-killed1.part", root / "code" / ".tmp-killed2.part"]
    recent = root / "manual" / ".tmp-in-flight.part"  # a write of another process, still going
    foreign = [root / "manual" / ".tmp-notes.txt", root / "manual" / "old.part"]
    for path in [*abandoned, recent, *foreign]:
        path.write_bytes(b"half a docu")
    for path in [*abandoned, *foreign]:
        os.utime(path, (hour_ago, hour_ago))

    reopened = FilesystemSpecStore(root)

    assert [p.exists() for p in abandoned] == [False, False]
    assert recent.exists() and all(p.exists() for p in foreign)
    assert reopened.read(MANUAL, NAME).etag == etag
    assert sorted(reopened.list_etags(CODE)) == ["shop.code"]
    assert (root / "manual" / ".lock").exists()


def test_the_dag_factorys_store_leaves_temp_files_to_the_writers(store, root):
    from dli.entrypoints.bootstrap import build_factory_store

    store.create(MANUAL, make_document())
    abandoned = root / "manual" / ".tmp-killed.part"
    abandoned.write_bytes(b"half")
    os.utime(abandoned, (0, 0))
    factory = build_factory_store(root.as_uri())  # opened once per DAG file parsed, read-only
    assert abandoned.exists()
    assert factory.read(MANUAL, NAME) is not None


def test_a_document_written_by_hand_is_read_like_a_ci_upload(store, root):
    (root / "code").mkdir(parents=True)
    (root / "code" / f"{NAME}.yaml").write_text(
        f"name: {NAME}\nquery_statement: SELECT 1\nschedule:\n  cron: '0 3 * * *'\n"
    )
    versioned = store.read(CODE, NAME)
    assert versioned.document.schedule.cron == "0 3 * * *"
    assert versioned.document.source_type is CODE


def test_names_that_could_escape_the_directory_are_never_found(store, root):
    (root / "secret.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "secret.yaml").write_text("name: x\n")
    assert store.read(MANUAL, "../secret") is None
    assert store.delete(MANUAL, "../secret") is False
    assert (root / "secret.yaml").exists()


def test_missing_root_reads_as_empty_and_is_created_on_first_write(tmp_path):
    root = tmp_path / "not" / "yet"
    store = FilesystemSpecStore.from_url(root.as_uri())
    assert store.list_etags(MANUAL) == {}
    assert store.read(MANUAL, NAME) is None
    store.create(MANUAL, make_document())
    assert (root / "manual" / f"{NAME}.yaml").is_file()


def test_url_round_trips_through_build_store(root):
    store = build_store(root.as_uri())
    assert isinstance(store, FilesystemSpecStore)
    assert store.url == root.as_uri()
    assert store.root == root


@pytest.mark.parametrize("url", ["file://relative/path", "file:relative", "file:///tmp/x?y=1"])
def test_malformed_file_urls_are_configuration_errors(url):
    with pytest.raises(ConfigurationError) as info:
        FilesystemSpecStore.from_url(url)
    assert info.value.code.value == "DLI-001"


def test_a_root_that_is_a_file_is_a_configuration_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigurationError):
        FilesystemSpecStore.from_url(path.as_uri())


def test_an_unusable_root_is_store_unavailable_naming_the_store(tmp_path):
    root = tmp_path / "store"
    store = FilesystemSpecStore.from_url(root.as_uri())
    root.write_text("now a file")  # the directory became unusable after startup
    with pytest.raises(StoreUnavailableError) as info:
        store.create(MANUAL, make_document())
    assert info.value.code.value == "DLI-503"
    assert root.as_uri() in info.value.message
    with pytest.raises(StoreUnavailableError):
        store.list_etags(MANUAL)


def _create_in_process(args: tuple[str, int, object]) -> str:
    url, index, barrier = args
    store = FilesystemSpecStore.from_url(url)
    barrier.wait()
    try:
        store.create(MANUAL, make_document(registered_by=f"user{index}", cron=f"{index} 9 * * *"))
    except WorkflowAlreadyExistsError:
        return "exists"
    return f"won:{index}"


def _replace_in_process(args: tuple[str, int, str, object]) -> str:
    url, index, etag, barrier = args
    store = FilesystemSpecStore.from_url(url)
    barrier.wait()
    try:
        store.replace(MANUAL, make_document(registered_by=f"user{index}", cron=f"{index} 8 * * *"), etag=etag)
    except WorkflowRegistrationError:
        return "stale"
    return f"won:{index}"


def test_concurrent_creates_from_separate_processes_have_exactly_one_winner(root):
    workers = 8
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(workers)
        with ctx.Pool(workers) as pool:
            outcomes = pool.map(_create_in_process, [(root.as_uri(), i, barrier) for i in range(workers)])
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(winners) == 1 and outcomes.count("exists") == workers - 1
    index = int(winners[0].split(":")[1])
    stored = (root / "manual" / f"{NAME}.yaml").read_bytes()
    assert stored == document_to_bytes(make_document(registered_by=f"user{index}", cron=f"{index} 9 * * *"))


def test_concurrent_replaces_of_one_version_from_separate_processes_have_exactly_one_winner(root, store):
    etag = store.create(MANUAL, make_document())
    workers = 8
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(workers)
        with ctx.Pool(workers) as pool:
            outcomes = pool.map(_replace_in_process, [(root.as_uri(), i, etag, barrier) for i in range(workers)])
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(winners) == 1 and outcomes.count("stale") == workers - 1
    index = int(winners[0].split(":")[1])
    assert store.read(MANUAL, NAME).document.registered_by == f"user{index}"


def test_stored_files_are_readable_by_other_users(store, root):
    # The DAG factory inside Airflow may run as another user and must read the specs.
    store.create(MANUAL, make_document())
    assert os.stat(root / "manual" / f"{NAME}.yaml").st_mode & 0o044 == 0o044
