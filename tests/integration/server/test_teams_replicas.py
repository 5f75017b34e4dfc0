"""Two real ``basecamp serve --policy`` replicas over one file store and one tokens file: each enforces
the policy, and each reads the audit records the other wrote. A policy file with a mistake stops the
server at start-up; no policy at all is a warning."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.token_file import TokenFile
from dli.domain.model.enums import SourceType
from tests.support.basecamp import BasecampProcess, start_basecamp
from tests.support.specs import make_document

POLICY = """
admins: ["group:platform"]
teams:
  "@de": {editors: ["group:de"], viewers: ["*"]}
  "@mkt": {editors: ["group:mkt"], viewers: ["group:mkt"]}
default: {viewers: ["*"]}
"""


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BasecampProcess, BasecampProcess, dict[str, str]]]:
    root = tmp_path_factory.mktemp("teams")
    store_dir = root / "store"
    store = FilesystemSpecStore(store_dir)
    store.create(SourceType.MANUAL, make_document("de.sales.daily", team="@de"))
    store.create(SourceType.MANUAL, make_document("mkt.leads.daily", team="@mkt"))
    (root / "policy.yaml").write_text(POLICY)
    tokens_file = root / "tokens.json"
    tokens = TokenFile(tokens_file)
    who = {
        "dee": tokens.add("dee", groups=("de",)),
        "mia": tokens.add("mia", groups=("mkt",)),
        "root": tokens.add("root", groups=("platform",)),
    }
    args = ["--policy", str(root / "policy.yaml")]
    a = start_basecamp(root / "a", store_url=store_dir.as_uri(), tokens_file=tokens_file, extra_args=args)
    try:
        b = start_basecamp(root / "b", store_url=store_dir.as_uri(), tokens_file=tokens_file, extra_args=args)
        try:
            yield a, b, who
        finally:
            b.stop()
    finally:
        a.stop()


def _call(server: BasecampProcess, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def test_both_replicas_enforce_the_policy_and_share_one_audit_trail(replicas):
    a, b, who = replicas
    assert _call(a, who["dee"], "POST", "/api/v1/workflows/mkt.leads.daily/pause").status_code == 403
    assert _call(b, who["mia"], "POST", "/api/v1/workflows/mkt.leads.daily/pause").status_code == 200
    assert _call(b, who["dee"], "DELETE", "/api/v1/workflows/mkt.leads.daily").status_code == 403
    assert _call(a, who["dee"], "POST", "/api/v1/workflows/de.sales.daily/run", json={}).status_code == 200
    for server in (a, b):  # each replica reads what the other wrote
        records = _call(server, who["root"], "GET", "/api/v1/audit").json()["records"]
        assert [(r["actor"], r["action"], r["outcome"]) for r in records] == [
            ("dee", "run", "ok"),
            ("dee", "unregister", "denied"),
            ("mia", "pause", "ok"),
            ("dee", "pause", "denied"),
        ]
        assert len({r["replica"] for r in records}) == 2
    dee_sees = _call(b, who["dee"], "GET", "/api/v1/audit").json()
    assert [r["dataset"] for r in dee_sees["records"]] == ["de.sales.daily"] and dee_sees["total_count"] == 1
    listed = _call(a, who["dee"], "GET", "/api/v1/workflows").json()
    assert [w["dataset_name"] for w in listed["workflows"]] == ["de.sales.daily"] and listed["total_count"] == 1


def test_no_token_appears_in_either_replicas_log(replicas):
    a, b, who = replicas
    _call(a, who["dee"] + "x", "GET", "/api/v1/workflows")
    for server in (a, b):
        text = server.log_text()
        assert not any(token.rsplit("_", 1)[1] in text for token in who.values())


def _serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dli.entrypoints.server",
            "serve",
            "--port",
            "1",
            "--tokens-file",
            str(cwd / "t.json"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_a_policy_with_a_mistake_stops_the_server_at_start_up_with_dli_001(tmp_path):
    (tmp_path / "policy.yaml").write_text("teams: {'@de': {editor: ['group:de']}}\n")
    done = _serve("--policy", str(tmp_path / "policy.yaml"), cwd=tmp_path)
    assert done.returncode == 2
    assert "DLI-001" in done.stderr and "did you mean 'editors'" in done.stderr and "Traceback" not in done.stderr


def test_without_a_policy_the_server_warns_at_start_up(tmp_path):
    server = start_basecamp(tmp_path / "s", store_url="memory://")
    try:
        line = server.wait_for_log(lambda item: item.get("event") == "no_policy")
        assert line["level"] == "warning" and "every authenticated caller" in line["message"]
    finally:
        server.stop()


def test_dli_workflow_audit_reads_the_trail_through_a_replica_as_json_and_as_a_table(replicas):
    a, _b, who = replicas
    import json
    import os

    assert _call(a, who["dee"], "POST", "/api/v1/workflows/de.sales.daily/run", json={}).status_code == 200
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    env.update(DLI_CONFIG=os.devnull, DLI_SERVER_URL=a.url, DLI_API_TOKEN=who["dee"], PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, "-m", "dli", "workflow", "audit", "--actor", "dee", "-n", "5", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert set(body) >= {"records", "total_count"}
    assert body["records"] and all(r["actor"] == "dee" and r["team"] == "@de" for r in body["records"])
    table = subprocess.run(
        [sys.executable, "-m", "dli", "workflow", "audit", "-d", "de.sales.daily"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert table.returncode == 0 and "dee (token)" in table.stdout and "de.sales.daily" in table.stdout
