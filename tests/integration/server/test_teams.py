"""One Basecamp for many teams, over HTTP (the app in process, a file store): tokens with groups, the
policy's roles per team, 403 DLI-803 naming team, role and caller with nothing done, lists that leave
out (and do not count) what the caller may not view, and the audit trail of every write and refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.entrypoints.bootstrap import build_server, read_policy_file
from dli.entrypoints.server.app import create_app
from tests.support.specs import make_document

POLICY = """
admins: ["group:platform"]
teams:
  "@de":
    editors: ["group:de"]
    operators: ["group:de-oncall", "bob"]
    viewers: ["*"]
  "@mkt":
    editors: ["group:mkt"]
    viewers: ["group:mkt"]
default: {viewers: ["*"]}
"""


@attrs.define
class Teams:
    client: TestClient[Any]
    store: FilesystemSpecStore
    store_dir: Path
    tokens: dict[str, str]
    settings: Any

    def call(self, who: str, method: str, path: str, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def audit(self, who: str = "root", **params: Any) -> list[dict[str, Any]]:
        response = self.call(who, "GET", "/api/v1/audit", params=params)
        assert response.status_code == 200, response.text
        return response.json()["records"]


def _spec_body(name: str, team: str) -> dict[str, Any]:
    return {
        "spec": {
            "name": name,
            "owner": "o@example.com",
            "team": team,
            "query_statement": "SELECT 1",
            "schedule": {"cron": "0 9 * * *", "timezone": "UTC"},
        }
    }


@pytest.fixture
def teams(tmp_path: Path) -> Iterator[Teams]:
    store_dir = tmp_path / "store"
    store = FilesystemSpecStore(store_dir)
    store.create(SourceType.MANUAL, make_document("de.sales.daily", team="@de"))
    store.create(SourceType.MANUAL, make_document("mkt.leads.daily", team="@mkt"))
    store.create(SourceType.CODE, make_document("de.code.daily", source=SourceType.CODE, team="@de"))
    store.create(SourceType.MANUAL, make_document("other.misc.daily", team="@other"))
    (tmp_path / "policy.yaml").write_text(POLICY)
    settings = build_server(
        store=FilesystemSpecStore(store_dir),
        tokens_file=tmp_path / "tokens.json",
        check_interval_seconds=3600,
        policy=read_policy_file(tmp_path / "policy.yaml"),
        replica="replica-a",
    )
    tokens = {
        "dee": settings.tokens.add("dee", groups=("de",)),
        "bob": settings.tokens.add("bob"),
        "mia": settings.tokens.add("mia", groups=("mkt",)),
        "eve": settings.tokens.add("eve"),
        "root": settings.tokens.add("root", groups=("platform",)),
    }
    settings.store.check()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Teams(client=client, store=store, store_dir=store_dir, tokens=tokens, settings=settings)


def test_an_operator_runs_but_may_not_unregister_and_the_refusal_names_team_role_and_caller(teams):
    run = teams.call("bob", "POST", "/api/v1/workflows/de.sales.daily/run", json={})
    assert run.status_code == 200, run.text
    refused = teams.call("bob", "DELETE", "/api/v1/workflows/de.sales.daily")
    assert refused.status_code == 403
    body = refused.json()["error"]
    assert body["code"] == "DLI-803"
    assert "@de" in body["message"] and "editor" in body["message"] and "'bob'" in body["message"]
    assert body["details"] == {
        "dataset_name": "de.sales.daily",
        "team": "@de",
        "role_needed": "editor",
        "caller": "bob",
    }
    assert teams.store.read(SourceType.MANUAL, "de.sales.daily") is not None  # nothing done


def test_a_viewer_may_not_trigger_and_nothing_is_triggered(teams):
    refused = teams.call("eve", "POST", "/api/v1/workflows/de.sales.daily/run", json={})
    assert refused.status_code == 403 and "operator" in refused.json()["error"]["message"]
    history = teams.call("root", "GET", "/api/v1/history", params={"dataset_name": "de.sales.daily"}).json()
    assert history["runs"] == []


def test_registering_needs_editor_of_the_specs_team_and_a_takeover_editor_of_both(teams):
    new = _spec_body("de.sales.hourly", "@de")
    assert teams.call("bob", "POST", "/api/v1/workflows", json=new).status_code == 403
    assert teams.call("dee", "POST", "/api/v1/workflows", json=new).status_code == 201
    takeover = {**_spec_body("de.sales.daily", "@mkt"), "force": True}
    refused = teams.call("mia", "POST", "/api/v1/workflows", json=takeover)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["team"] == "@de"
    assert teams.store.read(SourceType.MANUAL, "de.sales.daily").document.spec.team == "@de"
    assert teams.call("root", "POST", "/api/v1/workflows", json=takeover).status_code == 200


def test_a_code_workflow_may_be_paused_by_its_operators_but_not_unregistered_even_by_admins(teams):
    assert teams.call("bob", "POST", "/api/v1/workflows/de.code.daily/pause").status_code == 200
    assert teams.call("root", "DELETE", "/api/v1/workflows/de.code.daily").status_code == 403


def test_lists_leave_out_and_do_not_count_what_the_caller_may_not_view(teams):
    def names(who: str) -> tuple[list[str], int]:
        body = teams.call(who, "GET", "/api/v1/workflows").json()
        return [w["dataset_name"] for w in body["workflows"]], body["total_count"]

    assert names("eve") == (["de.code.daily", "de.sales.daily", "other.misc.daily"], 3)
    assert names("mia") == (["de.code.daily", "de.sales.daily", "mkt.leads.daily", "other.misc.daily"], 4)
    assert names("root")[1] == 4
    assert teams.call("eve", "GET", "/api/v1/workflows/mkt.leads.daily").status_code == 403


def test_history_and_deps_leave_out_what_the_caller_may_not_view(teams):
    assert teams.call("eve", "POST", "/api/v1/workflows/mkt.leads.daily/run", json={}).status_code == 403
    assert (
        teams.call("mia", "POST", "/api/v1/workflows/mkt.leads.daily/run", json={}).status_code == 200
    )  # editor ⊇ operator
    assert teams.call("bob", "POST", "/api/v1/workflows/de.sales.daily/run", json={}).status_code == 200
    eve = teams.call("eve", "GET", "/api/v1/history").json()
    assert {r["dataset_name"] for r in eve["runs"]} == {"de.sales.daily"} and eve["total_count"] == 1
    mia = teams.call("mia", "GET", "/api/v1/history").json()
    assert {r["dataset_name"] for r in mia["runs"]} == {"de.sales.daily", "mkt.leads.daily"}
    assert teams.call("eve", "GET", "/api/v1/history", params={"dataset_name": "mkt.leads.daily"}).status_code == 403
    teams.store.create(
        SourceType.MANUAL,
        make_document(
            "de.sales.after", team="@de", cron=None, after="upstream", depends_on=("de.sales.daily", "mkt.leads.daily")
        ),
    )
    teams.settings.store.check()
    deps = teams.call("eve", "GET", "/api/v1/workflows/de.sales.after/deps").json()
    assert {n["name"] for n in deps["nodes"]} == {"de.sales.after", "de.sales.daily"}
    assert all("mkt.leads.daily" not in (e["upstream"], e["downstream"]) for e in deps["edges"])
    deps = teams.call("mia", "GET", "/api/v1/workflows/de.sales.after/deps").json()
    assert {n["name"] for n in deps["nodes"]} == {"de.sales.after", "de.sales.daily", "mkt.leads.daily"}


def test_every_write_and_every_refusal_is_in_the_audit_trail_which_viewers_of_a_team_read(teams):
    teams.call("bob", "POST", "/api/v1/workflows/de.sales.daily/pause")
    teams.call("eve", "DELETE", "/api/v1/workflows/mkt.leads.daily")
    teams.call("root", "POST", "/api/v1/workflows/mkt.leads.daily/pause")
    records = teams.audit("root")
    assert [(r["actor"], r["action"], r["dataset"], r["team"], r["outcome"], r.get("code")) for r in records] == [
        ("root", "pause", "mkt.leads.daily", "@mkt", "ok", None),
        ("eve", "unregister", "mkt.leads.daily", "@mkt", "denied", "DLI-803"),
        ("bob", "pause", "de.sales.daily", "@de", "ok", None),
    ]
    assert all(r["auth"] == "token" and r["replica"] == "replica-a" and r["request_id"] for r in records)
    assert all(r["source_type"] == "manual" for r in records)
    # eve views @de, not @mkt: she reads the @de record only, and it is not counted otherwise.
    eve = teams.call("eve", "GET", "/api/v1/audit").json()
    assert [r["dataset"] for r in eve["records"]] == ["de.sales.daily"] and eve["total_count"] == 1
    assert [r["actor"] for r in teams.audit("root", by="eve")] == ["eve"]
    assert [r["actor"] for r in teams.audit("root", dataset_name="de.sales.daily")] == ["bob"]
    files = list((teams.store_dir / ".dli" / "audit").iterdir())
    assert len(files) == 3


def test_a_request_id_in_the_answer_is_the_one_in_the_audit_record(teams):
    answer = teams.call("bob", "POST", "/api/v1/workflows/de.sales.daily/pause", headers={"X-Request-ID": "req-42"})
    assert answer.headers["x-request-id"] == "req-42"
    (record,) = teams.audit("root")
    assert record["request_id"] == "req-42"


def test_without_a_policy_every_authenticated_caller_may_do_everything_and_writes_are_still_audited(tmp_path):
    store_dir = tmp_path / "store"
    FilesystemSpecStore(store_dir).create(SourceType.MANUAL, make_document("mkt.leads.daily", team="@mkt"))
    settings = build_server(
        store=FilesystemSpecStore(store_dir), tokens_file=tmp_path / "t.json", check_interval_seconds=3600
    )
    token = settings.tokens.add("anyone")
    settings.store.check()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.delete("/api/v1/workflows/mkt.leads.daily", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        records = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"}).json()["records"]
    assert [(r["actor"], r["action"], r["outcome"]) for r in records] == [("anyone", "unregister", "ok")]
