"""The DAG factory and dependencies, inside Airflow's environment (a subprocess in its venv): the
schedules built from ``after: upstream``, the query task publishing its Asset, the date read from the
triggering events, and the guard that makes runs wait for the runs they follow."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import Parameter, SpecDocument
from dli.testing.specs import make_spec

REPO = Path(__file__).resolve().parents[4]
VENV = Path(os.environ.get("DLI_AIRFLOW_VENV") or REPO / ".venv-airflow")
PYTHON = VENV / "bin" / "python"

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"no Airflow venv at {VENV} (scripts/install-airflow.sh)")

_PROBE = textwrap.dedent(
    """
    import json, types
    from airflow.sdk.exceptions import AirflowFailException
    from dli.entrypoints.airflow import dag_factory as f

    out = {"dags": {}}
    for dag_id, dag in f.load_dags().items():
        condition = getattr(dag.timetable, "asset_condition", None)
        out["dags"][dag_id] = {
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(getattr(dag.timetable, "timetable", dag.timetable), "expression", None),
            "assets": sorted(a.name for a in getattr(condition, "objects", ())),
            "outlets": {t.task_id: [o.name for o in t.outlets] for t in dag.tasks if t.outlets},
            "guard": type(dag.get_task("dli_guard")).__name__,
            "guard_mode": dag.get_task("dli_guard").mode,
        }

    class TI:
        def __init__(self, states, xcom=None):
            self.states, self.xcom, self.pushed = states, xcom, {}
        def get_dagrun_state(self, dag_id, run_id):
            return self.states[(dag_id, run_id)]
        def xcom_pull(self, **kwargs):
            return self.xcom
        def xcom_push(self, key, value):
            self.pushed[key] = value

    def run(run_type, conf=None, events=(), run_id="r9"):
        return types.SimpleNamespace(run_type=run_type, conf=conf or {}, run_id=run_id, dag_id="s.b",
                                     consumed_asset_events=list(events), logical_date=None, run_after=None)

    def event(dag, run, date):
        return types.SimpleNamespace(source_dag_id=dag, source_run_id=run, extra={"execution_date": date})

    guard = f.DliGuard(task_id="dli_guard")

    def poke(dag_run, ti):
        try:
            return {"ready": guard.poke({"dag_run": dag_run, "ti": ti}), "pushed": ti.pushed}
        except AirflowFailException as exc:
            return {"stopped": str(exc), "pushed": ti.pushed}

    after = {"dag_id": "s.a", "run_id": "r1", "dataset": "s.a", "date": "2025-01-02"}
    chained = {"dli_backfill": {"id": "c", "date": "2025-01-02", "after": after}}
    out["guard"] = {
        "manual": poke(run("manual"), TI({})),
        "chain_waiting": poke(run("manual", chained), TI({("s.a", "r1"): "running"})),
        "chain_ready": poke(run("manual", chained), TI({("s.a", "r1"): "success"})),
        "chain_failed": poke(run("manual", chained), TI({("s.a", "r1"): "failed"})),
        "chain_after_stop": poke(run("manual", chained), TI({("s.a", "r1"): "failed"}, xcom="s.x 2025-01-01")),
        "asset_waiting": poke(run("asset_triggered", events=[event("s.a", "r1", "2025-01-02")]),
                              TI({("s.a", "r1"): "running"})),
        "asset_ready": poke(run("asset_triggered", events=[event("s.a", "r1", "2025-01-02")]),
                            TI({("s.a", "r1"): "success"})),
        "asset_failed": poke(run("asset_triggered", events=[event("s.a", "r1", "2025-01-02")]),
                             TI({("s.a", "r1"): "failed"})),
    }
    out["date"] = {
        "events": f._date_macro(run("asset_triggered", events=[event("s.a", "r1", "2025-01-02"),
                                                                event("s.x", "r2", "2025-01-05")]), timezone="UTC"),
        "conf_wins": f._date_macro(run("manual", {"execution_date": "2024-12-31"},
                                       events=[event("s.a", "r1", "2025-01-02")]), timezone="UTC"),
    }

    class Accessor:
        def __init__(self):
            self.added = []
        def add(self, asset, extra=None):
            self.added.append({"asset": asset.name, "extra": extra})

    class Events(dict):
        def __missing__(self, key):
            self[key] = Accessor()
            return self[key]

    query = f.load_dags()["s.a"].get_task("query")
    published = {}
    for label, dag_run, params in (
        ("adhoc", run("manual", {"execution_date": "2025-01-01"}, run_id="manual__1"), {}),
        ("backfill", run("backfill", {"dli_backfill": {"id": "b"}}), {}),
        ("chained", run("manual", chained), {}),
    ):
        events = Events()
        query._publish({"dag_run": dag_run, "outlet_events": events, "params": params})
        published[label] = [a for accessor in events.values() for a in accessor.added]
    declared = f.load_dags()["s.declared"].get_task("query")
    events = Events()
    declared._publish({"dag_run": run("manual", run_id="manual__2"), "outlet_events": events,
                       "params": {"execution_date": "2025-03-03"}})
    published["declared"] = [a for accessor in events.values() for a in accessor.added]
    out["published"] = published
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def probed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("deps-factory")
    store = FilesystemSpecStore(root / "store")
    specs = [
        make_spec("s.a"),
        make_spec("s.b", cron=None, after="upstream", depends_on=("s.a", "ext.raw")),
        make_spec("s.c", cron="30 7 * * *", after="upstream", depends_on=("s.a", "s.b")),
        make_spec("s.d", cron=None, after="upstream", depends_on=("ext.raw",)),
        make_spec("s.e", cron="0 8 * * *", after="upstream", depends_on=("ext.raw",)),
        make_spec("s.declared", parameters=(Parameter(name="execution_date", type="date"),)),
    ]
    for spec in specs:
        store.create(SourceType.MANUAL, SpecDocument(spec=spec, source_type=SourceType.MANUAL))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "DLI_"))}
    env.update(
        {
            "DLI_STORE_URL": (root / "store").as_uri(),
            "AIRFLOW_HOME": str(root / "airflow-home"),
            "PYTHONPATH": str(REPO / "src"),
        }
    )
    done = subprocess.run([str(PYTHON), "-c", _PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_schedule_is_the_cron_the_managed_upstreams_assets_or_both(probed):
    dags = probed["dags"]
    assert (dags["s.a"]["timetable"], dags["s.a"]["assets"]) == ("CronTriggerTimetable", [])
    assert (dags["s.b"]["timetable"], dags["s.b"]["assets"]) == ("AssetTriggeredTimetable", ["dli://s.a"])
    assert dags["s.c"]["timetable"] == "AssetOrTimeSchedule"
    assert (dags["s.c"]["assets"], dags["s.c"]["cron"]) == (["dli://s.a", "dli://s.b"], "30 7 * * *")


def test_external_upstreams_never_schedule_a_dag(probed):
    assert probed["dags"]["s.d"]["timetable"] == "NullTimetable"  # only an external upstream: triggered by hand
    assert (probed["dags"]["s.e"]["timetable"], probed["dags"]["s.e"]["cron"]) == ("CronTriggerTimetable", "0 8 * * *")


def test_the_query_task_publishes_through_the_datasets_alias_and_the_guard_reschedules(probed):
    for name, dag in probed["dags"].items():
        assert dag["outlets"] == {"query": [f"dli-publish:{name}"]}
        assert (dag["guard"], dag["guard_mode"]) == ("DliGuard", "reschedule")


def test_a_run_publishes_its_dataset_with_its_date_and_run_id_but_a_backfill_publishes_nothing(probed):
    published = probed["published"]
    assert published["adhoc"] == [
        {"asset": "dli://s.a", "extra": {"dataset": "s.a", "execution_date": "2025-01-01", "run_id": "s.a@manual__1"}}
    ]
    assert published["backfill"] == [] and published["chained"] == []
    assert published["declared"][0]["extra"]["execution_date"] == "2025-03-03"


def test_a_run_started_by_upstream_data_processes_the_latest_published_date(probed):
    assert probed["date"] == {"events": "2025-01-05", "conf_wins": "2024-12-31"}


def test_the_guard_lets_ordinary_runs_through_and_holds_the_others_until_what_they_follow_ended(probed):
    guard = probed["guard"]
    assert guard["manual"]["ready"] is True
    assert guard["chain_waiting"]["ready"] is False and guard["asset_waiting"]["ready"] is False
    assert guard["chain_ready"]["ready"] is True and guard["asset_ready"]["ready"] is True


def test_the_guard_stops_a_run_whose_predecessor_failed_naming_the_first_failure(probed):
    guard = probed["guard"]
    assert guard["chain_failed"] == {
        "stopped": "Not run: the backfill stopped after s.a 2025-01-02 failed",
        "pushed": {"stopped_after": "s.a 2025-01-02"},
    }
    assert guard["chain_after_stop"]["stopped"] == "Not run: the backfill stopped after s.x 2025-01-01 failed"
    assert guard["asset_failed"]["stopped"] == "Not run: the upstream run s.a@r1 that published new data failed"
