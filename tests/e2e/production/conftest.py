"""The production-shaped stack, started once for the module that uses it, and a driver for it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.production_stack import ProductionStack

TERMINAL = ("COMPLETED", "FAILED", "KILLED")


class Production:
    """Drives the stack as users do (the ``dli`` CLI, Basecamp's REST API) and looks behind it."""

    def __init__(self, stack: ProductionStack) -> None:
        self.stack = stack
        self.root = stack.root
        self.replicas = stack.replicas
        self.token = stack.replicas[0].token  # one tokens file: valid on every replica

    # -- the dli CLI ---------------------------------------------------------------------------------

    def dli(
        self, *args: str, replica: int = 0, project: Path | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        server = self.replicas[replica]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "AIRFLOW", "AWS_"))}
        env.update({"DLI_API_TOKEN": self.token, "NO_COLOR": "1", "COLUMNS": "200"})
        argv = [sys.executable, "-m", "dli", "--mode", "server", "--server", server.url]
        if project is not None:
            argv += ["--path", str(project)]
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=project or self.root
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"dli {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def dli_json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.dli(*args, "--format", "json", **kwargs).stdout)

    def publish(self, project: Path, *extra: str, timeout: float = 120) -> None:
        """What CI/CD runs: ``dli workflow publish`` straight into the S3 store, with CI's credentials."""
        assert self.stack.s3 is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "AIRFLOW", "AWS_"))}
        env.update({"NO_COLOR": "1", **self.stack.s3.env()})
        argv = [
            sys.executable,
            "-m",
            "dli",
            "workflow",
            "publish",
            "--path",
            str(project),
            "--store",
            self.stack.store_url,
        ]
        result = subprocess.run([*argv, *extra], capture_output=True, text=True, env=env, timeout=timeout, cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr

    def wait_run(self, run_id: str, *, replica: int = 0, timeout: float = 180) -> dict[str, Any]:
        """Poll the run's status until it is terminal (over REST: a CLI process a second would take
        CPU from the stack on a 2-core machine)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.call("GET", f"/api/v1/runs/{quote(run_id, safe='')}", replica=replica)
            response.raise_for_status()
            status = response.json()
            if status["run_status"] in TERMINAL:
                return status
            self.stack.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} not finished after {timeout}s: {status}\n{self.stack.log_tails()}")
            time.sleep(1.0)

    # -- Basecamp's REST API -------------------------------------------------------------------------

    def call(self, method: str, path: str, *, replica: int = 0, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.replicas[replica].url + path,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
            **kwargs,
        )

    def listed(self, name: str, *, replica: int) -> set[tuple[str, str]]:
        """``(source_type, status)`` of each workflow of ``name`` as ``replica`` lists it."""
        response = self.call("GET", "/api/v1/workflows", replica=replica, params={"dataset_filter": name})
        response.raise_for_status()
        return {(w["source_type"], w["status"]) for w in response.json()["workflows"] if w["dataset_name"] == name}

    # -- behind dli's back ---------------------------------------------------------------------------

    def dag(self, name: str) -> dict[str, Any] | None:
        response = self.stack.rest("GET", f"/api/v2/dags/{name}")
        return response.json() if response.status_code == 200 else None

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        dag_id, native = run_id.split("@", 1)
        response = self.stack.rest("GET", f"/api/v2/dags/{dag_id}/dagRuns/{native}/taskInstances")
        response.raise_for_status()
        return response.json()["task_instances"]

    def all_task_instances(self) -> list[dict[str, Any]]:
        """Every task instance of every DAG run (``~`` is Airflow's wildcard for DAG and run)."""
        response = self.stack.rest("GET", "/api/v2/dags/~/dagRuns/~/taskInstances", params={"limit": 1000})
        response.raise_for_status()
        return response.json()["task_instances"]

    def hosts(self, run_id: str) -> set[str]:
        """The workers (Airflow's ``hostname`` of each task instance) that ran ``run_id``'s tasks."""
        return {ti["hostname"] for ti in self.task_instances(run_id) if ti["hostname"]}

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.stack.db_path, timeout=30)) as conn:
            return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="package")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    started = time.monotonic()
    stack = ProductionStack(tmp_path_factory.mktemp("production"))
    stack.start()
    try:
        sys.stderr.write(f"\nproduction stack up in {time.monotonic() - started:.0f}s: {stack.startup_seconds}\n")
        yield Production(stack)
    finally:
        stack.stop()
