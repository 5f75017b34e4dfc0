"""A real ``basecamp serve`` with Airflow or S3 down or hung, driven by the ``dli`` CLI (issue #11).

The promises:

- a write that persisted is a success: ``register`` and ``unregister`` exit 0 with a warning saying
  that Airflow could not be told, and when the DAG appears (or goes);
- a fault is answered fast and names the dependency at fault: with the default timeouts (connect
  3 s, read 10 s) the slowest answer stays under ``BOUND_SECONDS``, so the CLI's own timeout never
  fires first and blames Basecamp (DLI-501).

No assertion measures time: the CLI runs with its request timeout set to ``BOUND_SECONDS`` (its user
configuration), so an answer slower than the bound shows up as DLI-501 "did not answer in time"
instead of the DLI-503 naming the dependency; ``/health`` is asked with the same timeout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs
import httpx
import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.backends import write_spec
from tests.support.basecamp import BasecampProcess, free_port, running_basecamp
from tests.support.dli_process import Completed, dli_env, run_dli
from tests.support.hanging_server import HangingProxy, hanging_proxy, hanging_server
from tests.support.s3_servers import client_for, run_moto, s3_env
from tests.support.specs import make_spec

BOUND_SECONDS = 15
"""The slowest fault answer allowed with the default timeouts (the CLI's own is 30 s)."""
HEALTH_BOUND_SECONDS = 3
"""The slowest ``/health`` answer allowed, whatever the dependencies do (a load balancer's probe timeout)."""

AIRFLOW_LOGIN = {"DLI_AIRFLOW_USERNAME": "admin", "DLI_AIRFLOW_PASSWORD": "airflow-secret"}
NAMES = ("shop.orders", "shop.extra")

T = TypeVar("T")

pytestmark = pytest.mark.slow


@attrs.frozen
class Setup:
    """A server with a dependency at fault, and what the CLI needs to talk to it."""

    server: BasecampProcess
    env: dict[str, str]
    project: Path
    dependency: str
    """How the error names the dependency at fault (its URL)."""

    def dli(self, *args: str) -> Completed:
        return run_dli(*args, env=self.env, cwd=self.project)

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.server.url}/health", timeout=BOUND_SECONDS)

    def quick_health(self) -> httpx.Response:
        """``/health`` asked with a probe's patience: a slower answer fails the test as a timeout."""
        return httpx.get(f"{self.server.url}/health", timeout=HEALTH_BOUND_SECONDS)


def _client(home: Path, server: BasecampProcess) -> tuple[dict[str, str], Path]:
    """The CLI's environment (SERVER mode, request timeout ``BOUND_SECONDS``) and a project."""
    config = home / "xdg" / "dli" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"timeout_seconds: {BOUND_SECONDS}\n")
    env = dli_env(home, DLI_MODE="server", DLI_SERVER_URL=server.url, DLI_API_TOKEN=server.token)
    project = home / "project"
    for name in NAMES:
        write_spec(project, make_spec(name, cron=None))
    return env, project


def _side_by_side(calls: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Every call at once (each one waits out a timeout: one after the other would add them up)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def _says_503_naming(result: Completed, dependency: str, what: str) -> None:
    assert result.returncode == 1, result.stderr
    assert f"Error [DLI-503]: {what}" in result.stderr, result.stderr
    assert dependency in result.stderr
    assert "DLI-501" not in result.stderr and "Traceback" not in result.stderr


# -- Airflow down: nothing listens on its port ---------------------------------------------------


@pytest.fixture(scope="module")
def airflow_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, FilesystemSpecStore]]:
    root = tmp_path_factory.mktemp("airflow-down")
    store_dir = root / "store"
    store_dir.mkdir()
    airflow = f"http://127.0.0.1:{free_port()}"
    for server in running_basecamp(
        root / "server",
        store_url=store_dir.as_uri(),
        orchestrator_url=airflow,
        env=AIRFLOW_LOGIN,
        ready_path="/openapi.json",
    ):
        env, project = _client(root, server)
        yield Setup(server, env, project, airflow), FilesystemSpecStore(store_dir)


