"""The control-plane contract in SERVER mode: the Basecamp HTTP client talking to a real
``basecamp serve`` process on a loopback port, over a file store and the in-memory orchestrator.

Code specs are written into the same file store from the test process, behind the server's back,
as CI would; the backend then waits for the server's periodic override check to see them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from dli import ExecutionContext, ExecutionMode
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.entrypoints.api import WorkflowAPI
from tests.contract.control_plane_contract import ControlPlaneContract
from tests.support.basecamp import BasecampProcess, running_basecamp

CHECK_INTERVAL = 0.2


@attrs.define
class ServerBackend:
    api: WorkflowAPI
    project: Path
    store: FilesystemSpecStore
    server: BasecampProcess
    generates_missing_specs: bool = False

    def publish_code(self, spec: DatasetSpec) -> None:
        self.store.create(SourceType.CODE, SpecDocument(spec=spec, source_type=SourceType.CODE, registered_by="ci"))
        self._wait(lambda: self._code_listed(spec.name))

    def remove_code(self, name: str) -> None:
        self.store.delete(SourceType.CODE, name)
        self._wait(lambda: not self._code_listed(name))

    def _code_listed(self, name: str) -> bool:
        listed = self.api.list_workflows(source_type=SourceType.CODE, dataset_filter=name).workflows
        return any(w.dataset_name == name for w in listed)

    def _wait(self, done: Callable[[], bool], timeout: float = 50 * CHECK_INTERVAL) -> None:
        # The server sees changes made behind its back at its next override check.
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the server did not pick up the store change")
            time.sleep(CHECK_INTERVAL / 4)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class TestControlPlaneOverHttp(ControlPlaneContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[ServerBackend]:
        store_dir = tmp_path / "store"
        store_dir.mkdir()
        project = tmp_path / "project"
        project.mkdir()
        for server in running_basecamp(
            tmp_path / "server", store_url=store_dir.as_uri(), check_interval=CHECK_INTERVAL
        ):
            api = WorkflowAPI(
                ExecutionContext(
                    execution_mode=ExecutionMode.SERVER,
                    server_url=server.url,
                    api_token=server.token,
                    project_path=project,
                    timeout_seconds=10.0,
                )
            )
            yield ServerBackend(api=api, project=project, store=FilesystemSpecStore(store_dir), server=server)
            api.close()
