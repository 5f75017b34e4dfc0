"""Register -> live on a real Airflow 3 with 1,000 datasets present: one DAG file against dli's DAG bundle.

Run with dli's interpreter (it starts ``airflow standalone`` from ``$DLI_AIRFLOW_VENV``, default
``.venv-airflow``)::

    .venv/bin/python benchmarks/factory_live.py [--specs 1000] [--registrations 5] [--layouts file,bundle]

For each layout, in one script and on the same machine:

- ``file``: the two-line DAG file (``load_dags``), every DAG in one file;
- ``bundle``: ``DliDagBundle`` (``--shards`` shard files).

it writes ``--specs`` datasets into a ``file://`` store, starts Airflow standalone, and reports the
seconds until every DAG is listed by Airflow's REST API, Airflow's own ``last_parse_duration`` of
the file a registration lands in, and ``dli workflow register --wait`` (the CLI as a user runs it,
through a Basecamp server on the same store) of ``--registrations`` new datasets, one after the
other: median and each run.
Target (issue #15): median register -> live <= 3 s with the bundle and 1,000 datasets present.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from dag_factory import write_dli_store  # noqa: E402

from tests.support.airflow_stack import AirflowStack  # noqa: E402
from tests.support.basecamp import start_basecamp  # noqa: E402

SPEC = """name: {name}
owner: bench@example.com
query_statement: SELECT 1
"""


def _get(stack: AirflowStack, path: str) -> dict:
    request = urllib.request.Request(f"{stack.base_url}{path}", headers=stack.auth_headers())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _listed(stack: AirflowStack) -> int:
    return int(_get(stack, "/api/v2/dags?limit=1&tags=dli")["total_entries"])


def _component_pids(stack: AirflowStack) -> dict[str, int]:
    """The scheduler's and the DAG processor's pids (``airflow standalone`` runs them as children)."""
    pids = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != stack.proc.pid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ProcessLookupError):
            continue
        for component in ("scheduler", "dag-processor"):
            if component.encode() in argv:
                pids[component] = int(entry.name)
    return pids


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime + stime + the same of its children that ended (the DAG processor's parsing processes)
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(stack: AirflowStack, *, seconds: float) -> dict[str, float]:
    """Share of one core each of the scheduler and the DAG processor uses while nothing happens."""
    pids = _component_pids(stack)
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: round((_cpu_seconds(pid) - before[name]) / seconds, 3) for name, pid in pids.items()}


def run_layout(layout: str, *, specs: int, registrations: int, shards: int, root: Path) -> dict:
    store = root / "store"
    # Paused, as Airflow creates them: 1,000 DAGs running their latest tick would be another benchmark.
    write_dli_store(store, specs, enabled=False)
    dags = root / "dags"
    dags.mkdir()
    env = {
        "DLI_STORE_URL": store.as_uri(),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "600",
        # What docs/airflow.md recommends for each layout: the bundle tells Airflow which file changed
        # (mtime), so the periodic re-parse of every file can be rare.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30" if layout == "file" else "600",
    }
    if layout == "file":
        shutil.copy(REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py", dags / "dli_dags.py")
    else:
        env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"] = str(root / "bundles")
        env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps([
            {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
            {"name": "dli", "classpath": "dli.entrypoints.airflow.bundle.DliDagBundle",
             "kwargs": {"store_url": store.as_uri(), "shards": shards, "refresh_interval": 5}},
        ])
    venv = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
    stack = AirflowStack(venv=venv, dags_folder=dags, airflow_home=root / "airflow", extra_env=env, startup_timeout=300)
    started = time.monotonic()
    stack.start()
    try:
        up = time.monotonic() - started
        while _listed(stack) < specs:
            if time.monotonic() - started > 900:
                raise SystemExit(f"{layout}: only {_listed(stack)} of {specs} DAGs listed after 900 s")
            time.sleep(0.5)
        all_live = time.monotonic() - started
        idle = _idle_cpu(stack, seconds=20)
        project = root / "project"
        project.mkdir()
        (project / "dli.yaml").write_text("project: bench\n")
        # Through a Basecamp server on the same store, as users register (its index holds the specs).
        basecamp = start_basecamp(
            root / "basecamp",
            store_url=store.as_uri(),
            orchestrator_url=stack.base_url,
            check_interval=30.0,
            user="bench",
            env={
                "DLI_AIRFLOW_USERNAME": stack.username,
                "DLI_AIRFLOW_PASSWORD": stack.password or "",
                "DLI_AIRFLOW_READ_TIMEOUT": "25",
            },
            startup_timeout=120,
        )
        # The two-line file's parse can outlast the CLI's default 30 s request timeout.
        config = root / "xdg" / "dli" / "config.yaml"
        config.parent.mkdir(parents=True)
        config.write_text("timeout_seconds: 300\n")
        config.chmod(0o600)
        cli_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "AIRFLOW"))},
            "XDG_CONFIG_HOME": str(root / "xdg"),
            "DLI_API_TOKEN": basecamp.token,
            "PYTHONPATH": str(REPO / "src"),
        }
        seconds = []
        for i in range(registrations):
            name = f"bench.new_{i}"
            (project / f"dataset.{name}.yaml").write_text(SPEC.format(name=name))
            time.sleep(3)  # let the previous registration's parse settle, as between two users' commands
            begin = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "dli", "--mode", "server", "--server", basecamp.url, "workflow", "register", name,
                 "--cron", "0 6 * * *", "--wait", "--wait-timeout", "300"],
                cwd=project, env=cli_env, capture_output=True, text=True, timeout=400,
            )
            if done.returncode != 0:
                raise SystemExit(f"{layout}: register {name} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
            seconds.append(time.monotonic() - begin)
        basecamp.stop()
        details = _get(stack, f"/api/v2/dags/bench.new_{registrations - 1}/details")
        return {
            "layout": layout,
            "airflow_up": up,
            "all_live": all_live,
            "idle_cpu": idle,
            "register": seconds,
            "file": details.get("relative_fileloc"),
            "last_parse_duration": details.get("last_parse_duration"),
        }
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=1000)
    parser.add_argument("--registrations", type=int, default=5)
    parser.add_argument("--shards", type=int, default=256)
    parser.add_argument("--layouts", default="file,bundle")
    args = parser.parse_args()
    results = []
    for layout in args.layouts.split(","):
        with tempfile.TemporaryDirectory(prefix=f"dli-live-{layout}-") as tmp:
            results.append(run_layout(
                layout, specs=args.specs, registrations=args.registrations, shards=args.shards, root=Path(tmp)
            ))
            print(json.dumps(results[-1]), flush=True)
    print(f"\nRegister -> live with {args.specs} datasets present (Airflow standalone, this machine):")
    medians = {}
    for result in results:
        medians[result["layout"]] = statistics.median(result["register"])
        print(
            f"  {result['layout']:<7} all {args.specs} DAGs listed {result['all_live']:6.1f} s after start "
            f"(Airflow up in {result['airflow_up']:.1f} s); register --wait median {medians[result['layout']]:5.2f} s "
            f"(runs: {', '.join(f'{s:.2f}' for s in result['register'])}); "
            f"parse of {result['file']}: {result['last_parse_duration']}; idle CPU (share of a core) {result['idle_cpu']}"
        )
    if "file" in medians and "bundle" in medians:
        print(f"  bundle / file = {medians['bundle'] / medians['file']:.2f}x  (target: bundle median <= 3 s)")


if __name__ == "__main__":
    main()
