"""The audit trail kept in the spec store (``.dli/audit/``), over a filesystem store and S3 (moto):
appended, read back by any process on the same store, never seen by spec listings; publish records
its changes under the CI identity it is given."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from dli.domain.model.audit import AuditOutcome, AuditRecord
from dli.domain.model.enums import SourceType
from dli.entrypoints.bootstrap import build_audit_log, build_store
from dli.entrypoints.cli.app import invoke
from tests.support.backends import write_spec
from tests.support.specs import make_document, make_spec

UTC = dt.UTC


@pytest.fixture(params=["file", "s3"])
def store_url(request, tmp_path, monkeypatch) -> str:
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    server = request.getfixturevalue("moto_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return f"s3://{server.new_bucket()}/specs"


def _record(day: int, actor: str = "alice", **fields) -> AuditRecord:
    return AuditRecord(
        time=dt.datetime(2025, 3, day, 12, 0, tzinfo=UTC),
        actor=actor,
        auth="token",
        action="run",
        outcome=AuditOutcome.OK,
        dataset="shop.sales.daily",
        team="@de",
        source_type=SourceType.MANUAL,
        request_id=f"r{day}",
        replica="host:1",
        **fields,
    )


def test_records_appended_by_one_process_are_read_back_by_another_in_time_order(store_url):
    writer, reader = build_audit_log(build_store(store_url)), build_audit_log(build_store(store_url))
    records = [_record(3), _record(1, actor="bob"), _record(2, code="DLI-800", detail="failed")]
    for record in records:
        writer.append(record)
    assert list(reader.records()) == sorted(records, key=lambda r: r.time)
    assert [r.time.day for r in reader.records(since=dt.datetime(2025, 3, 2, tzinfo=UTC))] == [2, 3]


def test_appending_never_rewrites_a_record_and_spec_listings_never_see_the_trail(store_url):
    store = build_store(store_url)
    store.create(SourceType.MANUAL, make_document("shop.sales.daily"))
    log = build_audit_log(store)
    same_time = [_record(1), _record(1)]  # two replicas, the same instant: two records, neither lost
    for record in same_time:
        log.append(record)
    assert list(log.records()) == same_time
    assert list(store.list_etags(SourceType.MANUAL)) == ["shop.sales.daily"]
    assert dict(store.list_etags(SourceType.CODE)) == {}


def test_the_filesystem_trail_is_one_file_per_record_under_dot_dli(tmp_path):
    log = build_audit_log(build_store((tmp_path / "store").as_uri()))
    log.append(_record(1))
    log.append(_record(2))
    files = sorted((tmp_path / "store" / ".dli" / "audit").iterdir())
    assert len(files) == 2 and all(f.name.startswith("2025030") and f.suffix == ".json" for f in files)
    assert json.loads(files[0].read_text())["actor"] == "alice"
    (tmp_path / "store" / ".dli" / "audit" / "zz-not-a-record.json").write_text("{not json")
    assert len(list(log.records())) == 2  # an object that is not a record never fails a read


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    write_spec(root, make_spec("shop.sales.daily", cron="0 9 * * *", team="@de"))
    write_spec(root, make_spec("shop.sales.hourly", cron="0 * * * *", team="@mkt"))
    return root


def _publish(*args: str) -> int:
    return invoke(["workflow", "publish", *args], stdout=io.StringIO(), stderr=io.StringIO())


def test_publish_records_each_change_under_the_actor_it_is_given(tmp_path, store_url, monkeypatch):
    monkeypatch.delenv("DLI_PUBLISHER", raising=False)
    project = _project(tmp_path)
    assert _publish("--path", str(project), "--store", store_url, "--actor", "release-bot") == 0
    assert _publish("--path", str(project), "--store", store_url, "--actor", "release-bot") == 0  # unchanged
    records = list(build_audit_log(build_store(store_url)).records())
    assert sorted((r.dataset, r.team, r.action, r.detail, r.actor, r.source_type) for r in records) == [
        ("shop.sales.daily", "@de", "publish", "create", "release-bot", SourceType.CODE),
        ("shop.sales.hourly", "@mkt", "publish", "create", "release-bot", SourceType.CODE),
    ]


def test_publish_names_the_ci_commit_and_job_when_given_no_actor(tmp_path, monkeypatch):
    for name in ("DLI_ACTOR", "DLI_PUBLISHER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123")
    monkeypatch.setenv("GITHUB_JOB", "deploy")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/pipelines")
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    url = (tmp_path / "store").as_uri()
    assert _publish("--path", str(_project(tmp_path)), "--store", url) == 0
    actors = {r.actor for r in build_audit_log(build_store(url)).records()}
    assert actors == {"acme/pipelines@0123456789ab/deploy"}
    assert build_store(url).read(SourceType.CODE, "shop.sales.daily").document.registered_by == (
        "acme/pipelines@0123456789ab/deploy"
    )


def test_dli_actor_names_the_publisher(tmp_path, monkeypatch):
    monkeypatch.setenv("DLI_ACTOR", "ci-gitlab")
    url = (tmp_path / "store").as_uri()
    assert _publish("--path", str(_project(tmp_path)), "--store", url) == 0
    assert {r.actor for r in build_audit_log(build_store(url)).records()} == {"ci-gitlab"}
