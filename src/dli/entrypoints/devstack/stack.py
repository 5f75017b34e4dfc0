"""The local stack: Airflow standalone with the DAG factory, a filesystem spec store, a SQLite
database for the datasets' SQL, and ``basecamp serve`` in front of them.

Everything lives in one folder (``.dli-dev`` by default, private to the user); ``state.json``
records each process ``up`` starts as soon as it is spawned, so that ``down`` stops exactly those
and ``up`` can tell a half-started stack. ``down`` removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs
import tenacity
import yaml

from dli.domain.model.errors import ConfigurationError, ServerError
from dli.entrypoints.devstack.processes import (
    free_port,
    leader_alive,
    port_in_use,
    session_alive,
    signals_deferred,
    spawn_detached,
    stop_session,
)

__all__ = [
    "CHECK_INTERVAL_SECONDS",
    "LOCAL_CONNECTIONS",
    "ComponentStatus",
    "DevStack",
    "dev_token",
    "find_airflow_venv",
]

FACTORY_FILE = "from dli.entrypoints.airflow.dag_factory import load_dags\n\nload_dags(globals())\n"
CONFIG_MARKER = "# written by 'dli dev up'"
CHECK_INTERVAL_SECONDS = 5
"""How often the stack's Basecamp server re-reads the store (what CI's ``publish`` wrote shows then)."""
LOCAL_CONNECTIONS = ("dli_local", "dli_default", "sqlite_default")
"""Airflow connections the stack defines, all on its SQLite database: ``execution.conn_id: dli_local``,
a spec without connection settings (``dli_default``) and ``dialect: sqlite`` (``sqlite_default``)."""
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
    return [
        os.environ.get("DLI_AIRFLOW_VENV"),
        str(Path.cwd() / ".venv-airflow"),
        str(Path(sys.prefix).parent / ".venv-airflow"),
    ]


def find_airflow_venv(explicit: str | None = None, *, search: list[str | None] | None = None) -> Path:
    """The virtualenv holding Airflow 3 and dli (see scripts/install-airflow.sh)."""
    for candidate in [explicit, *(default_airflow_venvs() if search is None else search)]:
        if candidate and (Path(candidate) / "bin" / "airflow").exists():
            return Path(candidate).resolve()
    raise ConfigurationError(
        "No Airflow installation found for the dev stack",
        hints=(
            "Install it with: bash scripts/install-airflow.sh (creates .venv-airflow),",
            "or point DLI_AIRFLOW_VENV / --airflow-venv at a virtualenv with apache-airflow 3 and dli.",
        ),
    )


def dev_token(tokens_file: Path, user: str, *, known: Sequence[str | None] = ()) -> str:
    """The first of ``known`` that ``tokens_file`` accepts for ``user``, else a new token for ``user``.

    Reusing a token keeps the one in the client configuration (and any copy the user made) working
    across ``down`` and ``up``, and keeps the file from collecting forgotten tokens.
    """
    from dli.entrypoints.bootstrap import build_tokens

    tokens = build_tokens(tokens_file)
    for token in known:
        if token and tokens.authenticate(token) == user:
            return token
    return tokens.add(user)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the owner only (it may hold a token)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        self._make_home()
        _write_private(self.state_file, json.dumps(state, indent=2))

    def _make_home(self) -> None:
        # Private: it holds the token, Airflow's admin password and logs that may print both.
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        """What runs now, according to the recorded processes and the health endpoints."""
        state = self._state()
        out = []
        for name, health in (("airflow", self._airflow_healthy), ("basecamp", self._basecamp_healthy)):
            entry = state.get(name) or {}
            running = bool(entry.get("pid")) and session_alive(int(entry["pid"]))
            url = entry.get("url")
            out.append(
                ComponentStatus(
                    name=name,
                    url=url,
                    running=running,
                    healthy=running and url is not None and health(url),
                    log=entry.get("log"),
                )
            )
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
        """Start whatever is not running yet and wait until all of it is healthy; idempotent.

        Each process is recorded in ``state.json`` as soon as it is spawned. Interrupted (Ctrl-C,
        i.e. ``KeyboardInterrupt``), ``up`` stops the processes it started itself before the
        interrupt goes on; what it could not stop stays recorded for ``down``.
        """
        self._make_home()
        state = self._state()
        current = {c.name: c for c in self.status()}
        # First, so that a user name the tokens file refuses fails before anything starts.
        token = dev_token(
            self.home / "tokens.json",
            self.user,
            known=[state.get("token_for", {}).get(self.user), self._client_config_token()],
        )
        state.setdefault("token_for", {})[self.user] = token
        self._save(state)
        for folder in ("airflow", "dags", "store", "logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        (self.home / "dags" / "dli_dags.py").write_text(FACTORY_FILE)

        started: list[str] = []
        try:
            if current["airflow"].healthy:
                progress(f"Airflow already running at {current['airflow'].url}")
            else:
                if current["airflow"].running:
                    progress("Airflow is running but not healthy: restarting it")
                    self._stop_for_restart(state, "airflow")
                elif state.get("airflow"):
                    progress("Airflow was started before but is gone (half-started stack): starting it again")
                self._start_airflow(state, started, airflow_venv, airflow_port, progress, timeout_seconds)

            password = self._airflow_password(timeout_seconds)
            airflow_url = state["airflow"]["url"]
            if current["basecamp"].healthy and state.get("basecamp", {}).get("airflow_url") == airflow_url:
                progress(f"Basecamp already running at {current['basecamp'].url}")
            else:
                if current["basecamp"].running:
                    self._stop_for_restart(state, "basecamp")
                self._start_basecamp(state, started, basecamp_port, airflow_url, password, progress, timeout_seconds)

            self._write_client_config(state["basecamp"]["url"], token)
            state["client_config"] = str(self.client_config)
            state["user_config"] = self._install_user_config()
            self._save(state)
        except KeyboardInterrupt:
            if started:
                progress(f"Interrupted: stopping what this 'dli dev up' started ({', '.join(started)})")
                for name in reversed(started):
                    if not self._stop(state, name):
                        progress(f"Could not stop {name}; 'dli dev down' will try again")
            raise
        return state

    def _launch(
        self,
        state: dict[str, Any],
        started: list[str],
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path,
        cwd: Path,
        entry: dict[str, Any],
    ) -> int:
        """Spawn ``argv`` as component ``name`` and record it; an interrupt waits until it is recorded."""
        with signals_deferred():
            pid = spawn_detached(argv, env=env, log=log, cwd=cwd)
            state[name] = {"pid": pid, **entry}
            self._save(state)
            started.append(name)
        return pid

    def _stop_for_restart(self, state: dict[str, Any], name: str) -> None:
        if not self._stop(state, name):
            raise ServerError(
                f"Could not stop the running {name} to restart it",
                hints=(f"Its processes are in session {state[name]['pid']}: ps -s {state[name]['pid']}",),
            )

    def _stop(self, state: dict[str, Any], name: str) -> bool:
        """Stop component ``name`` and forget it; return False (and keep it recorded) if it survived."""
        pid = (state.get(name) or {}).get("pid")
        if pid and not stop_session(int(pid)):
            return False
        state.pop(name, None)
        self._save(state)
        return True

    def _airflow_env(self, venv: Path, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        for key in ("PYTHONPATH", "PYTHONHOME"):
            env.pop(key, None)
        url = f"http://127.0.0.1:{port}"
        connection = json.dumps({"conn_type": "sqlite", "host": str(self.database)})
        env.update(
            {
                "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # standalone starts 'airflow ...' by name
                "VIRTUAL_ENV": str(venv),
                "AIRFLOW_HOME": str(self.home / "airflow"),
                "DLI_STORE_URL": self.store_url,
                # The local database under every name a spec may reach it by: its conn_id, no
                # execution block at all (dli_default), or `dialect: sqlite` (Airflow's sqlite_default).
                **{f"AIRFLOW_CONN_{conn_id.upper()}": connection for conn_id in LOCAL_CONNECTIONS},
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                # Without it every task fails when the API server is not on 8080 (port 8080 is Airflow's default).
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
                # Airflow's log servers default to the fixed ports 8793/8794: another Airflow on this machine
                # (or a second stack) would hold them.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _prepare(
        self, name: str, what: str, flag: str, port: int, progress: Progress, *, starting: str | None = None
    ) -> tuple[Path, str]:
        """Check that ``port`` is free for component ``name`` and say it starts: its log and its URL."""
        if port_in_use(port):
            raise ConfigurationError(
                f"Port {port} is already in use, so {what} cannot listen on it",
                hints=(f"Stop what uses it, or pass {flag} <free port> (e.g. {port + 10}).",),
            )
        log = self.home / "logs" / f"{name}.log"
        progress(f"Starting {starting or what} on port {port}, log:")
        progress(f"  {log}")
        return log, f"http://127.0.0.1:{port}"

    def _start_airflow(
        self, state: dict[str, Any], started: list[str], venv: Path, port: int, progress: Progress, timeout: float
    ) -> None:
        log, url = self._prepare("airflow", "Airflow", "--airflow-port", port, progress, starting="Airflow standalone")
        _write_ahead_logged(self.home / "airflow" / "airflow.db")
        self._launch(
            state,
            started,
            "airflow",
            [str(venv / "bin" / "airflow"), "standalone"],
            env=self._airflow_env(venv, port),
            log=log,
            cwd=self.home / "airflow",
            entry={"port": port, "url": url, "log": str(log), "venv": str(venv)},
        )
        self._wait(state, started, "airflow", lambda: self._airflow_healthy(url), "Airflow", log, progress, timeout)

    def _airflow_password(self, timeout: float) -> str:
        path = self.home / "airflow" / "simple_auth_manager_passwords.json.generated"

        def gave_up(_state: tenacity.RetryCallState) -> str:
            raise ServerError(
                f"Airflow wrote no admin password to {path}",
                hints=(f"Airflow's log says why: {self.home / 'logs' / 'airflow.log'}",),
            ) from None

        # Airflow writes the file once it has started: read it again until it is there and whole.
        until_written = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((OSError, ValueError, KeyError)),
            wait=tenacity.wait_fixed(0.5),
            stop=tenacity.stop_after_delay(timeout),
            retry_error_callback=gave_up,
        )
        return until_written(lambda: str(json.loads(path.read_text())["admin"]))

    def _basecamp_bin(self) -> str:
        candidate = Path(sys.executable).parent / "basecamp"
        return str(candidate) if candidate.exists() else "basecamp"

    def _start_basecamp(
        self,
        state: dict[str, Any],
        started: list[str],
        port: int,
        airflow_url: str,
        password: str,
        progress: Progress,
        timeout: float,
    ) -> None:
        log, url = self._prepare("basecamp", "the Basecamp server", "--server-port", port, progress)
        # Airflow standalone on SQLite, on a laptop busy running it, can take longer than the
        # production default (10 s) to answer; the CLI's own timeout (30 s) stays the longer one.
        env = {
            "DLI_AIRFLOW_READ_TIMEOUT": "25",
            **os.environ,
            "DLI_AIRFLOW_USERNAME": "admin",
            "DLI_AIRFLOW_PASSWORD": password,
        }
        argv = [
            self._basecamp_bin(),
            "serve",
            "--port",
            str(port),
            "--store",
            self.store_url,
            "--airflow-url",
            airflow_url,
            "--tokens-file",
            str(self.home / "tokens.json"),
            "--check-interval",
            str(CHECK_INTERVAL_SECONDS),
        ]
        self._launch(
            state,
            started,
            "basecamp",
            argv,
            env=env,
            log=log,
            cwd=self.home,
            entry={"port": port, "url": url, "log": str(log), "airflow_url": airflow_url},
        )
        self._wait(state, started, "basecamp", lambda: self._basecamp_healthy(url), "Basecamp", log, progress, timeout)

    def _wait(
        self,
        state: dict[str, Any],
        started: list[str],
        name: str,
        healthy: Callable[[], bool],
        what: str,
        log: Path,
        progress: Progress,
        timeout: float,
    ) -> None:
        """Wait until ``healthy``; a component that dies or stays unhealthy is stopped and forgotten."""
        pid = int(state[name]["pid"])
        start = time.monotonic()
        last_note = start

        def hopeless(_attempt: tenacity.RetryCallState) -> bool:
            return not leader_alive(pid) or time.monotonic() - start > timeout

        def give_up(_attempt: tenacity.RetryCallState) -> NoReturn:
            failure = (
                f"{what} exited while starting" if not leader_alive(pid) else f"{what} not healthy after {timeout:.0f}s"
            )
            # The leader may be gone while processes it spawned live on: stop the whole session.
            if self._stop(state, name):
                started.remove(name)
            raise ServerError(failure, hints=(f"See its log: {log}", _tail(log)))

        def note(attempt: tenacity.RetryCallState) -> None:
            nonlocal last_note
            if time.monotonic() - last_note > 10:
                progress(f"  ... waiting for {what} ({time.monotonic() - start:.0f}s)")
                last_note = time.monotonic()

        tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda ok: not ok),
            wait=tenacity.wait_fixed(0.5),
            stop=hopeless,
            before_sleep=note,
            retry_error_callback=give_up,
        )(healthy)
        progress(f"{what} is healthy ({time.monotonic() - start:.0f}s)")

    def _client_config_token(self) -> str | None:
        """The token in the client configuration this stack wrote, if any."""
        try:
            text = self.client_config.read_text()
            if not text.startswith(CONFIG_MARKER):
                return None
            token = (yaml.safe_load(text) or {}).get("server", {}).get("token")
        except (OSError, yaml.YAMLError, AttributeError):
            return None
        return token if isinstance(token, str) else None

    def _write_client_config(self, url: str, token: str) -> None:
        body = yaml.safe_dump({"mode": "server", "server": {"url": url, "token": token}}, sort_keys=False)
        _write_private(self.client_config, f"{CONFIG_MARKER} ({self.home})\n{body}")

    @staticmethod
    def user_config_path() -> Path:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "dli" / "config.yaml"

    def _install_user_config(self) -> str | None:
        """Make plain ``dli workflow ...`` use the stack, unless the user has a config of their own.

        The file is the one the CLI reads: ``$DLI_CONFIG`` when set (the README's tour exports it
        before the first ``dev up``, so it may not exist yet), else the user config file. A file
        that exists and was not written by ``dev up`` is the user's: it is left alone.
        """
        chosen = os.environ.get("DLI_CONFIG")
        target = Path(chosen).expanduser() if chosen else self.user_config_path()
        if target.resolve() == self.client_config.resolve():
            return str(self.client_config)
        if target.exists() and not target.read_text(errors="replace").startswith(CONFIG_MARKER):
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_private(target, self.client_config.read_text())
        return str(target)

    # -- down --------------------------------------------------------------------------------

    def down(self, *, progress: Progress = lambda _m: None) -> list[str]:
        """Stop what ``up`` started (nothing else) and remove ``state.json``; keep the data."""
        state = self._state()
        stopped, survivors = [], []
        for name in ("basecamp", "airflow"):
            entry = state.get(name)
            if entry and entry.get("pid") and session_alive(int(entry["pid"])):
                progress(f"Stopping {name} (pid {entry['pid']})")
                if not stop_session(int(entry["pid"])):
                    survivors.append(f"{name} (session {entry['pid']})")
                    continue
                stopped.append(name)
            state.pop(name, None)
        target = self.user_config_path()
        if target.exists() and target.read_text(errors="replace").startswith(f"{CONFIG_MARKER} ({self.home})"):
            target.unlink()
        if survivors:
            self._save(state)  # still recorded, so that the next 'down' tries again
            raise ServerError(
                f"Could not stop {', '.join(survivors)}",
                hints=("Run 'dli dev down' again; see what is left with: ps -s <session>",),
            )
        self.state_file.unlink(missing_ok=True)
        return stopped


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _write_ahead_logged(database: Path) -> None:
    """Put Airflow's SQLite metadata database in write-ahead-log mode (kept in the file).

    In SQLite's default mode a writer waits for every reader: the API server's reads and the
    scheduler's commits lock each other out, and on a busy machine Airflow's requests fail with
    "database is locked". With a write-ahead log readers never block the writer.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA journal_mode=WAL")
