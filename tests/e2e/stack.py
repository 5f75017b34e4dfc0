"""One real stack per test process: moto (S3), ``airflow standalone`` with the dli DAG factory, and
``basecamp serve`` on a filesystem store (and, on demand, a second one on the S3 store).

``shared_stack()`` starts it once and stops it at exit, so the e2e suite and the Airflow-backed
orchestrator contract share one Airflow. Airflow's venv: ``$DLI_AIRFLOW_VENV`` (default
``<repo>/.venv-airflow``, built by ``scripts/install-airflow.sh`` with ``DLI_SRC=<repo>``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from dli.entrypoints.devstack.processes import session_pids, stop_session
from tests.support.airflow_stack import AirflowStack
from tests.support.basecamp import BasecampProcess, start_basecamp
from tests.support.s3_servers import S3Server, client_for, run_moto, s3_env

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py"
CONN_ID = "dli_local"
# What Airflow's scheduler logs when its loop dies (then it shuts down; see _keep_scheduler_alive).
_SCHEDULER_LOOP_DIED = b"Exception when executing SchedulerJob._run_scheduler_loop"
S3_PREFIX = "specs"
S3_BUNDLE = "dli-s3"
S3_SHARDS = 8


def airflow_venv() -> Path:
    return Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")


class E2EStack:
    """The running components and helpers to drive them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_dir = root / "store"
        self.store_url = self.store_dir.as_uri()
        self.db_path = root / "data.db"
        self.dags = root / "dags"
        self._exit = contextlib.ExitStack()
        self.s3: S3Server | None = None
        self.s3_bucket = ""
        self.airflow: AirflowStack | None = None
        self.basecamp: BasecampProcess | None = None
        self._basecamp_s3: BasecampProcess | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.scheduler_restarts = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> E2EStack:
        venv = airflow_venv()
        if not (venv / "bin" / "airflow").exists():
            raise RuntimeError(f"No Airflow at {venv}: run DLI_SRC={REPO} scripts/install-airflow.sh")
        self.store_dir.mkdir(parents=True)
        self.dags.mkdir(parents=True)
        self.s3 = self._exit.enter_context(run_moto())
        self.s3_bucket = self.s3.new_bucket("e2e")
        shutil.copy(DAG_FILE, self.dags / "dli_dags.py")
        env = {
            # The S3 store (its datasets use the e2e_s3 prefix) is read by dli's DAG bundle, as
            # docs/airflow.md recommends; the filesystem store by the two-line DAG file above.
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                [
                    {
                        "name": "dags-folder",
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {},
                    },
                    {
                        "name": S3_BUNDLE,
                        "classpath": "dli.entrypoints.airflow.bundle.DliDagBundle",
                        # A spec copied in around dli (test_s3_store's broken one) is listed within 20 s.
                        "kwargs": {
                            "store_url": self.s3_store_url,
                            "shards": S3_SHARDS,
                            "refresh_interval": 5,
                            "full_listing_interval": 20,
                        },
                    },
                ]
            ),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(self.root / "bundles"),
            "DLI_STORE_URL": self.store_url,
            "DLI_CACHE_DIR": str(self.root / "s3cache"),
            f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps({"conn_type": "sqlite", "host": str(self.db_path)}),
            # Specs with `dialect: sqlite` run on the SQLite connection; other dialects have none here.
            "DLI_DIALECT_CONNECTIONS": json.dumps({"sqlite": CONN_ID}),
            **s3_env(self.s3),
        }
        self.airflow = AirflowStack(
            venv=venv, dags_folder=self.dags, airflow_home=self.root / "airflow", extra_env=env, startup_timeout=240
        )
        self.airflow.start()
        self._exit.callback(self.airflow.stop)
        self._exit.callback(self._stopping.set)
        threading.Thread(target=self._keep_scheduler_alive, name="scheduler-watchdog", daemon=True).start()
        self.basecamp = start_basecamp(
            self.root / "basecamp",
            store_url=self.store_url,
            orchestrator_url=self.airflow.base_url,
            check_interval=1.0,
            user="e2e",
            env=self.airflow_env(),
            startup_timeout=60,
        )
        self._exit.callback(self.basecamp.stop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._exit.close()

    def _scheduler_pids(self) -> list[int]:
        assert self.airflow is not None and self.airflow.proc is not None
        found = []
        for sid in [self.airflow.proc.pid, *self._extra_sessions]:
            for pid in session_pids(sid):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"scheduler" in cmdline and any(part.endswith(b"airflow") for part in cmdline):
                    found.append(pid)
        return found

    def _scheduler_running(self) -> bool:
        return bool(self._scheduler_pids())

    def _kill_with_children(self, pid: int) -> None:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
        for target in (*children, pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)

    _extra_sessions: list[int] = []

    def _keep_scheduler_alive(self) -> None:
        """Restart Airflow's scheduler when it dies (standalone does not), or when its loop died and
        it hangs shutting down (waiting for a LocalExecutor worker that never exits).

        Airflow 3.3 on a SQLite metadata database: when backfill creation hits "database is locked"
        (HTTP 503), Airflow deletes the runs it had already committed; a scheduler loop that loaded
        them dies with ObjectDeletedError. Production Airflow (Postgres/MySQL) does not get there;
        see docs/airflow.md. The restart keeps one such event from failing the rest of the suite.
        """
        self._extra_sessions = []
        seen = 0  # bytes of the log already searched for a dying scheduler
        while not self._stopping.wait(2.0):
            airflow = self.airflow
            if airflow is None or airflow.proc is None or airflow.proc.poll() is not None:
                return
            with contextlib.suppress(OSError), open(airflow.log_path, "rb") as log:
                log.seek(seen)
                new = log.read()
                seen += len(new)
                if _SCHEDULER_LOOP_DIED in new:
                    # A scheduler whose loop died shuts down waiting for its LocalExecutor workers,
                    # and one of them can hang: it stays a process but schedules nothing again.
                    for pid in self._scheduler_pids():
                        self._kill_with_children(pid)
                    time.sleep(1.0)
            if self._scheduler_running():
                continue
            if self._stopping.is_set():
                return
            self.scheduler_restarts += 1
            with open(airflow.log_path, "ab") as log:
                log.write(b"e2e-watchdog | scheduler gone: starting a new one\n")
                proc = subprocess.Popen(
                    [str(airflow.airflow_bin), "scheduler"],
                    cwd=str(airflow.airflow_home),
                    env=airflow.build_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._extra_sessions.append(proc.pid)

            def _stop_extra(sid: int = proc.pid, leader: subprocess.Popen = proc) -> None:
                stop_session(sid, grace_seconds=5.0)
                leader.poll()

            self._exit.callback(_stop_extra)

    @property
    def s3_store_url(self) -> str:
        return f"s3://{self.s3_bucket}/{S3_PREFIX}"

    def basecamp_s3(self) -> BasecampProcess:
        """A second server, on the S3 store (started on first use)."""
        with self._lock:
            if self._basecamp_s3 is None:
                assert self.s3 is not None
                self._basecamp_s3 = start_basecamp(
                    self.root / "basecamp-s3",
                    store_url=self.s3_store_url,
                    orchestrator_url=self.airflow.base_url,
                    check_interval=1.0,
                    user="e2e-s3",
                    env={**self.airflow_env(), **s3_env(self.s3)},
                    startup_timeout=60,
                )
                self._exit.callback(self._basecamp_s3.stop)
            return self._basecamp_s3

    # -- helpers -----------------------------------------------------------------------------------

    def airflow_env(self) -> dict[str, str]:
        assert self.airflow is not None and self.airflow.password
        # Airflow standalone on two busy cores answers slower than production's 10 s read timeout
        # allows; below the CLI's 30 s so that a slow Airflow is still named as the one at fault.
        return {
            "DLI_AIRFLOW_USERNAME": self.airflow.username,
            "DLI_AIRFLOW_PASSWORD": self.airflow.password,
            "DLI_AIRFLOW_READ_TIMEOUT": "25",
        }

    def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to Airflow's REST API as admin (to look behind dli's back)."""
        assert self.airflow is not None
        return httpx.request(
            method, self.airflow.base_url + path, headers=self.airflow.auth_headers(), timeout=60, **kwargs
        )

    def dag(self, name: str) -> dict[str, Any] | None:
        response = self.rest("GET", f"/api/v2/dags/{name}")
        return response.json() if response.status_code == 200 else None

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as conn:
            return conn.execute(sql, args).fetchall()

    def dli(
        self,
        *args: str,
        project: Path | None = None,
        server: BasecampProcess | None = None,
        mode: str = "server",
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed ``dli`` CLI (``python -m dli``) as a user would."""
        server = server or self.basecamp
        assert server is not None
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "AIRFLOW"))}
        full_env.update({"DLI_API_TOKEN": server.token, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
        argv = [sys.executable, "-m", "dli", "--mode", mode]
        if mode == "server":
            argv += ["--server", server.url]
        if project is not None:
            argv += ["--path", str(project)]
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=project or self.root
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"dli {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def dli_json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.dli(*args, "--format", "json", **kwargs).stdout)

    def wait_run(self, run_id: str, *, timeout: float = 240, **kwargs: Any) -> dict[str, Any]:
        """Poll ``dli workflow status`` until the run is terminal."""
        deadline = time.monotonic() + timeout
        while True:
            polled = self.dli("workflow", "status", run_id, "--format", "json", check=False, **kwargs)
            if polled.returncode != 0:
                # Airflow on SQLite may answer one request with "database is locked" (DLI-503): ask again.
                assert "DLI-503" in polled.stderr and time.monotonic() < deadline, polled.stderr
                time.sleep(1.0)
                continue
            status = json.loads(polled.stdout)
            if status["run_status"] in ("COMPLETED", "FAILED", "KILLED"):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} not finished after {timeout}s: {status}\n{self.airflow.log_tail()}")
            time.sleep(1.0)


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def write_project(root: Path, specs: Sequence[str]) -> Path:
    """A dli project folder with ``dli.yaml`` and one ``dataset.<name>.yaml`` per YAML text."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dli.yaml").write_text("project: e2e\n")
    for text in specs:
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:"))
        (root / f"dataset.{name}.yaml").write_text(text)
    return root


_STACK: E2EStack | None = None
_STACK_LOCK = threading.Lock()


def shared_stack() -> E2EStack:
    """The process-wide stack, started on first use and stopped when the process exits."""
    global _STACK
    with _STACK_LOCK:
        if _STACK is None:
            root = Path(tempfile.mkdtemp(prefix="dli-e2e-"))
            stack = E2EStack(root)
            try:
                stack.start()
            except BaseException:
                stack.stop()
                raise
            atexit.register(stack.stop)
            _STACK = stack
        return _STACK


def s3_client(stack: E2EStack) -> Any:
    assert stack.s3 is not None
    return client_for(stack.s3)
