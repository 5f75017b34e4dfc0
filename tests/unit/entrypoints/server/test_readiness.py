"""Readiness: /health says "starting" (503) until the first index load and warm-up are done."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from dli.entrypoints.bootstrap import build_server
from dli.entrypoints.server.app import create_app, warm_up
from tests.support.specs import make_spec


class _SlowStore(InMemorySpecStore):
    """Lists only once the test lets it: the first index load is under way until then."""

    def __init__(self) -> None:
        super().__init__()
        self.listing = threading.Event()
        self.release = threading.Event()

    def list_etags(self, source: SourceType) -> Any:
        self.listing.set()
        self.release.wait(20)
        return super().list_etags(source)


@pytest.mark.timeout(60)
def test_health_is_starting_until_the_first_index_load_is_done_then_ready(tmp_path: Path) -> None:
    inner = _SlowStore()
    inner.create(SourceType.MANUAL, SpecDocument(spec=make_spec("shop.ready.one"), source_type=SourceType.MANUAL))
    settings = build_server(store=inner, tokens_file=tmp_path / "tokens.json", check_interval_seconds=3600)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert inner.listing.wait(20)
        starting = client.get("/health")
        assert starting.status_code == 503
        assert (starting.json()["status"], starting.json()["ready"]) == ("starting", False)
        inner.release.set()
        for _ in range(400):
            answer = client.get("/health")
            if answer.json()["ready"]:
                break
            threading.Event().wait(0.05)
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["ready"]) == ("ok", True)


def test_warm_up_builds_the_catalog_and_freezes_the_objects_alive_only_when_asked(tmp_path: Path) -> None:
    store = InMemorySpecStore()
    store.create(SourceType.CODE, SpecDocument(spec=make_spec("shop.warm.one"), source_type=SourceType.CODE))
    settings = build_server(store=store, tokens_file=tmp_path / "tokens.json")
    try:
        warm_up(settings)
        assert gc.get_freeze_count() == 0
        assert [e.name for e in settings.store.catalog().entries] == ["shop.warm.one"]
        warm_up(settings, freeze_gc=True)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
