"""The DAG bundle's re-parse request reaches Airflow 3's DAG processor (real Airflow, its own
venv, a SQLite metadata database): the request is recorded once however often it is made, and the
processor's manager claims it as a file to parse first.

The race itself (a shard rewritten during its parse): test_parse_race.py against a real DAG
processor, tests/unit/entrypoints/airflow/test_parse_watch.py against Airflow's re-parse rule.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from tests.integration.bundle.conftest import PYTHON, airflow_env

_CHECK = textwrap.dedent(
    """
    import json
    from airflow.dag_processing.manager import DagFileProcessorManager
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from dli.entrypoints.airflow.bundle import DliDagBundle

    bundle = DliDagBundle(name="dli", shards=4, refresh_interval=5)
    bundle._request_parse(["dli_shard_001_of_004.py"])
    bundle._request_parse(["dli_shard_001_of_004.py", "dli_shard_002_of_004.py"])
    with create_session() as session:
        rows = sorted([r.bundle_name, r.relative_fileloc] for r in session.scalars(select(DagPriorityParsingRequest)))
    manager = DagFileProcessorManager(max_runs=1)
    manager._dag_bundles = [bundle]
    claimed = sorted(str(f.rel_path) for f in manager._claim_priority_files())
    print(json.dumps({"rows": rows, "claimed": claimed}))
    """
)


def test_a_reparse_request_is_recorded_once_and_claimed_by_the_dag_processor(airflow_home: Path) -> None:
    env = airflow_env(airflow_home, DLI_STORE_URL="memory://parse-requests")
    done = subprocess.run(
        [str(PYTHON), "-c", _CHECK], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rows"] == [["dli", "dli_shard_001_of_004.py"], ["dli", "dli_shard_002_of_004.py"]]
    assert out["claimed"] == ["dli_shard_001_of_004.py", "dli_shard_002_of_004.py"]