@pytest.mark.timeout(120)
def test_register_and_unregister_with_airflow_down_succeed_with_a_warning(airflow_down) -> None:
    setup, store = airflow_down
    registered = setup.dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *", "--disabled")
    assert registered.returncode == 0, registered.stderr
    assert "Workflow registered: shop.orders" in registered.stdout
    assert (
        f"Warning: Workflow 'shop.orders' is stored, but Airflow could not be told: [DLI-503] Airflow at "
        f"{setup.dependency} is unreachable"
    ) in registered.stderr
    assert "'dli workflow pause shop.orders'" in registered.stderr
    assert store.read(SourceType.MANUAL, "shop.orders").document.schedule.enabled is False

    # --format json: the warning is part of the result.
    result = json.loads(
        setup.dli("workflow", "register", "shop.extra", "--cron", "0 6 * * *", "--format", "json").stdout
    )
    told = [
        w for w in result["warnings"] if w.startswith("Workflow 'shop.extra' is stored, but Airflow could not be told")
    ]
    assert len(told) == 1 and told[0] in result["warning"]

    removed = setup.dli("workflow", "unregister", "shop.orders")
    assert removed.returncode == 0, removed.stderr
    assert "Warning: Workflow 'shop.orders' is unregistered, but Airflow could not be told: [DLI-503]" in removed.stderr
    assert store.read(SourceType.MANUAL, "shop.orders") is None
    assert "airflow-secret" not in setup.server.log_text()


# -- Airflow hung: it takes connections and never answers -----------------------------------------


@pytest.fixture(scope="module")
def airflow_hung(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, FilesystemSpecStore]]:
    root = tmp_path_factory.mktemp("airflow-hung")
    store_dir = root / "store"
    store_dir.mkdir()
    with hanging_server() as airflow:
        for server in running_basecamp(
            root / "server",
            store_url=store_dir.as_uri(),
            orchestrator_url=airflow.url,
            env=AIRFLOW_LOGIN,
            ready_path="/openapi.json",
        ):
            env, project = _client(root, server)
            yield Setup(server, env, project, airflow.url), FilesystemSpecStore(store_dir)


@pytest.fixture(scope="module")
def airflow_hung_answers(airflow_hung) -> dict[str, Any]:
    setup, _ = airflow_hung
    return _side_by_side(
        {
            "health": setup.health,
            "register": lambda: setup.dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *"),
            "status": lambda: setup.dli("workflow", "status", "shop.orders@manual__2025-01-01T00:00:00+00:00"),
            "history": lambda: setup.dli("workflow", "history"),
        }
    )


@pytest.mark.timeout(120)
def test_health_with_airflow_hung_is_503_naming_it(airflow_hung, airflow_hung_answers) -> None:
    setup, _ = airflow_hung
    health = airflow_hung_answers["health"]
    assert health.status_code == 503
    report = health.json()
    assert report["store"]["reachable"] is True
    orchestrator = report["orchestrator"]
    assert (orchestrator["reachable"], orchestrator["url"]) == (False, setup.dependency)
    # The probe waits half a second (health checks are polled), or reports what the last call found.
    assert orchestrator["error"].startswith("[DLI-503] ") and setup.dependency in orchestrator["error"]
    assert "did not answer" in orchestrator["error"]


@pytest.mark.timeout(120)
def test_register_with_airflow_hung_stores_the_spec_and_warns(airflow_hung, airflow_hung_answers) -> None:
    setup, store = airflow_hung
    registered = airflow_hung_answers["register"]
    assert registered.returncode == 0, registered.stderr
    # Asked side by side with other requests, it may be the one that sent the login or one that
    # waited for it: either way it names Airflow, after one timeout at most.
    assert (
        f"Warning: Workflow 'shop.orders' is stored, but Airflow could not be told: [DLI-503] Airflow at "
        f"{setup.dependency} did not answer"
    ) in registered.stderr
    assert store.read(SourceType.MANUAL, "shop.orders") is not None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["status", "history"])
def test_reads_with_airflow_hung_are_dli_503_naming_it(airflow_hung, airflow_hung_answers, command) -> None:
    setup, _ = airflow_hung
    _says_503_naming(airflow_hung_answers[command], setup.dependency, f"Airflow at {setup.dependency} did not answer")


@pytest.mark.timeout(120)
def test_unregister_with_airflow_hung_deletes_and_warns(airflow_hung, airflow_hung_answers) -> None:
    setup, store = airflow_hung
    assert airflow_hung_answers["register"].returncode == 0
    removed = setup.dli("workflow", "unregister", "shop.orders")
    assert removed.returncode == 0, removed.stderr
    assert (
        f"Warning: Workflow 'shop.orders' is unregistered, but Airflow could not be told: [DLI-503] Airflow at "
        f"{setup.dependency} did not answer in 10 s"
    ) in removed.stderr
    assert store.read(SourceType.MANUAL, "shop.orders") is None


