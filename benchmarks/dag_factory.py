"""How long Airflow takes to parse 1,000 dli datasets, against dag-factory and hand-written Python.

Run with Airflow's interpreter (the factory runs inside Airflow)::

    WITH_DAG_FACTORY=1 DLI_SRC=$PWD scripts/install-airflow.sh     # adds dag-factory==1.1.0 (benchmark only)
    .venv-airflow/bin/python benchmarks/dag_factory.py [--specs 1000] [--repeat 3]

Three DAG files build the same 1,000 DAGs (4 tasks each: dli_guard, a pre statement, the query, a
post statement; CronTriggerTimetable, params, retries, tags):

- ``dli``: the two-line dli file over a ``file://`` store of 1,000 spec documents (YAML);
- ``dag-factory``: dag-factory 1.1.0 loading one equivalent YAML file;
- ``direct``: plain Python constructing the DAGs from an in-memory list (no YAML at all).

Each is timed as ``DagBag(<file>)`` in a fresh interpreter (as Airflow's DAG processor parses a file
in a fresh process), after importing Airflow and the SQL provider, so import time is not counted.
The figure is the median of ``--repeat`` runs. Target: dli within 1.5x of ``direct``, faster than
``dag-factory``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACTORY_MODULE = REPO / "src" / "dli" / "entrypoints" / "airflow" / "dag_factory.py"
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def _spec_fields(i: int) -> dict:
    return {
        "name": f"bench.dataset_{i:04d}",
        "description": f"Benchmark dataset {i}",
        "cron": f"{i % 60} {i % 24} * * *",
        "timezone": "Asia/Seoul" if i % 2 else "UTC",
        "pre": f"DELETE FROM t_{i} WHERE dt = '{{{{ execution_date }}}}'",
        "query": f"INSERT INTO t_{i} SELECT '{{{{ execution_date }}}}', {{{{ min_amount }}}} FROM src WHERE n > {i}",
        "post": f"ANALYZE t_{i}",
    }


def write_dli_store(root: Path, count: int, *, enabled: bool = True) -> None:
    from dli.adapters.stores.filesystem import FilesystemSpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, Parameter, SpecDocument, Statement

    store = FilesystemSpecStore(root)
    for i in range(count):
        f = _spec_fields(i)
        spec = DatasetSpec(
            name=f["name"],
            owner="bench@example.com",
            description=f["description"],
            query_statement=f["query"],
            parameters=(Parameter(name="min_amount", type="integer", default=0),),
            pre_statements=(Statement(sql=f["pre"]),),
            post_statements=(Statement(sql=f["post"], name="analyze", continue_on_error=True),),
            execution={"conn_id": "bench"},
            schedule=ScheduleConfig(
                cron=f["cron"], timezone=f["timezone"], enabled=enabled, retry_max_attempts=2, retry_delay_seconds=60
            ),
        )
        store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_at=REGISTERED))


def write_dag_factory_yaml(path: Path, count: int) -> None:
    import yaml

    from dli.entrypoints.airflow.sql_template import sql_template
    from dli.domain.model.spec import Parameter

    params = [Parameter(name="min_amount", type="integer", default=0)]
    config: dict = {}
    for i in range(count):
        f = _spec_fields(i)
        config[f["name"]] = {
            "description": f["description"],
            "schedule": {
                "__type__": "airflow.sdk.CronTriggerTimetable",
                "__args__": [f["cron"]],
                "timezone": f["timezone"],
            },
            "start_date": REGISTERED.isoformat(),
            "catchup": False,
            "max_active_runs": 1,
            "is_paused_upon_creation": False,
            "tags": ["dli", "source:manual"],
            "params": {"min_amount": 0},
            "default_args": {"owner": "bench@example.com", "retries": 1, "retry_delay_sec": 60},
            "tasks": {
                "dli_guard": {
                    "operator": "airflow.providers.standard.operators.python.PythonOperator",
                    "python_callable": "dli.entrypoints.airflow.dag_factory.backfill_guard",
                    "retries": 0,
                },
                "pre_1": {
                    "operator": "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator",
                    "conn_id": "bench",
                    "sql": sql_template(f["pre"], params),
                    "dependencies": ["dli_guard"],
                },
                "query": {
                    "operator": "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator",
                    "conn_id": "bench",
                    "sql": sql_template(f["query"], params),
                    "dependencies": ["pre_1"],
                },
                "post_1_analyze": {
                    "operator": "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator",
                    "conn_id": "bench",
                    "sql": sql_template(f["post"], params),
                    "dependencies": ["query"],
                },
            },
        }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


DIRECT_FILE = '''
import datetime as dt
import functools
import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.python import PythonOperator
from dli.entrypoints.airflow.dag_factory import backfill_guard, _date_macro
from dli.entrypoints.airflow.sql_template import sql_template
from dli.domain.model.spec import Parameter

SPECS = {specs!r}
PARAMS = [Parameter(name="min_amount", type="integer", default=0)]
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

for f in SPECS:
    dag = DAG(
        dag_id=f["name"],
        description=f["description"],
        schedule=CronTriggerTimetable(f["cron"], timezone=f["timezone"]),
        start_date=pendulum.instance(REGISTERED).in_timezone(f["timezone"]),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["dli", "source:manual"],
        params={{"min_amount": Param(0, type=["integer", "null"])}},
        user_defined_macros={{"dli_execution_date": functools.partial(_date_macro, timezone=f["timezone"])}},
        default_args={{"owner": "bench@example.com", "retries": 1, "retry_delay": dt.timedelta(seconds=60)}},
    )
    previous = PythonOperator(task_id="dli_guard", python_callable=backfill_guard, retries=0, dag=dag)
    for task_id, key in (("pre_1", "pre"), ("query", "query"), ("post_1_analyze", "post")):
        task = SQLExecuteQueryOperator(
            task_id=task_id, sql=sql_template(f[key], PARAMS), conn_id="bench", split_statements=True,
            do_xcom_push=False, dag=dag,
        )
        previous >> task
        previous = task
    globals()[f["name"]] = dag
'''

DLI_FILE = (REPO / "src" / "dli" / "entrypoints" / "airflow" / "dli_dags.py").read_text()

DAG_FACTORY_FILE = """
from dagfactory import load_yaml_dags
load_yaml_dags(globals_dict=globals(), config_filepath={path!r})
"""

_TIMER = textwrap.dedent(
    """
    import json, sys, time, warnings, logging
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import airflow, airflow.sdk  # imports are not what we measure
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.dag_processing.dagbag import DagBag
    start = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "dags": len(bag.dags), "errors": {k: v[-300:] for k, v in bag.import_errors.items()}}))
    """
)


def time_parse(dag_file: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", _TIMER, str(dag_file)], capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"parse of {dag_file.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import dagfactory  # noqa: F401
    except ImportError:
        raise SystemExit("dag-factory is not installed here: WITH_DAG_FACTORY=1 DLI_SRC=$PWD scripts/install-airflow.sh") from None

    with tempfile.TemporaryDirectory(prefix="dli-bench-") as tmp:
        root = Path(tmp)
        write_dli_store(root / "store", args.specs)
        write_dag_factory_yaml(root / "dag_factory.yaml", args.specs)
        files = {}
        for name, text in (
            ("dli", DLI_FILE),
            ("dag-factory", DAG_FACTORY_FILE.format(path=str(root / "dag_factory.yaml"))),
            ("direct", DIRECT_FILE.format(specs=[_spec_fields(i) for i in range(args.specs)])),
        ):
            folder = root / name
            folder.mkdir()
            files[name] = folder / f"bench_{name.replace('-', '_')}.py"
            files[name].write_text(text)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
            "AIRFLOW_HOME": str(root / "airflow-home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "1800",
            "DLI_STORE_URL": (root / "store").as_uri(),
        }
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, timeout=600)
        results: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.repeat):
            for name, path in files.items():
                outcome = time_parse(path, env)
                if outcome["dags"] != args.specs or outcome["errors"]:
                    raise SystemExit(f"{name}: built {outcome['dags']} DAGs, errors: {outcome['errors']}")
                results[name].append(outcome["seconds"])
    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"Parse of {args.specs} datasets (DagBag of one file, median of {args.repeat}):")
    for name in ("direct", "dli", "dag-factory"):
        print(f"  {name:<12} {median[name]:7.2f} s   (runs: {', '.join(f'{v:.2f}' for v in results[name])})")
    print(f"  dli / direct       = {median['dli'] / median['direct']:.2f}x  (target <= 1.5x)")
    print(f"  dag-factory / dli  = {median['dag-factory'] / median['dli']:.2f}x  (target > 1: dli faster)")


if __name__ == "__main__":
    main()
