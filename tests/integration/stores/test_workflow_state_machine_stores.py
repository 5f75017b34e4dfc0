"""The workflow state machine of the core, run over the real stores: filesystem and S3 (moto).

Every step's invariants read the store back, so any store that loses, duplicates or misroutes a
document between code/ and manual/ fails here with a minimal sequence of operations.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.s3 import S3SpecStore
from tests.support.s3_servers import S3Server, run_moto
from tests.support.state_machine import workflow_machine

_module: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _servers_for_this_module():
    # hypothesis TestCases cannot take fixtures: the factories find the server (and a scratch
    # directory for filesystem stores) here.
    with run_moto() as server, pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as scratch:
        for key, value in server.env().items():
            patch.setenv(key, value)
        _module.update(server=server, scratch=Path(scratch))
        yield
        _module.clear()


def _fs_store() -> FilesystemSpecStore:
    return FilesystemSpecStore(Path(tempfile.mkdtemp(prefix="store-", dir=_module["scratch"])))


def _s3_store() -> S3SpecStore:
    server = _module["server"]
    assert isinstance(server, S3Server)
    return S3SpecStore.from_url(f"s3://{server.new_bucket('sm')}/specs")


FilesystemMachine = workflow_machine(_fs_store)
FilesystemMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
TestWorkflowStateMachineFilesystem = FilesystemMachine.TestCase

S3Machine = workflow_machine(_s3_store)
S3Machine.TestCase.settings = settings(max_examples=10, stateful_step_count=15, deadline=None)
TestWorkflowStateMachineS3Moto = S3Machine.TestCase