# -- S3 hung from the start: the index cannot even load ---------------------------------------------


@pytest.fixture(scope="module")
def s3_hung(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("s3-hung")
    with hanging_server() as s3:
        env = {
            "AWS_ENDPOINT_URL": s3.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        for server in running_basecamp(
            root / "server", store_url="s3://dli-hung/specs", env=env, ready_path="/openapi.json"
        ):
            client_env, project = _client(root, server)
            yield Setup(server, client_env, project, "s3://dli-hung/specs")


@pytest.mark.timeout(120)
def test_a_hung_s3_is_answered_fast_and_named_by_health_register_and_history(s3_hung) -> None:
    answers = _side_by_side(
        {
            "health": s3_hung.health,
            "register": lambda: s3_hung.dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *"),
            "history": lambda: s3_hung.dli("workflow", "history", "-d", "shop.orders"),
        }
    )
    health = answers["health"]
    assert health.status_code == 503
    assert health.json()["store"]["error"] == "[DLI-503] Spec store s3://dli-hung/specs did not answer within 2 s"
    assert health.json()["orchestrator"]["reachable"] is True
    for command in ("register", "history"):
        _says_503_naming(answers[command], s3_hung.dependency, "Spec store s3://dli-hung/specs did not answer in 10 s")


# -- S3 that hangs after it worked: runs exist, the store goes silent --------------------------------


@pytest.fixture(scope="module")
def s3_hangs_later(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, HangingProxy, str]]:
    root = tmp_path_factory.mktemp("s3-later")
    with run_moto() as moto, hanging_proxy(moto.endpoint_url) as proxy:
        bucket = f"dli-later-{free_port()}"
        client_for(moto).create_bucket(Bucket=bucket)
        env = {**s3_env(moto), "AWS_ENDPOINT_URL": proxy.url}
        store_url = f"s3://{bucket}/specs"
        for server in running_basecamp(root / "server", store_url=store_url, env=env):
            client_env, project = _client(root, server)
            yield Setup(server, client_env, project, store_url), proxy, bucket


@pytest.mark.timeout(120)
def test_a_store_that_hangs_later_is_named_by_status_and_register(s3_hangs_later) -> None:
    setup, proxy, _ = s3_hangs_later
    assert setup.dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *").returncode == 0
    run = setup.dli("workflow", "run", "shop.orders", "--format", "json")
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    proxy.hang()
    answers = _side_by_side(
        {
            "status": lambda: setup.dli("workflow", "status", run_id),
            "register": lambda: setup.dli("workflow", "register", "shop.extra", "--cron", "0 6 * * *"),
            "health": setup.health,
        }
    )
    what = f"Spec store {setup.dependency} did not answer in 10 s"
    _says_503_naming(answers["status"], setup.dependency, what)
    _says_503_naming(answers["register"], setup.dependency, what)
    # /health asks the store afresh (one GET, bounded): 503 at once, not after a periodic check met the hang.
    for health in (answers["health"], setup.quick_health(), setup.quick_health()):
        assert health.status_code == 503
        store = health.json()["store"]
        assert store["reachable"] is False
        # Its own 2 s budget, or (for a second after it) the answer of the probe's call that met the
        # client's 10 s timeout: both name the store that hangs.
        assert store["error"] in (
            f"[DLI-503] Spec store {setup.dependency} did not answer within 2 s",
            f"[DLI-503] {what}",
        )


@pytest.mark.timeout(120)
def test_health_names_a_silent_store_within_three_seconds_while_requests_wait_on_it(s3_hung) -> None:
    # A silent S3 (accepts connections, never answers): /health is polled while requests hang on the
    # store; every answer comes within the probe's patience and names the store.
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = pool.submit(s3_hung.dli, "workflow", "history", "-d", "shop.orders")
        for _ in range(4):
            health = s3_hung.quick_health()
            assert health.status_code == 503
            assert health.json()["store"] == {
                "reachable": False,
                "url": s3_hung.dependency,
                "error": f"[DLI-503] Spec store {s3_hung.dependency} did not answer within 2 s",
            }
        _says_503_naming(waiting.result(), s3_hung.dependency, f"Spec store {s3_hung.dependency} did not answer")
