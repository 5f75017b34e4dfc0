"""AirflowOrchestrator against a scripted Airflow (httpx.MockTransport): requests made, paging, mapping.

The behaviour against a real Airflow is covered by tests/e2e (contract and scenarios).
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.errors import ServerError, WorkflowExecutionError
from dli.ports.orchestrator import BackfillRequest, RunQuery
from tests.unit.adapters.airflow.scripted import ScriptedAirflow, body

PAGE_CAP = 100  # Airflow's default maximum_page_limit


def _run(**fields):
    base = {
        "dag_id": "a.b",
        "dag_run_id": "r1",
        "state": "success",
        "run_type": "manual",
        "conf": {},
        "note": None,
        "logical_date": None,
        "run_after": "2025-01-01T00:00:00Z",
        "queued_at": "2025-01-01T00:00:00Z",
        "start_date": "2025-01-01T00:00:01Z",
        "end_date": "2025-01-01T00:00:02Z",
    }
    return {**base, **fields}


def _page(request: httpx.Request, key: str, items: list) -> httpx.Response:
    """One page of ``items`` as Airflow serves it: GET limit/offset or POST page_limit/page_offset, capped."""
    if request.method == "GET":
        limit, offset = int(request.url.params.get("limit", 50)), int(request.url.params.get("offset", 0))
    else:
        sent = body(request)
        limit, offset = int(sent.get("page_limit", 50)), int(sent.get("page_offset", 0))
    limit = min(limit, PAGE_CAP)
    return httpx.Response(200, json={key: items[offset : offset + limit], "total_entries": len(items)})


# -- one workflow ---------------------------------------------------------------------------------


def test_is_paused_reads_that_one_dag_and_is_none_when_airflow_does_not_know_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags/a.b":
            return httpx.Response(200, json={"dag_id": "a.b", "is_paused": True})
        return httpx.Response(404, json={"detail": "not found"})

    airflow = ScriptedAirflow(handler)
    orch = airflow.orchestrator()
    assert orch.is_paused("a.b") is True
    assert orch.is_paused("x.y") is None
    assert airflow.calls() == [("GET", "/api/v2/dags/a.b"), ("GET", "/api/v2/dags/x.y")]


@pytest.mark.parametrize(("status", "total", "expected"), [(200, 1, True), (200, 0, False), (404, 0, False)])
def test_is_running_asks_for_one_queued_or_running_run_of_that_dag(status, total, expected) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"dag_runs": [_run(state="running")] * total, "total_entries": total})

    airflow = ScriptedAirflow(handler)
    assert airflow.orchestrator().is_running("a.b") is expected
    (request,) = airflow.requests
    assert request.url.path == "/api/v2/dags/a.b/dagRuns"
    assert request.url.params.get_list("state") == ["queued", "running"] and request.url.params["limit"] == "1"


def test_trigger_posts_the_run_without_reading_the_dag_first() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_run(state="queued", dag_run_id=body(request)["dag_run_id"]))

    airflow = ScriptedAirflow(handler)
    record = airflow.orchestrator().trigger("a.b", parameters={"x": 1}, triggered_by="alice")
    assert record.status is RunStatus.PENDING
    assert airflow.calls() == [("POST", "/api/v2/dags/a.b/dagRuns")]
    assert body(airflow.requests[0])["conf"] == {"x": 1}


def test_trigger_waits_for_a_dag_airflow_has_not_parsed_yet_then_posts_again() -> None:
    posts = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags/a.b/dagRuns":
            posts.append(body(request)["dag_run_id"])
            if len(posts) < 3:
                return httpx.Response(404, json={"detail": "Dag with dag_id: 'a.b' not found"})
            return httpx.Response(200, json=_run(state="queued", dag_run_id=posts[-1]))
        if request.url.path == "/api/v2/dags":
            return httpx.Response(200, json={"dags": [{"dag_id": "x", "file_token": "ft"}], "total_entries": 1})
        return httpx.Response(201, json={})  # PUT parseDagFile

    airflow = ScriptedAirflow(handler)
    airflow.orchestrator().trigger("a.b", parameters={}, triggered_by=None)
    assert ("PUT", "/api/v2/parseDagFile/ft") in airflow.calls()
    assert len(posts) == 3 and len(set(posts)) == 1  # one run, asked for until Airflow knew the DAG


def test_a_dag_that_never_appears_is_a_clear_error_after_a_bounded_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags":
            return httpx.Response(200, json={"dags": [], "total_entries": 0})
        return httpx.Response(404, json={"detail": "not found"})

    with pytest.raises(WorkflowExecutionError) as caught:
        ScriptedAirflow(handler).orchestrator(dag_wait_seconds=0.05).set_paused("a.b", True)
    assert "a.b" in caught.value.message


def test_a_backfill_refused_with_database_locked_is_sent_again() -> None:
    markers = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/backfills":
            markers.append(body(request)["dag_run_conf"]["dli_backfill"])
            if len(markers) == 1:
                return httpx.Response(503, json={"detail": "(sqlite3.OperationalError) database is locked"})
            return httpx.Response(200, json={"id": 7})
        run = _run(dag_run_id="backfill__1", run_type="backfill", conf={"dli_backfill": markers[-1]})
        return _page(request, "dag_runs", [run])

    handle = ScriptedAirflow(handler).orchestrator().backfill(BackfillRequest(name="a.b", dates=[dt.date(2025, 1, 1)]))
    assert len(markers) == 2 and handle.backfill_id == "7" and handle.run_ids == ("a.b@backfill__1",)


def test_a_trigger_refused_by_airflows_database_is_sent_again_and_a_run_it_did_create_is_taken() -> None:
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(body(request)["dag_run_id"])
            if len(posts) == 1:  # refused, though the database kept the run
                return httpx.Response(500, json={"detail": "Database error"})
            return httpx.Response(409, json={"detail": "DAG run already exists"})
        assert request.url.path == f"/api/v2/dags/a.b/dagRuns/{posts[0]}"
        return httpx.Response(200, json=_run(dag_run_id=posts[0], state="queued", end_date=None))

    record = ScriptedAirflow(handler).orchestrator().trigger("a.b", parameters={}, triggered_by=None)
    assert len(posts) == 2 and posts[0] == posts[1] and record.run_id == f"a.b@{posts[0]}"


def test_a_backfill_refused_with_database_error_cancels_what_it_left_active_and_is_created_again() -> None:
    markers: list[dict] = []
    cancelled: list[str] = []
    leftover = {"id": 3, "completed_at": None}  # what the failed attempt left: active, its runs gone

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/backfills" and request.method == "POST":
            markers.append(body(request)["dag_run_conf"]["dli_backfill"])
            if len(markers) == 1:
                return httpx.Response(500, json={"detail": "Database error"})
            return httpx.Response(200, json={"id": 8})
        if request.url.path == "/api/v2/backfills":  # GET: the DAG's backfills, ours and another's
            assert request.url.params["dag_id"] == "a.b"
            ours = {**leftover, "dag_run_conf": {"dli_backfill": markers[0]}}
            other = {"id": 2, "completed_at": None, "dag_run_conf": {"dli_backfill": {"id": "someone-else"}}}
            return _page(request, "backfills", [other, ours])
        if request.url.path.endswith("/cancel"):
            cancelled.append(request.url.path)
            return httpx.Response(200, json={**leftover, "completed_at": "2025-01-01T00:00:00Z"})
        run = _run(dag_run_id="backfill__1", run_type="backfill", conf={"dli_backfill": markers[-1]})
        return _page(request, "dag_runs", [run])

    handle = ScriptedAirflow(handler).orchestrator().backfill(BackfillRequest(name="a.b", dates=[dt.date(2025, 1, 1)]))
    # Only the leftover of its own first attempt is cancelled; the second attempt is the backfill.
    assert cancelled == ["/api/v2/backfills/3/cancel"]
    assert markers[0] == markers[1] and handle.backfill_id == "8" and handle.run_ids == ("a.b@backfill__1",)


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(500, json={"detail": "Database error"}),  # SQLite locked past its busy timeout
        httpx.Response(503, json={"detail": "(sqlite3.OperationalError) database is locked"}),
    ],
    ids=["500-database-error", "503-locked"],
)
def test_a_stop_refused_by_airflows_database_is_sent_again(refusal: httpx.Response) -> None:
    patches = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            patches.append(body(request)["state"])
            return (
                refusal
                if len(patches) == 1
                else httpx.Response(200, json=_run(state="failed", note=body(request)["note"]))
            )
        return httpx.Response(200, json=_run(state="running", end_date=None))

    record = ScriptedAirflow(handler).orchestrator().stop_run("a.b@r1")
    assert patches == ["failed", "failed"] and record.status is RunStatus.KILLED


def test_another_server_error_of_a_stop_is_not_sent_again() -> None:
    patches = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            patches.append(body(request)["state"])
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        return httpx.Response(200, json=_run(state="running", end_date=None))

    with pytest.raises(ServerError, match="HTTP 500"):
        ScriptedAirflow(handler).orchestrator().stop_run("a.b@r1")
    assert patches == ["failed"]


# -- paging ---------------------------------------------------------------------------------------


def test_every_list_is_read_page_by_page_within_airflows_page_cap() -> None:
    dags = [{"dag_id": f"d.n{i:03}", "is_paused": i % 2 == 0} for i in range(250)]
    runs = [_run(dag_id=f"d.n{i:03}", dag_run_id=f"r{i}", state="running") for i in range(230)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags":
            return _page(request, "dags", dags)
        return _page(request, "dag_runs", runs)

    airflow = ScriptedAirflow(handler)
    orch = airflow.orchestrator()
    states = orch.pause_states()
    assert len(states) == 250 and states["d.n248"] is True and states["d.n249"] is False
    assert orch.running() == {f"d.n{i:03}" for i in range(230)}
    recent, total = orch.list_runs(RunQuery(limit=150))
    assert len(recent) == 150 and total == 230


def test_workflow_states_asks_about_the_named_dags_only_and_keeps_exact_matches() -> None:
    # What Airflow holds: the page's DAGs, a DAG the substring search also finds, and many others.
    dags = {
        "shop.a": {"dag_id": "shop.a", "is_paused": True},
        "shop.a_x": {"dag_id": "shop.a_x", "is_paused": False},  # found by the substring 'shop.a'
        "shop.b": {"dag_id": "shop.b", "is_paused": False},
        **{f"other.n{i:03}": {"dag_id": f"other.n{i:03}", "is_paused": True} for i in range(300)},
    }
    runs = [
        _run(dag_id="shop.b", dag_run_id="r1", state="running"),
        _run(dag_id="shop.a_x", dag_run_id="r2", state="queued"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags":
            terms = request.url.params["dag_id_pattern"].split("|")
            found = [d for name, d in dags.items() if any(t in name for t in terms)]
            return _page(request, "dags", found)
        sent = body(request)
        assert sent["states"] == ["queued", "running"]
        return _page(request, "dag_runs", [r for r in runs if r["dag_id"] in sent["dag_ids"]])

    airflow = ScriptedAirflow(handler)
    states = airflow.orchestrator().workflow_states(["shop.a", "shop.b", "shop.new"])
    assert {n: (s.paused, s.running) for n, s in states.items()} == {
        "shop.a": (True, False),
        "shop.b": (False, True),
        "shop.new": (None, False),  # not parsed yet: Airflow does not know it
    }
    # Two requests for the page, whatever Airflow holds besides: no scan of every DAG.
    assert airflow.calls() == [("GET", "/api/v2/dags"), ("POST", "/api/v2/dags/~/dagRuns/list")]
    assert body(airflow.requests[1])["dag_ids"] == ["shop.a", "shop.b", "shop.new"]


def test_workflow_states_of_many_names_splits_the_search_to_keep_urls_short() -> None:
    names = [f"shop.segment_{i:04d}.table" for i in range(400)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags":
            assert len(str(request.url)) < 8_000
            terms = request.url.params["dag_id_pattern"].split("|")
            return _page(request, "dags", [{"dag_id": t, "is_paused": False} for t in terms])
        return _page(request, "dag_runs", [])

    airflow = ScriptedAirflow(handler)
    states = airflow.orchestrator().workflow_states(names)
    assert set(states) == set(names) and all(s.paused is False for s in states.values())
    searches = [r for r in airflow.requests if r.url.path == "/api/v2/dags"]
    assert 1 < len(searches) < 20


# -- mapping --------------------------------------------------------------------------------------


def test_a_run_stopped_through_dli_maps_to_killed_and_backfill_runs_carry_their_date() -> None:
    killed = _run(state="failed", note="dli:killed\ndli: triggered by alice")
    backfill = _run(
        dag_run_id="backfill__2025-01-01T15:00:00+00:00",
        run_type="backfill",
        logical_date="2025-01-01T15:00:00Z",
        conf={"x": 1, "dli_backfill": {"timezone": "Asia/Seoul", "triggered_by": "bob"}},
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"dag_runs": [killed, backfill], "total_entries": 2})

    runs, total = ScriptedAirflow(handler).orchestrator().list_runs(RunQuery(names={"a.b"}))
    assert total == 2
    assert runs[0].status is RunStatus.KILLED and runs[0].triggered_by == "alice" and runs[0].run_id == "a.b@r1"
    assert runs[1].run_type is RunType.BACKFILL and runs[1].triggered_by == "bob"
    # 15:00 UTC on Jan 1 is already Jan 2 in Seoul: the date the run is for.
    assert runs[1].parameters == {"x": 1, "execution_date": "2025-01-02"}


# -- the use-cases over Airflow ---------------------------------------------------------------------


def _unregister_over(airflow: ScriptedAirflow):  # noqa: ANN202
    from dli.adapters.clock import FakeClock
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.spec import SpecDocument
    from dli.domain.usecases.bus import MessageBus
    from dli.domain.usecases.register import UnregisterWorkflow
    from tests.support.specs import make_spec

    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, SpecDocument(spec=make_spec("a.b"), source_type=SourceType.MANUAL))
    bus = MessageBus(store=store, orchestrator=airflow.orchestrator(dag_wait_seconds=5), clock=FakeClock())
    return bus.handle(UnregisterWorkflow(dataset_name="a.b")), store


def test_unregister_of_a_dag_airflow_never_parsed_pauses_nothing_and_waits_for_nothing() -> None:
    # Pausing first used to PATCH a DAG that does not exist, wait for it to be parsed (30 s), then
    # fail the unregister with DLI-802 without deleting the spec.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags/a.b":
            return httpx.Response(404, json={"detail": "DAG not found"})
        if request.url.path == "/api/v2/dags":
            return httpx.Response(200, json={"dags": [], "total_entries": 0})
        raise AssertionError(f"unexpected {request.method} {request.url.path}")

    airflow = ScriptedAirflow(handler)
    result, store = _unregister_over(airflow)
    assert result.warnings == ()
    assert store.read(SourceType.MANUAL, "a.b") is None
    assert airflow.calls() == [("GET", "/api/v2/dags/a.b"), ("GET", "/api/v2/dags")]


def test_unregister_pauses_a_running_dag_first() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/dags/a.b":
            return httpx.Response(200, json={"dag_id": "a.b", "is_paused": False, "file_token": "ft"})
        if request.url.path == "/api/v2/parseDagFile/ft":
            return httpx.Response(201, json={})
        raise AssertionError(f"unexpected {request.method} {request.url.path}")

    airflow = ScriptedAirflow(handler)
    result, _ = _unregister_over(airflow)
    assert result.warnings == ()
    assert airflow.calls() == [
        ("GET", "/api/v2/dags/a.b"),
        ("PATCH", "/api/v2/dags/a.b"),
        ("PUT", "/api/v2/parseDagFile/ft"),
    ]
    assert body(airflow.requests[1]) == {"is_paused": True}


def test_a_write_asks_airflow_to_parse_the_shard_file_of_its_dataset() -> None:
    from dli.adapters.airflow.runs import shard_file, shard_of, shard_tag

    name = next(f"shop.new_{i}" for i in range(100) if shard_of(f"shop.new_{i}", 8) == 5)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/api/v2/dags/{name}":
            return httpx.Response(404, json={"detail": "not found"})
        if request.url.path == "/api/v2/dags" and request.url.params["tags"] == "dli":
            dag = {"dag_id": "other", "file_token": "t3", "relative_fileloc": shard_file(3, 8)}
            return httpx.Response(200, json={"dags": [dag], "total_entries": 1})
        if request.url.path == "/api/v2/dags" and request.url.params["tags"] == shard_tag(5, 8):
            dag = {"dag_id": "sibling", "file_token": "t5", "relative_fileloc": shard_file(5, 8)}
            return httpx.Response(200, json={"dags": [dag], "total_entries": 1})
        if request.url.path.startswith("/api/v2/parseDagFile/"):
            return httpx.Response(201, json={})
        raise AssertionError(f"unexpected {request.method} {request.url}")

    airflow = ScriptedAirflow(handler)
    orchestrator = airflow.orchestrator()
    orchestrator.sync(name)
    assert airflow.calls()[-1] == ("PUT", "/api/v2/parseDagFile/t5")
    orchestrator.sync(name)  # the shard's token is remembered
    assert [c for c in airflow.calls() if c[0] == "GET" and c[1] == "/api/v2/dags"] == [("GET", "/api/v2/dags")] * 2


def test_a_new_dataset_in_a_shard_without_dags_asks_for_any_file_of_the_bundle() -> None:
    from dli.adapters.airflow.runs import shard_file, shard_of

    name = next(f"shop.new_{i}" for i in range(100) if shard_of(f"shop.new_{i}", 8) == 6)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/api/v2/dags/{name}":
            return httpx.Response(404, json={"detail": "not found"})
        if request.url.path == "/api/v2/dags" and request.url.params["tags"] == "dli":
            dag = {"dag_id": "other", "file_token": "t3", "relative_fileloc": shard_file(3, 8)}
            return httpx.Response(200, json={"dags": [dag], "total_entries": 1})
        if request.url.path == "/api/v2/dags":
            return httpx.Response(200, json={"dags": [], "total_entries": 0})
        if request.url.path.startswith("/api/v2/parseDagFile/"):
            return httpx.Response(201, json={})
        raise AssertionError(f"unexpected {request.method} {request.url}")

    airflow = ScriptedAirflow(handler)
    airflow.orchestrator().sync(name)
    assert airflow.calls()[-1] == ("PUT", "/api/v2/parseDagFile/t3")
