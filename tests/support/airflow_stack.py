"""Start a real ``airflow standalone`` (Apache Airflow 3.3.x) for tests and dev stacks.

Plain Python (stdlib only; no pytest needed).  Typical use::

    stack = AirflowStack(venv=".venv-airflow", dags_folder=tmp / "dags", airflow_home=tmp / "home")
    stack.start()            # blocks until /api/v2/monitor/health is healthy and a token can be had
    try:
        token = stack.get_token()
        ... stack.base_url ... stack.username / stack.password ...
    finally:
        stack.stop()         # kills the whole process group

Or from a shell (dev stack)::

    python tests/support/airflow_stack.py --venv .venv-airflow --dags /tmp/dags --home /tmp/afhome
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from dli.entrypoints.devstack.processes import free_port, stop_session

DEFAULT_USERNAME = "admin"
# The dli sources of this checkout: a worktree's tests must run its own dli inside Airflow, not the
# one the Airflow venv has installed (an editable install points at one checkout).
DLI_SRC = Path(__file__).resolve().parents[2] / "src"


class AirflowStackError(RuntimeError):
    pass


class AirflowStack:
    """A real ``airflow standalone`` in a subprocess (own process group), on a free loopback port."""

    def __init__(
        self,
        venv: str | os.PathLike,
        dags_folder: str | os.PathLike,
        airflow_home: str | os.PathLike,
        *,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        startup_timeout: float = 180.0,
        username: str = DEFAULT_USERNAME,
    ) -> None:
        self.venv = Path(venv).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.airflow_home = Path(airflow_home).resolve()
        self.port = port or free_port()
        self.extra_env = dict(extra_env or {})
        self.startup_timeout = startup_timeout
        self.username = username
        self.password: str | None = None
        self.log_path = self.airflow_home / "standalone.log"
        self.proc: subprocess.Popen | None = None
        self._log_fh = None
        self._token: str | None = None
        self._token_time = 0.0
        self.startup_seconds: float | None = None

    # ------------------------------------------------------------------ properties
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def airflow_bin(self) -> Path:
        return self.venv / "bin" / "airflow"

    # ------------------------------------------------------------------ environment
    def build_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        # Never leak a caller's virtualenv / python path into Airflow's interpreter.
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONHOME", None)
        env["PYTHONPATH"] = str(DLI_SRC)
        # `airflow standalone` launches `airflow scheduler|api-server|...` by name: it must be on PATH.
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env["AIRFLOW_HOME"] = str(self.airflow_home)
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_COLOR"] = "1"
        a = {
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
            "AIRFLOW__CORE__PARALLELISM": "4",  # = number of LocalExecutor worker processes
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__EXPOSE_CONFIG": "True",
            # Log servers default to fixed ports 8793/8794: give each stack its own.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # New / changed DAG files get picked up quickly.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "10",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "False",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            # Task supervisors heartbeat every second, so a run PATCHed to "failed" kills its task sooner.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        }
        env.update(a)
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AirflowStack:
        if self.proc is not None:
            raise AirflowStackError("stack already started")
        if not self.airflow_bin.exists():
            raise AirflowStackError(
                f"{self.airflow_bin} not found: run scripts/install-airflow.sh (AIRFLOW_VENV={self.venv})"
            )
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self._log_fh = open(self.log_path, "ab", buffering=0)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(self.airflow_bin), "standalone"],
            cwd=str(self.airflow_home),
            env=self.build_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group -> stop() kills every component
        )
        try:
            self._wait_healthy(t0)
            self.password = self._read_password(deadline=t0 + self.startup_timeout)
            self.get_token(refresh=True)
            self._warm_execution_api(deadline=t0 + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = round(time.monotonic() - t0, 1)
        return self

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop standalone and every process it started, then close the log.

        SIGTERM, then SIGKILL after ``timeout``, to every process of the stack's *session*: task processes
        run in a process group of their own (same session), so killing only the process group would
        leave a busy task running after the stack is gone.
        """
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_session(proc.pid, grace_seconds=timeout)  # start_new_session: session id == leader's pid
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    # ------------------------------------------------------------------ helpers
    def log_tail(self, lines: int = 60) -> str:
        try:
            data = self.log_path.read_bytes()[-64_000:].decode("utf-8", "replace")
        except OSError:
            return "<no log>"
        return "\n".join(data.splitlines()[-lines:])

    def _fail(self, msg: str) -> AirflowStackError:
        return AirflowStackError(f"{msg}\n--- tail of {self.log_path} ---\n{self.log_tail()}")

    def _wait_healthy(self, t0: float) -> None:
        deadline = t0 + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise self._fail(f"airflow standalone exited early (code {code})")
            try:
                health = self.health()
                comps = {k: (v or {}).get("status") for k, v in health.items()}
                if comps and all(s == "healthy" for s in comps.values()):
                    return
                last = f"health={comps}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise self._fail(f"airflow not healthy after {self.startup_timeout:.0f}s ({last})")

    def _warm_execution_api(self, deadline: float) -> None:
        """Make the API server build its task execution API now, not on the first task's call.

        Airflow builds the versioned routes of ``/execution/`` (Cadwyn) on the first request to it,
        holding the API server's only event loop meanwhile: several seconds on a busy 2-core box,
        during which every REST call waits (a test's first run then looked like a hung Airflow).
        """
        while True:
            try:
                urllib.request.urlopen(
                    f"{self.base_url}/execution/health", timeout=max(1.0, deadline - time.monotonic())
                )
                return
            except urllib.error.HTTPError:
                return  # any answer means the routes are built
            except (urllib.error.URLError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise self._fail(f"the execution API did not answer ({exc!r})") from exc
                time.sleep(0.5)

    def _read_password(self, deadline: float) -> str:
        path = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        while True:
            try:
                return json.loads(path.read_text())[self.username]
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise self._fail(f"no password for {self.username!r} in {path}") from None
                time.sleep(0.2)

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())

    def get_token(self, refresh: bool = False, max_age: float = 3600.0) -> str:
        """A bearer JWT from ``POST /auth/token`` (cached; refreshed after ``max_age`` seconds)."""
        if not refresh and self._token and time.monotonic() - self._token_time < max_age:
            return self._token
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        req = urllib.request.Request(
            f"{self.base_url}/auth/token",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            self._token = json.loads(resp.read())["access_token"]
        self._token_time = time.monotonic()
        return self._token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.get_token()}"}


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[2]
    p = argparse.ArgumentParser(description="Run a real airflow standalone (dev/test stack).")
    p.add_argument("--venv", default=os.environ.get("AIRFLOW_VENV", str(repo / ".venv-airflow")))
    p.add_argument("--dags", required=True, help="DAGs folder")
    p.add_argument("--home", required=True, help="AIRFLOW_HOME (created if missing)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra env (repeatable)")
    args = p.parse_args(argv)
    extra = dict(kv.split("=", 1) for kv in args.env)
    stack = AirflowStack(args.venv, args.dags, args.home, port=args.port, extra_env=extra, startup_timeout=args.timeout)
    stack.start()
    print(f"AIRFLOW_URL={stack.base_url}")
    print(f"AIRFLOW_USERNAME={stack.username}")
    print(f"AIRFLOW_PASSWORD={stack.password}")
    print(f"AIRFLOW_HOME={stack.airflow_home}")
    print(f"log: {stack.log_path}  (ready in {stack.startup_seconds}s; Ctrl-C to stop)", flush=True)

    def _term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        while stack.proc is not None and stack.proc.poll() is None:
            time.sleep(1)
        print("airflow standalone exited:\n" + stack.log_tail(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
