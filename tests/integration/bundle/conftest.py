"""Real Airflow 3 for the bundle's integration tests: its own venv, one SQLite metadata database
migrated once for the package."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VENV = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
PYTHON = VENV / "bin" / "python"
AIRFLOW = VENV / "bin" / "airflow"


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an Airflow process of these tests: the dli under test, nothing of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "DLI_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "bundles"),
            "PYTHONPATH": str(REPO / "src"),  # the dli under test, not the one the Airflow venv has installed
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


@pytest.fixture(scope="package")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PYTHON.exists():
        pytest.skip(f"no Airflow venv at {VENV} (scripts/install-airflow.sh)")
    home = tmp_path_factory.mktemp("airflow-home")
    migrate = subprocess.run(
        [str(AIRFLOW), "db", "migrate"], capture_output=True, text=True, env=airflow_env(home), timeout=300, check=False
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return home
