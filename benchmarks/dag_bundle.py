"""What a change costs Airflow's DAG processor: one DAG file against dli's DAG bundle (shard files).

Run with Airflow's interpreter (the factory runs inside Airflow)::

    DLI_SRC=$PWD scripts/install-airflow.sh
    .venv-airflow/bin/python benchmarks/dag_bundle.py [--sizes 1000,10000] [--shards 64]

For each size, over a ``file://`` store of that many specs (4 tasks each, as benchmarks/dag_factory.py):

- **full refresh**: CPU seconds to build every DAG once. ``file``: the two-line DAG file parsed in a
  fresh interpreter (as today, every parse). ``bundle``: the bundle's first sync, then every shard
  file parsed one after the other in one interpreter that has imported the factory, as the DAG
  processor's forked parsers have (the bundle module imports it in the processor).
- **one spec changed**: ``file`` re-parses everything (the figure above). ``bundle``: the sync that
  finds the change (one store listing, one spec read) plus the parse of its one shard file.
- **worker build**: a worker building the one DAG it runs (Airflow's parsing context set), imports
  excluded: the two-line file against the bundle's shard file.

Targets (issue #15), with 10,000 specs: a one-spec change re-parsed in <= 1 s, a worker's DAG build
in <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from dag_factory import write_dli_store  # noqa: E402

_PRELUDE = """
import json, os, sys, time, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
import airflow, airflow.sdk  # imports are not what we measure
from airflow.dag_processing.dagbag import DagBag
import dli.entrypoints.airflow.dag_factory, dli.entrypoints.airflow.bundle  # the processor imports them once
from dli.entrypoints.bootstrap import warm_factory
warm_factory()  # as the bundle's initialize() does in the DAG processor, before it forks parsers
"""

_FILE = _PRELUDE + """
cpu = time.process_time(); wall = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "dags": len(bag.dags),
                  "errors": len(bag.import_errors)}))
"""

_BUNDLE = _PRELUDE + """
from pathlib import Path
from dli.entrypoints.bootstrap import build_factory_store
from dli.entrypoints.airflow.shards import sync_bundle
from dli.adapters.airflow.runs import shard_file, shard_of
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.schedule import ScheduleConfig
import attrs

url, folder, shards, changed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
cpu = time.process_time()
kept = build_factory_store(url)  # the bundle keeps its store: a listing reads only what changed
first = sync_bundle(folder, kept, store_url=url, shards=shards)
out["first_sync"] = time.process_time() - cpu
dags = errors = 0
cpu = time.process_time()
for path in sorted(folder.glob("dli_shard_*.py")):
    bag = DagBag(dag_folder=str(path), safe_mode=False)
    dags += len(bag.dags); errors += len(bag.import_errors)
out["parse_all"] = time.process_time() - cpu
out["dags"], out["errors"], out["files"] = dags, errors, len(list(folder.glob("dli_shard_*.py")))

store = FilesystemSpecStore(Path(url.removeprefix("file://")))
current = store.read(SourceType.MANUAL, changed)
document = attrs.evolve(current.document, spec=attrs.evolve(current.document.spec, schedule=ScheduleConfig(cron="5 5 * * *")))
store.replace(SourceType.MANUAL, document, etag=current.etag)
wall = time.perf_counter(); cpu = time.process_time()
report = sync_bundle(folder, kept, store_url=url, shards=shards, last=first.index)
out["change_sync"] = time.perf_counter() - wall
assert report.written == (shard_file(shard_of(changed, shards), shards),), report
bag = DagBag(dag_folder=str(folder / report.written[0]), safe_mode=False)
out["change_total"] = time.perf_counter() - wall
out["change_cpu"] = time.process_time() - cpu
out["change_shard_dags"] = len(bag.dags)
assert bag.dags[changed].timetable.expression == "5 5 * * *", bag.dags[changed].timetable.__dict__
print(json.dumps(out))
"""


def _run(script: str, *args: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, shards: int, root: Path) -> dict:
    store = root / "store"
    write_dli_store(store, size)
    url = store.as_uri()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "3600",
        "DLI_STORE_URL": url,
        "PYTHONPATH": str(REPO / "src"),
    }
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, timeout=600)
    single = root / "single"
    single.mkdir()
    (single / "dli_dags.py").write_text((REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py").read_text())
    changed = f"bench.dataset_{size // 2:04d}"
    file_full = _run(_FILE, str(single / "dli_dags.py"), env=env)
    bundle = _run(_BUNDLE, url, str(root / "bundle"), str(shards), changed, env=env)
    if file_full["dags"] != size or bundle["dags"] != size or file_full["errors"] or bundle["errors"]:
        raise SystemExit(f"built {file_full} / {bundle}: expected {size} DAGs and no error")
    worker_env = {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": changed}
    file_worker = _run(_FILE, str(single / "dli_dags.py"), env=worker_env)
    shard = next((root / "bundle").glob("dli_shard_*.py"))
    # The shard file of the DAG the worker runs.
    from dli.adapters.airflow.runs import shard_file, shard_of  # noqa: PLC0415 - after the sys.path set-up

    shard = root / "bundle" / shard_file(shard_of(changed, shards), shards)
    bundle_worker = _run(_FILE, str(shard), env=worker_env)
    return {"size": size, "file": file_full, "bundle": bundle, "file_worker": file_worker, "bundle_worker": bundle_worker}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shards", type=int, default=256)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="dli-bundle-bench-") as tmp:
            rows.append(measure(size, args.shards, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nDAG processor work per change, dli's DAG bundle ({args.shards} shards) against one DAG file:")
    for row in rows:
        f, b = row["file"], row["bundle"]
        bundle_full = b["first_sync"] + b["parse_all"]
        print(f"  {row['size']:>6} specs:")
        print(f"    full refresh CPU      file {f['cpu']:7.2f} s   bundle {bundle_full:7.2f} s "
              f"(sync {b['first_sync']:.2f} + {b['files']} shard parses {b['parse_all']:.2f})   ratio {bundle_full / f['cpu']:.2f}x")
        print(f"    one spec changed      file {f['wall']:7.2f} s   bundle {b['change_total']:7.3f} s "
              f"(sync {b['change_sync']:.3f} s, shard of {b['change_shard_dags']} DAGs)   ratio {b['change_total'] / f['wall']:.3f}x"
              f"   target <= 1 s")
        fw, bw = row["file_worker"], row["bundle_worker"]
        print(f"    worker DAG build      file {fw['wall'] * 1000:7.1f} ms  bundle {bw['wall'] * 1000:7.1f} ms"
              f"   ratio {bw['wall'] / fw['wall']:.2f}x   target <= 50 ms")


if __name__ == "__main__":
    main()
