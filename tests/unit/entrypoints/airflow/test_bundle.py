"""dli's DAG bundle inside Airflow's own environment (run in that venv through a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from dli.adapters.airflow.runs import shard_file, shard_of, shard_of_file, shard_tag
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.testing.specs import make_document

REPO = Path(__file__).resolve().parents[4]
VENV = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
PYTHON = VENV / "bin" / "python"
SHARDS = 4

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"no Airflow venv at {VENV} (scripts/install-airflow.sh)")

_PROBE = textwrap.dedent(
    """
    import json, os
    from airflow.dag_processing.dagbag import DagBag
    from dli.entrypoints.airflow.bundle import DliDagBundle

    bundle = DliDagBundle(name="dli", shards=int(os.environ["SHARDS"]), refresh_interval=5)
    bundle.initialize()
    out = {"path": str(bundle.path), "files": {}}
    for path in sorted(bundle.path.glob("dli_shard_*.py")):
        bag = DagBag(dag_folder=str(path), safe_mode=True)
        out["files"][path.name] = {
            "dags": sorted(bag.dags),
            "broken": sorted(d for d, dag in bag.dags.items() if "dli:broken" in dag.tags),
            "errors": {str(k): str(v)[-300:] for k, v in bag.import_errors.items()},
            "schedules": {d: type(dag.timetable).__name__ for d, dag in bag.dags.items()},
            "tags": {d: sorted(dag.tags) for d, dag in bag.dags.items()},
        }
    print(json.dumps(out))
    """
)


def _probe(root: Path, store: Path, **env: str) -> dict:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "DLI_"))
    }
    full_env.update(
        {
            "DLI_STORE_URL": store.as_uri(),
            "AIRFLOW_HOME": str(root / "airflow-home"),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(root / "bundles"),
            "PYTHONPATH": str(REPO / "src"),  # the dli under test, not the one the Airflow venv has installed
            "SHARDS": str(SHARDS),
            **env,
        }
    )
    done = subprocess.run([str(PYTHON), "-c", _PROBE], capture_output=True, text=True, env=full_env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle-store") / "store"
    specs = FilesystemSpecStore(root)
    for i in range(12):
        specs.create(SourceType.MANUAL, make_document(f"shop.ds_{i:02d}"))
    specs.create(
        SourceType.MANUAL, make_document("shop.after", cron=None, after="upstream", depends_on=("shop.ds_00",))
    )
    (root / "manual" / "shop.broken.yaml").write_text(
        "name: shop.broken\nquery_statement: SELECT 1\nschedule: {cron: 'not a cron'}\n"
    )
    return root


@pytest.fixture(scope="module")
def processor(tmp_path_factory, store: Path) -> dict:
    """What the DAG processor's bundle writes and each of its shard files builds."""
    return _probe(tmp_path_factory.mktemp("processor"), store)


def test_the_dag_processor_gets_every_dataset_once_in_the_file_of_its_shard(processor: dict) -> None:
    out = processor
    names = [f"shop.ds_{i:02d}" for i in range(12)] + ["shop.after", "shop.broken"]
    expected: dict[str, list[str]] = {}
    for name in names:
        expected.setdefault(shard_file(shard_of(name, SHARDS), SHARDS), []).append(name)
    assert {f: info["dags"] for f, info in out["files"].items()} == {f: sorted(n) for f, n in expected.items()}
    assert all(not info["errors"] for info in out["files"].values())


def test_every_dag_of_a_shard_carries_its_shard_tag_so_dli_can_find_the_file(processor: dict) -> None:
    for file, info in processor["files"].items():
        number, shards = shard_of_file(file)
        assert all(shard_tag(number, shards) in tags for tags in info["tags"].values()), file


def test_a_broken_spec_is_a_broken_dag_of_its_shard_only(processor: dict) -> None:
    out = processor
    broken = {f: info["broken"] for f, info in out["files"].items() if info["broken"]}
    assert broken == {shard_file(shard_of("shop.broken", SHARDS), SHARDS): ["shop.broken"]}


def test_a_shard_parse_schedules_a_dataset_on_the_assets_of_its_upstreams(processor: dict) -> None:
    out = processor
    info = out["files"][shard_file(shard_of("shop.after", SHARDS), SHARDS)]
    assert info["schedules"]["shop.after"] == "AssetTriggeredTimetable"


def test_a_worker_writes_and_parses_only_the_shard_of_the_dag_it_runs(tmp_path: Path, store: Path) -> None:
    out = _probe(tmp_path, store, _AIRFLOW_PARSING_CONTEXT_DAG_ID="shop.ds_03")
    assert {f: info["dags"] for f, info in out["files"].items()} == {
        shard_file(shard_of("shop.ds_03", SHARDS), SHARDS): ["shop.ds_03"]
    }
    assert not (Path(out["path"]) / "dli_bundle.json").exists()  # no listing of the store on a worker


def test_each_shard_parse_records_the_content_it_parsed_for_the_bundles_parse_watch(processor: dict) -> None:
    from dli.entrypoints.airflow.shards import parsed_digest, shard_digest
    from tests.unit.entrypoints.airflow.test_parse_watch import specs_in

    folder = Path(processor["path"])
    assert processor["files"]
    for file in processor["files"]:
        assert parsed_digest(folder, file) == shard_digest(specs_in((folder / file).read_text())), file
