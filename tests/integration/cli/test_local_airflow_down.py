"""LOCAL mode with Airflow down: a write that persisted is a success with a warning, never a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.backends import write_spec
from tests.support.basecamp import free_port
from tests.support.dli_process import dli_env, run_dli
from tests.support.specs import make_spec


@pytest.fixture
def local(tmp_path: Path) -> tuple[dict[str, str], Path, FilesystemSpecStore, str]:
    project = tmp_path / "project"
    write_spec(project, make_spec("shop.orders", cron=None))
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    airflow = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = dli_env(
        tmp_path,
        DLI_MODE="local",
        DLI_STORE_URL=store_dir.as_uri(),
        DLI_AIRFLOW_URL=airflow,
        DLI_AIRFLOW_USERNAME="admin",
        DLI_AIRFLOW_PASSWORD="admin-secret",
    )
    return env, project, FilesystemSpecStore(store_dir), airflow


@pytest.mark.timeout(120)
def test_register_and_unregister_with_airflow_down_succeed_with_a_warning(local) -> None:
    env, project, store, airflow = local
    registered = run_dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *", env=env, cwd=project)
    assert registered.returncode == 0, registered.stderr
    assert "Workflow registered: shop.orders" in registered.stdout
    assert (
        f"Warning: Workflow 'shop.orders' is stored, but Airflow could not be told: [DLI-503] Airflow at {airflow} "
        "is unreachable"
    ) in registered.stderr
    assert "next parse of the spec store" in registered.stderr
    assert "Traceback" not in registered.stderr and "admin-secret" not in registered.stderr
    assert store.read(SourceType.MANUAL, "shop.orders").document.schedule.cron == "0 6 * * *"

    # --force and --format json: the warning is part of the result.
    forced = run_dli(
        "workflow",
        "register",
        "shop.orders",
        "--cron",
        "0 7 * * *",
        "--force",
        "--format",
        "json",
        env=env,
        cwd=project,
    )
    assert forced.returncode == 0, forced.stderr
    result = json.loads(forced.stdout)
    assert result["updated"] is True and result["previous_cron"] == "0 6 * * *"
    told = [
        w for w in result["warnings"] if w.startswith("Workflow 'shop.orders' is stored, but Airflow could not be told")
    ]
    assert len(told) == 1 and told[0] in result["warning"]
    assert store.read(SourceType.MANUAL, "shop.orders").document.schedule.cron == "0 7 * * *"

    # The pause unregister tries first does not keep the spec from being deleted.
    removed = run_dli("workflow", "unregister", "shop.orders", env=env, cwd=project)
    assert removed.returncode == 0, removed.stderr
    assert "shop.orders" in removed.stdout
    assert "Warning: Workflow 'shop.orders' is unregistered, but Airflow could not be told: [DLI-503]" in removed.stderr
    assert store.read(SourceType.MANUAL, "shop.orders") is None


@pytest.mark.timeout(120)
def test_register_with_wait_reports_the_stored_spec_then_the_wait_failing(local) -> None:
    env, project, store, airflow = local
    waited = run_dli("workflow", "register", "shop.orders", "--cron", "0 6 * * *", "--wait", env=env, cwd=project)
    # The registration happened and is reported; the wait asked for more (a live DAG) and says why not.
    assert "Workflow registered: shop.orders" in waited.stdout
    assert "is stored, but Airflow could not be told" in waited.stderr
    assert f"Error [DLI-503]: Airflow at {airflow} is unreachable" in waited.stderr
    assert waited.returncode == 1
    assert store.read(SourceType.MANUAL, "shop.orders") is not None
