"""``dli dev`` test support: a stand-in for ``airflow standalone``, so that ``dli dev up`` can be
started, interrupted and stopped in seconds (the real stack is in tests/e2e/test_dev_stack.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Like the real one it keeps three long-lived children (scheduler, dag-processor, triggerer) in its
# session. FAKE_AIRFLOW picks how far it gets:
#   hang     never answers;
#   exit     exits at once, leaving its children running;
#   monitor  answers its health endpoint only, so Basecamp stays unhealthy;
#   full     also answers what Basecamp's health check asks (log-in and the DAG list).
FAKE_AIRFLOW = r"""#!{python}
import http.server
import json
import os
import subprocess
import sys
import time
from pathlib import Path

mode = os.environ.get("FAKE_AIRFLOW", "hang")
home = Path(os.environ["AIRFLOW_HOME"])
children = [subprocess.Popen(["sleep", "600"]) for _role in ("scheduler", "dag-processor", "triggerer")]
pids = home / "fake-pids.json"
pids.with_suffix(".tmp").write_text(json.dumps([os.getpid()] + [child.pid for child in children]))
os.replace(pids.with_suffix(".tmp"), pids)
if mode == "exit":
    sys.exit(3)
if mode == "hang":
    time.sleep(600)
    sys.exit(0)
(home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": "secret"}))


class Api(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/api/v2/monitor/health"):
            self.answer(200, {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}})
        elif self.path.startswith("/api/v2/dags") and mode == "full":  # DAG and run lists: empty
            self.answer(200, {"dags": [], "dag_runs": [], "total_entries": 0})
        else:
            self.answer(404, {"detail": "Not Found"})

    def do_POST(self):
        if self.path == "/auth/token" and mode == "full":
            self.answer(201, {"access_token": "fake"})
        elif self.path.startswith("/api/v2/dags") and mode == "full":  # batch run lists: empty
            self.answer(200, {"dags": [], "dag_runs": [], "total_entries": 0})
        else:
            self.answer(404, {"detail": "Not Found"})

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["AIRFLOW__API__PORT"])), Api).serve_forever()
"""


def make_fake_airflow_venv(venv: Path) -> Path:
    """A virtualenv folder whose ``bin/airflow`` is the stand-in (mode from ``FAKE_AIRFLOW``)."""
    (venv / "bin").mkdir(parents=True)
    airflow = venv / "bin" / "airflow"
    airflow.write_text(FAKE_AIRFLOW.replace("{python}", sys.executable))
    airflow.chmod(0o755)
    return venv


def fake_pids(home: Path) -> list[int]:
    """The stand-in's own pid and its children's, once it has started."""
    try:
        return [int(pid) for pid in json.loads((home / "airflow" / "fake-pids.json").read_text())]
    except (OSError, ValueError):
        return []


def recorded(home: Path) -> dict[str, Any]:
    """What ``state.json`` records now (empty when there is none)."""
    try:
        return dict(json.loads((home / "state.json").read_text()))
    except (OSError, ValueError):
        return {}


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has stopped running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def wait_for(condition: Callable[[], object], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``dli dev`` subprocess: no DLI_* of the caller, a private XDG folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), **extra})
    return env
