"""Contract suites for dli's ports, shipped so that adapters written elsewhere can prove themselves.

Subclass a suite and give it a fixture returning a fresh adapter::

    import pytest
    from dli.testing.spec_store import SpecStoreContract

    class TestMyStore(SpecStoreContract):
        @pytest.fixture
        def store(self):
            return MyStore(...)  # empty

``dli.testing.orchestrator.OrchestratorContract`` does the same for orchestrators, and
``dli.testing.change_feed.ChangeFeedContract`` for stores that record their writes. The suites need
pytest (the ``dev`` extra); nothing else in dli imports this package.
"""
