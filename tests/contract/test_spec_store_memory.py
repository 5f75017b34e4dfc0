import pytest

from dli.adapters.stores.memory import InMemorySpecStore
from tests.contract.spec_store_contract import SpecStoreContract


class TestInMemorySpecStore(SpecStoreContract):
    @pytest.fixture
    def store(self):
        return InMemorySpecStore()
