"""Fixtures of the server tests: a real ``basecamp serve`` per module, and an in-process app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from litestar.testing import TestClient

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from dli.entrypoints.bootstrap import build_server
from dli.entrypoints.server.app import create_app
from tests.support.basecamp import BasecampProcess, running_basecamp
from tests.support.specs import make_spec

CHECK_INTERVAL = 0.2


@attrs.define
class LiveServer:
    """A real server over a file store the test can also write to (as CI would)."""

    process: BasecampProcess
    store_dir: Path
    store: FilesystemSpecStore

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.process.token}"}

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=10.0, **kwargs)

    def stored_files(self) -> list[str]:
        """Every spec file in the store (relative paths)."""
        return sorted(str(p.relative_to(self.store_dir)) for p in self.store_dir.rglob("*.yaml"))

    def publish_code(self, name: str, **fields: Any) -> None:
        spec = make_spec(name, **fields)
        self.store.create(SourceType.CODE, SpecDocument(spec=spec, source_type=SourceType.CODE, registered_by="ci"))

    def wait_until(self, done: Callable[[], bool], timeout: float = 50 * CHECK_INTERVAL) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached")
            time.sleep(CHECK_INTERVAL / 4)

    def listed(self, **params: Any) -> list[tuple[str, str, str]]:
        body = self.call("GET", "/api/v1/workflows", params=params).json()
        return [(w["dataset_name"], w["source_type"], w["status"]) for w in body["workflows"]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("basecamp")
    store_dir = root / "store"
    store_dir.mkdir()
    for process in running_basecamp(root / "server", store_url=store_dir.as_uri(), check_interval=CHECK_INTERVAL):
        yield LiveServer(process=process, store_dir=store_dir, store=FilesystemSpecStore(store_dir))


@attrs.define
class InProcess:
    """The app in process (Litestar's test client), for conditions a real process cannot be put in."""

    client: TestClient[Any]
    token: str
    store: Any
    orchestrator: Any

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)


@pytest.fixture
def in_process(tmp_path: Path) -> Callable[..., Any]:
    """Factory: an in-process app over the given store and orchestrator (in-memory by default)."""
    clients: list[TestClient[Any]] = []

    def build(store: Any = None, orchestrator: Any = None) -> InProcess:
        settings = build_server(
            store=store if store is not None else InMemorySpecStore(),
            orchestrator=orchestrator,
            tokens_file=tmp_path / f"tokens{len(clients)}.json",
            check_interval_seconds=3600,
        )
        token = settings.tokens.add("alice")
        client = TestClient(create_app(settings), raise_server_exceptions=False)  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return InProcess(client=client, token=token, store=settings.store, orchestrator=settings.orchestrator)

    yield build  # type: ignore[misc]
    for client in clients:
        client.__exit__(None, None, None)
