"""The Orchestrator contract against a real Airflow 3 (the e2e stack's), through AirflowOrchestrator."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator

import attrs
import pytest

from dli.adapters.airflow.orchestrator import AirflowOrchestrator
from dli.adapters.clock import SystemClock
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import RunStatus, SourceType
from dli.domain.model.errors import DLIError, ServerError
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.ports.orchestrator import RunQuery
from dli.testing.orchestrator import OrchestratorContract
from tests.e2e.stack import E2EStack, wait_for

_SQL = {
    "contract.ok": "SELECT '{{ execution_date }}'",
    "contract.failing": "INSERT INTO contract_no_such_table VALUES ('{{ execution_date }}')",
    "contract.slow": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c",
    "contract.retrying": "SELECT * FROM contract_no_such_table",
}
RETRY_DELAY_SECONDS = 30
_RETRIES = {"contract.retrying": {"retry_count": 1, "retry_delay_seconds": RETRY_DELAY_SECONDS}}


@attrs.define
class AirflowEnv:
    orchestrator: AirflowOrchestrator
    ok: str = "contract.ok"
    failing: str = "contract.failing"
    slow: str = "contract.slow"
    retrying: str = "contract.retrying"
    retry_delay_seconds: int = RETRY_DELAY_SECONDS

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached")
            time.sleep(1.0)


@pytest.fixture(scope="module")
def airflow_orchestrator(stack: E2EStack) -> AirflowOrchestrator:
    store = FilesystemSpecStore(stack.store_dir)
    now = dt.datetime.now(dt.UTC)
    for name, sql in _SQL.items():
        if store.read(SourceType.MANUAL, name) is None:
            spec = DatasetSpec(
                name=name,
                query_statement=sql,
                execution={"conn_id": "dli_local", **_RETRIES.get(name, {})},
                # "slow" burns a CPU until stopped: its cron must not fire while the tests run.
                schedule=ScheduleConfig(cron="0 6 1 1 *" if name == "contract.slow" else "0 9 * * *", timezone="UTC"),
            )
            store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_at=now))
    orchestrator = AirflowOrchestrator(
        base_url=stack.airflow.base_url,
        username=stack.airflow.username,
        password=stack.airflow.password,
        read_timeout_seconds=60,  # Airflow standalone on a loaded CI machine can be slow
        clock=SystemClock(),
    )
    for name in _SQL:
        orchestrator.sync(name)
        wait_for(lambda n=name: orchestrator.dag_state(n).visible, timeout=120, what=f"DAG {name}")
    return orchestrator


class TestAirflowOrchestrator(OrchestratorContract):
    @pytest.fixture
    def orch_env(self, airflow_orchestrator: AirflowOrchestrator) -> Iterator[AirflowEnv]:
        yield AirflowEnv(orchestrator=airflow_orchestrator)
        # A test that failed before stopping "slow" must not leave it burning a core under the next ones.
        for status in (RunStatus.RUNNING, RunStatus.PENDING):
            runs, _ = airflow_orchestrator.list_runs(RunQuery(names=["contract.slow"], status=status, limit=50))
            for run in runs:
                with contextlib.suppress(DLIError):
                    airflow_orchestrator.stop_run(run.run_id)


def test_unreachable_airflow_is_a_server_error_naming_it_without_credentials() -> None:
    orchestrator = AirflowOrchestrator(
        base_url="http://127.0.0.1:9", username="admin", password="s3cret-pw", timeout_seconds=2, clock=SystemClock()
    )
    with pytest.raises(ServerError) as caught:
        orchestrator.pause_states()
    assert "127.0.0.1:9" in caught.value.message and "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(orchestrator)


def test_a_rejected_token_is_renewed_once(airflow_orchestrator: AirflowOrchestrator) -> None:
    auth = airflow_orchestrator._http.auth
    auth._token = "garbage.token.value"  # what an expired or revoked token looks like to Airflow
    assert "contract.ok" in airflow_orchestrator.pause_states()
    assert auth._token != "garbage.token.value"
