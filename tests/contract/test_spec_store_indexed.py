"""The server's indexed store and the DAG factory's disk-cached store hold to the SpecStore contract."""

import pytest

from dli.adapters.stores.cached import DiskCachedSpecStore
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.testing.spec_store import SpecStoreContract


class TestIndexedOverMemory(SpecStoreContract):
    @pytest.fixture
    def store(self):
        index = IndexedSpecStore(InMemorySpecStore())
        index.check()
        return index


class TestIndexedOverFilesystem(SpecStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        index = IndexedSpecStore(FilesystemSpecStore(tmp_path / "store"))
        index.check()
        return index


class TestDiskCachedOverFilesystem(SpecStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return DiskCachedSpecStore(FilesystemSpecStore(tmp_path / "store"), cache_dir=tmp_path / "cache")


class TestDiskCachedOverMemory(SpecStoreContract):
    """Over a store with a change feed: listings after the first follow the feed."""

    @pytest.fixture
    def store(self, tmp_path):
        return DiskCachedSpecStore(InMemorySpecStore(), cache_dir=tmp_path / "cache")
