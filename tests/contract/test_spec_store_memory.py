import pytest

from dli.adapters.stores.memory import InMemorySpecStore
from dli.testing.change_feed import ChangeFeedContract
from dli.testing.spec_store import SpecStoreContract


class TestInMemorySpecStore(SpecStoreContract):
    @pytest.fixture
    def store(self):
        return InMemorySpecStore()


class TestInMemoryChangeFeed(ChangeFeedContract):
    @pytest.fixture
    def store(self):
        return InMemorySpecStore()
