"""A production-shaped stack on one machine, for tests: every piece in a process of its own.

- PostgreSQL (Debian's ``postgresql``): a throwaway cluster (``initdb``) on a free port, Airflow's
  metadata database and Celery's result backend. PostgreSQL refuses to run as root, so as root the
  cluster belongs to the system user ``dli-pg`` (created when missing).
- Redis (Debian's ``redis-server``) on a free port, without persistence: the Celery broker.
- Apache Airflow 3 with the ``CeleryExecutor``: ``airflow api-server``, ``scheduler``,
  ``dag-processor``, ``triggerer`` and two ``celery worker`` processes with hostnames of their own.
- moto as the S3 spec store, read by dli's DAG bundle (256 shard files, the settings
  docs/operations.md recommends: ``refresh_interval`` 5 s, ``min_file_process_interval`` 600 s) and
  by two ``basecamp serve`` replicas that share one tokens file (as replicas behind a load balancer
  would). ``bundle_shards=None`` installs the two-line DAG file instead.

Plain Python (stdlib, httpx and the test support modules; no pytest)::

    stack = ProductionStack(Path(tempfile.mkdtemp()))
    stack.start()      # blocks until every component answers; raises with a log tail if one dies
    try:
        ... stack.replicas[0].url, stack.api_url, stack.rest("GET", "/api/v2/dags") ...
    finally:
        stack.stop()

Nothing is skipped when PostgreSQL or Redis is missing: ``start`` raises, naming the package
(``scripts/test.sh`` installs both).
"""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from dli.entrypoints.devstack.processes import free_port, stop_session
from tests.support.airflow_stack import AirflowStack
from tests.support.basecamp import BasecampProcess, start_basecamp
from tests.support.s3_servers import S3Server, run_moto, s3_env

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py"
CONN_ID = "dli_local"
S3_PREFIX = "specs"
PG_USER = "dli-pg"
WORKER_HOSTNAMES = ("prod-worker-1", "prod-worker-2")
BUNDLE = "dli"
BUNDLE_SHARDS = 256
BUNDLE_REFRESH_INTERVAL = 5

# Airflow stamps each task instance with ``[core] hostname_callable()``. Both workers run on this one
# machine, so the default (the machine's FQDN) could not tell them apart; in production each worker
# is a pod or host of its own and the default is what you want.
_HOSTNAME_MODULE = """\
import os


def hostname() -> str:
    return os.environ["DLI_WORKER_HOSTNAME"]
"""


class ProductionStackError(RuntimeError):
    pass


def _tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_bytes()[-64_000:].decode("utf-8", "replace")
    except OSError:
        return "<no log>"
    return "\n".join(data.splitlines()[-lines:])


