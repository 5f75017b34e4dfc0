"""``dli dev up`` on a real Airflow: the stack comes up, the CLI works right away, ``down`` stops it."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from dli.entrypoints.devstack.processes import free_port, session_alive

ROOT = Path(__file__).resolve().parents[2]
DLI = str(Path(sys.executable).parent / "dli")


def test_dev_up_runs_the_example_and_down_stops_everything(tmp_path):
    home = tmp_path / "dev"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DLI_")},
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "DLI_AIRFLOW_VENV": os.environ.get("DLI_AIRFLOW_VENV", str(ROOT / ".venv-airflow")),
        "DLI_DEV_HOME": str(home),
    }

    def dli(*args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    pids: list[int] = []
    ports = ["--airflow-port", str(free_port()), "--server-port", str(free_port())]
    up = dli("dev", "up", *ports)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        started = json.loads((home / "state.json").read_text())
        assert stat.S_IMODE((home / "state.json").stat().st_mode) == 0o600  # it holds the token
        pids[:] = [started["airflow"]["pid"], started["basecamp"]["pid"]]
        assert "Airflow UI:" in up.stdout and "/openapi.json" in up.stdout
        status = dli("dev", "status")
        assert status.returncode == 0 and status.stdout.count("healthy") == 2, status.stdout

        again = dli("dev", "up", *ports)
        assert again.returncode == 0 and "already running" in again.stderr

        # The client configuration is written: plain `dli workflow ...` talks to the stack.
        project = ROOT / "examples" / "shop"
        for name in ("shop.orders_raw", "shop.region_report"):
            reg = dli("workflow", "register", name, "--cron", "0 6 * * *", "--wait", cwd=project)
            assert reg.returncode == 0, reg.stdout + reg.stderr
        for args in (
            ("shop.orders_raw", "-p", "execution_date=2025-03-01"),
            ("shop.region_report", "-p", "execution_date=2025-03-01", "-p", "region=us"),
        ):
            run = dli("workflow", "run", *args, "--wait", "--timeout", "300", cwd=project)
            assert run.returncode == 0, run.stdout + run.stderr
        with sqlite3.connect(home / "local.sqlite") as db:
            assert db.execute("SELECT dt, region, orders FROM region_report").fetchall() == [("2025-03-01", "us", 1)]
        listed = json.loads(dli("workflow", "list", "--format", "json").stdout)
        assert {w["dataset_name"] for w in listed["workflows"]} == {"shop.orders_raw", "shop.region_report"}
    finally:
        down = dli("dev", "down")
    assert down.returncode == 0 and "airflow" in down.stdout
    assert not (home / "state.json").exists()
    assert not any(session_alive(pid) for pid in pids)
    assert dli("dev", "status").returncode == 1
