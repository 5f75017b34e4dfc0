"""The local stack: Airflow standalone with the DAG factory, a filesystem spec store, a SQLite
database for the datasets' SQL, and ``basecamp serve`` in front of them.

Everything lives in one folder (``.dli-dev`` by default); ``state.json`` records what ``up``
started, so that ``down`` stops exactly that and ``up`` can tell a half-started stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from dli.domain.model.errors import ConfigurationError, ServerError
from dli.entrypoints.devstack.processes import port_in_use, session_alive, spawn_detached, stop_session

__all__ = ["ComponentStatus", "DevStack", "find_airflow_venv"]

FACTORY_FILE = "from dli.entrypoints.airflow.dag_factory import load_dags\n\nload_dags(globals())\n"
CONFIG_MARKER = "# written by 'dli dev up'"
Progress = Callable[[str], None]


@attrs.frozen
class ComponentStatus:
    """One component of the stack as ``status`` sees it."""

    name: str
    """``airflow`` or ``basecamp``."""
    url: str | None
    """Where it answers."""
    running: bool
    """Whether its processes are alive."""
    healthy: bool
    """Whether its health endpoint says so."""
    log: str | None
    """Its log file."""


def default_airflow_venvs() -> list[str | None]:
    """Where an Airflow virtualenv is looked for: the environment, then beside the project and dli."""
    return [os.environ.get("DLI_AIRFLOW_VENV"), str(Path.cwd() / ".venv-airflow"),
            str(Path(sys.prefix).parent / ".venv-airflow")]


def find_airflow_venv(explicit: str | None = None, *, search: list[str | None] | None = None) -> Path:
    """The virtualenv holding Airflow 3 and dli (see scripts/install-airflow.sh)."""
    for candidate in [explicit, *(default_airflow_venvs() if search is None else search)]:
        if candidate and (Path(candidate) / "bin" / "airflow").exists():
            return Path(candidate).resolve()
    raise ConfigurationError(
        "No Airflow installation found for the dev stack",
        hints=("Install it with: bash scripts/install-airflow.sh (creates .venv-airflow),",
               "or point DLI_AIRFLOW_VENV / --airflow-venv at a virtualenv with apache-airflow 3 and dli."),
    )


def _get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback URLs we built
        return json.loads(resp.read())


class DevStack:
    """``up``, ``down`` and ``status`` of the local stack rooted at ``home``."""

    def __init__(self, home: Path, *, user: str = "dev") -> None:
        self.home = home.resolve()
        self.user = user

    # -- paths -------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def store_url(self) -> str:
        return (self.home / "store").as_uri()

    @property
    def database(self) -> Path:
        """The SQLite database the example datasets write to."""
        return self.home / "local.sqlite"

    @property
    def client_config(self) -> Path:
        return self.home / "client.yaml"

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        """What runs now, according to the recorded processes and the health endpoints."""
        state = self._state()
        out = []
        for name, health in (("airflow", self._airflow_healthy), ("basecamp", self._basecamp_healthy)):
            entry = state.get(name) or {}
            running = bool(entry.get("pid")) and session_alive(int(entry["pid"]))
            url = entry.get("url")
            out.append(ComponentStatus(name=name, url=url, running=running,
                                       healthy=running and url is not None and health(url), log=entry.get("log")))
        return out

    @staticmethod
    def _airflow_healthy(url: str) -> bool:
        try:
            health = _get_json(f"{url}/api/v2/monitor/health")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        statuses = [(v or {}).get("status") for v in health.values() if isinstance(v, dict)]
        return bool(statuses) and all(s == "healthy" for s in statuses)

    @staticmethod
    def _basecamp_healthy(url: str) -> bool:
        try:
            return _get_json(f"{url}/health").get("status") in ("ok", "healthy", "pass")
        except (urllib.error.URLError, OSError, ValueError, AttributeError):
            return False

    # -- up ----------------------------------------------------------------------------------

    def up(
        self,
        *,
        airflow_venv: Path,
        airflow_port: int = 8080,
        basecamp_port: int = 8081,
        progress: Progress = lambda _m: None,
        timeout_seconds: float = 300.0,
    ) -> dict[str, Any]:
        """Start whatever is not running yet and wait until all of it is healthy; idempotent."""
        state = self._state()
        current = {c.name: c for c in self.status()}
        for folder in ("airflow", "dags", "store", "logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "dags" / "dli_dags.py").write_text(FACTORY_FILE)

        if current["airflow"].healthy:
            progress(f"Airflow already running at {current['airflow'].url}")
        else:
            if current["airflow"].running:
                progress("Airflow is running but not healthy: restarting it")
                stop_session(int(state["airflow"]["pid"]))
            elif state.get("airflow"):
                progress("Airflow was started before but is gone (half-started stack): starting it again")
            state["airflow"] = self._start_airflow(airflow_venv, airflow_port, progress, timeout_seconds)
            self._save(state)

        password = self._airflow_password(timeout_seconds)
        if current["basecamp"].healthy and state.get("basecamp", {}).get("airflow_url") == state["airflow"]["url"]:
            progress(f"Basecamp already running at {current['basecamp'].url}")
        else:
            if current["basecamp"].running:
                stop_session(int(state["basecamp"]["pid"]))
            state["basecamp"] = self._start_basecamp(basecamp_port, state["airflow"]["url"], password, progress,
                                                     timeout_seconds)
            self._save(state)

        token = self._ensure_token(state)
        self._write_client_config(state["basecamp"]["url"], token)
        state["client_config"] = str(self.client_config)
        state["user_config"] = self._install_user_config()
        self._save(state)
        return state

    def _airflow_env(self, venv: Path, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        for key in ("PYTHONPATH", "PYTHONHOME"):
            env.pop(key, None)
        url = f"http://127.0.0.1:{port}"
        connection = json.dumps({"conn_type": "sqlite", "host": str(self.database)})
        env.update({
            "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # standalone starts 'airflow ...' by name
            "VIRTUAL_ENV": str(venv),
            "AIRFLOW_HOME": str(self.home / "airflow"),
            "DLI_STORE_URL": self.store_url,
            "AIRFLOW_CONN_DLI_LOCAL": connection,
            "AIRFLOW_CONN_DLI_DEFAULT": connection,
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            # Without it every task fails when the API server is not on 8080 (DESIGN.md §7).
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _start_airflow(self, venv: Path, port: int, progress: Progress, timeout: float) -> dict[str, Any]:
        if port_in_use(port):
            raise ConfigurationError(
                f"Port {port} is already in use, so Airflow cannot listen on it",
                hints=(f"Stop what uses it, or pass --airflow-port <free port> (e.g. {port + 10}).",),
            )
        log = self.home / "logs" / "airflow.log"
        progress(f"Starting Airflow standalone on port {port} (log: {log})")
        pid = spawn_detached([str(venv / "bin" / "airflow"), "standalone"], env=self._airflow_env(venv, port),
                             log=log, cwd=self.home / "airflow")
        url = f"http://127.0.0.1:{port}"
        self._wait(lambda: self._airflow_healthy(url), pid, "Airflow", log, progress, timeout)
        return {"pid": pid, "port": port, "url": url, "log": str(log), "venv": str(venv)}

    def _airflow_password(self, timeout: float) -> str:
        path = self.home / "airflow" / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + timeout
        while True:
            try:
                return str(json.loads(path.read_text())["admin"])
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise ServerError(f"Airflow wrote no admin password to {path}") from None
                time.sleep(0.5)

    def _basecamp_bin(self) -> str:
        candidate = Path(sys.executable).parent / "basecamp"
        return str(candidate) if candidate.exists() else "basecamp"

    def _start_basecamp(self, port: int, airflow_url: str, password: str, progress: Progress,
                        timeout: float) -> dict[str, Any]:
        if port_in_use(port):
            raise ConfigurationError(
                f"Port {port} is already in use, so the Basecamp server cannot listen on it",
                hints=(f"Stop what uses it, or pass --server-port <free port> (e.g. {port + 10}).",),
            )
        log = self.home / "logs" / "basecamp.log"
        progress(f"Starting the Basecamp server on port {port} (log: {log})")
        env = {**os.environ, "DLI_AIRFLOW_USERNAME": "admin", "DLI_AIRFLOW_PASSWORD": password}
        argv = [self._basecamp_bin(), "serve", "--port", str(port), "--store", self.store_url,
                "--airflow-url", airflow_url, "--tokens-file", str(self.home / "tokens.json"),
                "--check-interval", "5"]
        pid = spawn_detached(argv, env=env, log=log, cwd=self.home)
        url = f"http://127.0.0.1:{port}"
        self._wait(lambda: self._basecamp_healthy(url), pid, "Basecamp", log, progress, timeout)
        return {"pid": pid, "port": port, "url": url, "log": str(log), "airflow_url": airflow_url}

    def _wait(self, healthy: Callable[[], bool], pid: int, what: str, log: Path, progress: Progress,
              timeout: float) -> None:
        start = time.monotonic()
        last_note = start
        while not healthy():
            if not session_alive(pid):
                raise ServerError(f"{what} exited while starting", hints=(f"See its log: {log}", _tail(log)))
            if time.monotonic() - start > timeout:
                stop_session(pid)
                raise ServerError(f"{what} not healthy after {timeout:.0f}s", hints=(f"See its log: {log}", _tail(log)))
            if time.monotonic() - last_note > 10:
                progress(f"  ... waiting for {what} ({time.monotonic() - start:.0f}s)")
                last_note = time.monotonic()
            time.sleep(0.5)
        progress(f"{what} is healthy ({time.monotonic() - start:.0f}s)")

    def _ensure_token(self, state: dict[str, Any]) -> str:
        token = state.get("token_for", {}).get(self.user)
        if token and self._token_accepted(state["basecamp"]["url"], token):
            return str(token)
        result = subprocess.run(
            [self._basecamp_bin(), "token", "add", self.user, "--tokens-file", str(self.home / "tokens.json")],
            capture_output=True, text=True, check=False,
        )
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if result.returncode != 0 or not lines:
            raise ServerError("Could not create a Basecamp token", hints=(result.stderr.strip()[-500:],))
        token = lines[-1].split()[-1]
        state.setdefault("token_for", {})[self.user] = token
        return token

    @staticmethod
    def _token_accepted(url: str, token: str) -> bool:
        request = urllib.request.Request(f"{url}/api/v1/workflows?limit=1", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _write_client_config(self, url: str, token: str) -> None:
        text = f"{CONFIG_MARKER} ({self.home})\nmode: server\nserver:\n  url: {url}\n  token: {token}\n"
        fd = os.open(self.client_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)

    @staticmethod
    def user_config_path() -> Path:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "dli" / "config.yaml"

    def _install_user_config(self) -> str | None:
        """Make plain ``dli workflow ...`` use the stack, unless the user has a config of their own."""
        if os.environ.get("DLI_CONFIG"):  # the user chose which file the CLI reads
            return None
        target = self.user_config_path()
        if target.exists() and not target.read_text(errors="replace").startswith(CONFIG_MARKER):
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.client_config.read_text())
        return str(target)

    # -- down --------------------------------------------------------------------------------

    def down(self, *, progress: Progress = lambda _m: None) -> list[str]:
        """Stop what ``up`` started (nothing else); keep the data."""
        state = self._state()
        stopped = []
        for name in ("basecamp", "airflow"):
            entry = state.get(name)
            if entry and entry.get("pid") and session_alive(int(entry["pid"])):
                progress(f"Stopping {name} (pid {entry['pid']})")
                stop_session(int(entry["pid"]))
                stopped.append(name)
            state.pop(name, None)
        target = self.user_config_path()
        if target.exists() and target.read_text(errors="replace").startswith(f"{CONFIG_MARKER} ({self.home})"):
            target.unlink()
        self._save(state)
        return stopped


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