def find_postgres_bin() -> Path:
    """The folder holding ``initdb`` and ``postgres`` (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    raise ProductionStackError(
        "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin): "
        "apt-get install -y --no-install-recommends postgresql (scripts/test.sh does)"
    )


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    raise ProductionStackError(
        "redis-server is not installed: apt-get install -y --no-install-recommends redis-server (scripts/test.sh does)"
    )


class Component:
    """One long-running process in a session of its own, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab", buffering=0) as out:
            self.proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Task processes run in process groups of their own inside this session: stopping the
                # session reaches them too.
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise ProductionStackError(
                f"{self.name} exited (code {self.proc.returncode})\n--- tail of {self.log} ---\n{_tail(self.log)}"
            )

    def stop(self, grace_seconds: float = 5.0) -> None:
        stop_session(self.proc.pid, grace_seconds=grace_seconds)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class ProductionStack:
    """PostgreSQL, Redis, Airflow (Celery, separate processes), moto and Basecamp replicas."""

    def __init__(
        self,
        root: Path,
        *,
        venv: Path | None = None,
        replicas: int = 2,
        check_interval: float = 1.0,
        startup_timeout: float = 240.0,
        bundle_shards: int | None = BUNDLE_SHARDS,
    ) -> None:
        self.root = root.resolve()
        self.venv = (venv or Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")).resolve()
        self.replica_count = replicas
        self.check_interval = check_interval
        self.startup_timeout = startup_timeout
        self.bundle_shards = bundle_shards
        self.dags = self.root / "dags"
        self.home = self.root / "airflow"
        self.logs = self.root / "logs"
        self.db_path = self.root / "data.db"
        self.api_port = free_port()
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.username = "admin"
        self.password = secrets.token_urlsafe(16)
        self.components: list[Component] = []
        self.replicas: list[BasecampProcess] = []
        self.s3: S3Server | None = None
        self.s3_bucket = ""
        self.startup_seconds: dict[str, float] = {}
        self._pg_dir: Path | None = None
        self._exit = contextlib.ExitStack()
        self._token: str | None = None
        self._token_time = 0.0
        self._jwt_secret = secrets.token_hex(32)
        self._api_secret = secrets.token_hex(32)
        self._fernet_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def store_url(self) -> str:
        return f"s3://{self.s3_bucket}/{S3_PREFIX}"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.pg_port}/airflow"

    @property
    def airflow_bin(self) -> Path:
        return self.venv / "bin" / "airflow"

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> ProductionStack:
        t0 = time.monotonic()
        try:
            if not self.airflow_bin.exists():
                raise ProductionStackError(f"No Airflow at {self.venv}: run DLI_SRC={REPO} scripts/install-airflow.sh")
            self._check_airflow_packages()
            pg_bin, redis_server = find_postgres_bin(), find_redis_server()
            for folder in (self.dags, self.home, self.logs):
                folder.mkdir(parents=True, exist_ok=True)
            self.s3 = self._exit.enter_context(run_moto())
            self.s3_bucket = self.s3.new_bucket("prod")
            self._start_redis(redis_server)
            self._start_postgres(pg_bin)
            self._mark("postgres+redis", t0)
            self._install_dag_factory()
            self._migrate()
            self._mark("db migrate", t0)
            self._start_airflow()
            # Basecamp needs only the store to start (its /health answers 503 until Airflow is up):
            # the replicas boot while Airflow does.
            with ThreadPoolExecutor(1) as pool:
                replicas = pool.submit(self._start_replicas)
                self._wait_airflow()
                self._mark("airflow", t0)
                replicas.result()
            self._mark("basecamp", t0)
        except BaseException:
            self.stop()
            raise
        return self

    def _mark(self, what: str, t0: float) -> None:
        self.startup_seconds[what] = round(time.monotonic() - t0, 1)

    def stop(self) -> None:
        """Stop everything: Basecamp and Airflow at once, then the services Airflow needs."""
        airflow = [c for c in self.components if c.name not in ("postgres", "redis")]
        services = [c for c in self.components if c.name in ("postgres", "redis")]
        # Each stop may wait out its grace period: in parallel, the stack is down in one of them.
        with ThreadPoolExecutor(max(1, len(airflow) + len(self.replicas))) as pool:
            list(pool.map(lambda stop: stop(), [*(s.stop for s in self.replicas), *(c.stop for c in airflow)]))
        for component in services:
            component.stop()
        self.replicas.clear()
        self.components.clear()
        self._exit.close()
        if self._pg_dir is not None:
            shutil.rmtree(self._pg_dir, ignore_errors=True)
            self._pg_dir = None

    def __enter__(self) -> ProductionStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raise, with its log tail, if a component has died."""
        for component in self.components:
            component.check()

    # -- PostgreSQL and Redis ----------------------------------------------------------------------

    def _check_airflow_packages(self) -> None:
        probe = "import airflow.providers.celery, asyncpg, psycopg2, redis"
        result = subprocess.run([str(self.venv / "bin" / "python"), "-c", probe], capture_output=True, text=True)
        if result.returncode != 0:
            raise ProductionStackError(
                f"{self.venv} lacks the Celery provider, asyncpg, psycopg2 or redis: run scripts/install-airflow.sh\n"
                + result.stderr[-2000:]
            )

    def _pg_account(self) -> tuple[list[str], int | None]:
        """The argv prefix that runs a PostgreSQL server binary unprivileged, and the uid to own its files."""
        if os.geteuid() != 0:
            return [], None
        try:
            account = pwd.getpwnam(PG_USER)
        except KeyError:
            created = subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                capture_output=True,
                text=True,
            )
            # 9: created meanwhile by another test process.
            if created.returncode not in (0, 9):
                raise ProductionStackError(f"useradd {PG_USER} failed: {created.stderr}") from None
            account = pwd.getpwnam(PG_USER)
        prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", "--"]
        return prefix, account.pw_uid

    def _start_postgres(self, pg_bin: Path) -> None:
        prefix, uid = self._pg_account()
        # Outside self.root: a pytest tmp_path lives under a folder only root may enter.
        self._pg_dir = Path(tempfile.mkdtemp(prefix="dli-pg-"))
        if uid is not None:
            os.chown(self._pg_dir, uid, -1)
        data = self._pg_dir / "data"
        init_log = self.logs / "initdb.log"
        with open(init_log, "wb") as out:
            code = subprocess.run(
                [
                    *prefix,
                    str(pg_bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "airflow",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._pg_dir,
                env={**os.environ, "LC_ALL": "C"},
            ).returncode
        if code != 0:
            raise ProductionStackError(f"initdb failed (code {code})\n{_tail(init_log)}")
        # Durability settings off: a throwaway cluster; the suite is about behaviour, not crash safety.
        postgres = Component(
            "postgres",
            [
                *prefix,
                str(pg_bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.pg_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self._pg_dir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            log=self.logs / "postgres.log",
            env={**os.environ, "LC_ALL": "C"},
            cwd=self._pg_dir,
        )
        self.components.append(postgres)
        deadline = time.monotonic() + 60
        while True:
            postgres.check()
            ready = subprocess.run(
                [
                    str(pg_bin / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.pg_port),
                    "-U",
                    "airflow",
                    "-d",
                    "postgres",
                ],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ProductionStackError(f"postgres not ready after 60s\n{_tail(postgres.log)}")
            time.sleep(0.2)
        created = subprocess.run(
            [str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "airflow", "airflow"],
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise ProductionStackError(f"createdb airflow failed: {created.stderr}")

    def _start_redis(self, redis_server: str) -> None:
        redis_dir = self.root / "redis"
        redis_dir.mkdir(exist_ok=True)
        redis = Component(
            "redis",
            [
                redis_server,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(redis_dir),
            ],
            log=self.logs / "redis.log",
            env=os.environ,
            cwd=redis_dir,
        )
        self.components.append(redis)
        deadline = time.monotonic() + 30
        while True:
            redis.check()
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            if time.monotonic() > deadline:
                raise ProductionStackError(f"redis not answering PING after 30s\n{_tail(redis.log)}")
            time.sleep(0.1)

    # -- Airflow -----------------------------------------------------------------------------------

    def _install_dag_factory(self) -> None:
        if self.bundle_shards is None:
            shutil.copy(DAG_FILE, self.dags / "dli_dags.py")
        pylib = self.root / "pylib"
        pylib.mkdir(exist_ok=True)
        (pylib / "dli_worker_hostname.py").write_text(_HOSTNAME_MODULE)
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({self.username: self.password}))
        passwords.chmod(0o600)

    def airflow_env(self, **overrides: str) -> dict[str, str]:
        """The environment every Airflow process shares (one configuration, as one image would)."""
        assert self.s3 is not None
        base = AirflowStack(self.venv, self.dags, self.home, port=self.api_port, username=self.username).build_env()
        base["PYTHONPATH"] = os.pathsep.join([base["PYTHONPATH"], str(self.root / "pylib")])
        database = self.database_url
        base.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database}",
                # One task at a time per worker: a busy worker takes nothing more from the queue
                # (prefetch 1, late acks), so concurrent runs must spread over both.
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
                # Sending a task to Redis from a busy 2-core machine can take longer than the 1 s default.
                "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                # Shared by every process: the scheduler signs the tokens workers present to the
                # api-server's execution API, and the api-server checks them.
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self._api_secret,
                "AIRFLOW__CORE__FERNET_KEY": self._fernet_key,
                "AIRFLOW__CORE__PARALLELISM": "8",
                # As a production deployment would: the config holds the secrets above.
                "AIRFLOW__API__EXPOSE_CONFIG": "False",
                "DLI_STORE_URL": self.store_url,
                "DLI_CACHE_DIR": str(self.root / "s3cache"),
                f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps({"conn_type": "sqlite", "host": str(self.db_path)}),
                "DLI_DIALECT_CONNECTIONS": json.dumps({"sqlite": CONN_ID}),
                **s3_env(self.s3),
            }
        )
        if self.bundle_shards is not None:
            base.update(self._bundle_env(self.bundle_shards))
        base.update(overrides)
        return base

    def _bundle_env(self, shards: int) -> dict[str, str]:
        """dli's DAG bundle over the S3 store, as docs/operations.md recommends installing it."""
        bundles = [
            {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
            {
                "name": BUNDLE,
                "classpath": "dli.entrypoints.airflow.bundle.DliDagBundle",
                "kwargs": {"store_url": self.store_url, "shards": shards, "refresh_interval": BUNDLE_REFRESH_INTERVAL},
            },
        ]
        return {
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(self.root / "bundles"),
            # The recommended setting: a shard is parsed again when the bundle rewrites it (or asks),
            # not every few seconds, so a change lost between two parses would show here.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        }

    def _migrate(self) -> None:
        log = self.logs / "db-migrate.log"
        with open(log, "wb") as out:
            try:
                code = subprocess.run(
                    [str(self.airflow_bin), "db", "migrate"],
                    cwd=self.home,
                    env=self.airflow_env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        if code != 0:
            raise ProductionStackError(f"airflow db migrate failed (code {code})\n{_tail(log)}")

    def _start_airflow(self) -> None:
        airflow = str(self.airflow_bin)
        env = self.airflow_env()
        for name, argv in (
            ("api-server", [airflow, "api-server"]),
            ("scheduler", [airflow, "scheduler"]),
            ("dag-processor", [airflow, "dag-processor"]),
            ("triggerer", [airflow, "triggerer"]),
        ):
            self.components.append(Component(name, argv, log=self.logs / f"{name}.log", env=env, cwd=self.home))
        for hostname in WORKER_HOSTNAMES:
            worker_env = self.airflow_env(
                AIRFLOW__CORE__HOSTNAME_CALLABLE="dli_worker_hostname.hostname",
                DLI_WORKER_HOSTNAME=hostname,
                # Each worker serves its task logs on a port of its own (the default is fixed).
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            )
            argv = [
                airflow,
                "celery",
                "worker",
                "--celery-hostname",
                hostname,
                "--concurrency",
                "1",
                "--pid",
                str(self.home / f"{hostname}.pid"),
                "--without-mingle",
                "--without-gossip",
            ]
            self.components.append(
                Component(f"worker {hostname}", argv, log=self.logs / f"{hostname}.log", env=worker_env, cwd=self.home)
            )

    def _wait_airflow(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        workers = [c for c in self.components if c.name.startswith("worker ")]
        while True:
            self.check_alive()
            try:
                health = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
                states = {k: (v or {}).get("status") for k, v in health.items()}
                ready_workers = [w.name for w in workers if b" ready." in w.log.read_bytes()]
                if states and all(s == "healthy" for s in states.values()) and len(ready_workers) == len(workers):
                    self.token(refresh=True)
                    return
                last = f"health={states}, workers ready={ready_workers}"
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {c.name} ---\n{_tail(c.log, 15)}" for c in self.components)
                raise ProductionStackError(f"Airflow not ready after {self.startup_timeout:.0f}s ({last})\n{tails}")
            time.sleep(0.5)

    def token(self, refresh: bool = False) -> str:
        """A bearer JWT for the admin user (cached for 10 minutes)."""
        if refresh or self._token is None or time.monotonic() - self._token_time > 600:
            response = httpx.post(
                f"{self.api_url}/auth/token", json={"username": self.username, "password": self.password}, timeout=30
            )
            response.raise_for_status()
            self._token, self._token_time = response.json()["access_token"], time.monotonic()
        return self._token

    def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to Airflow's REST API as admin (to look behind dli's back)."""
        return httpx.request(
            method, self.api_url + path, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60, **kwargs
        )

    # -- Basecamp ----------------------------------------------------------------------------------

    def basecamp_env(self) -> dict[str, str]:
        assert self.s3 is not None
        return {
            "DLI_AIRFLOW_USERNAME": self.username,
            "DLI_AIRFLOW_PASSWORD": self.password,
            # Airflow on two busy cores answers slower than production's 10 s read timeout allows.
            "DLI_AIRFLOW_READ_TIMEOUT": "25",
            **s3_env(self.s3),
        }

    def _start_replicas(self) -> None:
        tokens = self.root / "basecamp-tokens.json"
        for index in range(self.replica_count):
            self.replicas.append(
                start_basecamp(
                    self.root / f"basecamp-{index + 1}",
                    store_url=self.store_url,
                    orchestrator_url=self.api_url,
                    check_interval=self.check_interval,
                    user="prod",
                    env=self.basecamp_env(),
                    startup_timeout=60,
                    tokens_file=tokens,
                )
            )

    # -- diagnostics -------------------------------------------------------------------------------

    def log_tails(self, lines: int = 20) -> str:
        return "\n".join(f"--- {c.name} ({c.log}) ---\n{_tail(c.log, lines)}" for c in self.components)


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def main() -> int:
    """Start the stack, print where everything is, and keep it up until Ctrl-C."""
    root = Path(tempfile.mkdtemp(prefix="dli-prod-"))
    stack = ProductionStack(root)
    try:
        stack.start()
        print(f"Airflow   {stack.api_url}  (user {stack.username})")
        for server in stack.replicas:
            print(f"Basecamp  {server.url}")
        print(f"store     {stack.store_url}\nlogs      {stack.logs}\nstart-up  {stack.startup_seconds}", flush=True)
        while True:
            time.sleep(2)
            stack.check_alive()
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
