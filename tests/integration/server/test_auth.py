"""Authentication: every endpoint but /health needs a valid bearer token; the token's user is recorded."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from dli.adapters.token_file import TokenFile
from dli.domain.model.errors import ConfigurationError
from tests.integration.server.conftest import LiveServer

NAME = "shop.auth.target"
SPEC = {"name": NAME, "query_statement": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}
RUN = "shop.auth.target%40manual__2025-01-01T09%3A00%3A00%2B00%3A00"

ENDPOINTS = [
    ("GET", "/api/v1/workflows", None),
    ("POST", "/api/v1/workflows", {"spec": SPEC}),
    ("GET", f"/api/v1/workflows/{NAME}", None),
    ("GET", f"/api/v1/workflows/{NAME}/deps", None),
    ("DELETE", f"/api/v1/workflows/{NAME}", None),
    ("POST", f"/api/v1/workflows/{NAME}/run", {}),
    ("POST", f"/api/v1/workflows/{NAME}/backfill", {"start_date": "2025-01-01", "end_date": "2025-01-02"}),
    ("POST", f"/api/v1/workflows/{NAME}/pause", {}),
    ("POST", f"/api/v1/workflows/{NAME}/unpause", {}),
    ("GET", f"/api/v1/runs/{RUN}", None),
    ("POST", f"/api/v1/runs/{RUN}/stop", None),
    ("GET", f"/api/v1/runs/{RUN}/logs", None),
    ("GET", "/api/v1/history", None),
]
IDS = [f"{m} {p}" for m, p, _ in ENDPOINTS]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer wrong", "Basic dXNlcjpwYXNz", "Bearer bc_0000000000000000_" + "x" * 43],
    ids=["missing", "empty", "wrong", "basic", "unknown-id"],
)
def test_every_api_endpoint_refuses_a_missing_or_bad_token_with_401_dli_502(
    live: LiveServer, method, path, body, authorization
):
    import httpx

    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, live.url + path, json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "DLI-502"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert live.stored_files() == []


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
def test_every_api_endpoint_accepts_a_valid_token(live: LiveServer, method, path, body):
    response = live.call(method, path, json=body)
    assert response.status_code != 401
    if response.is_error:
        assert response.json()["error"]["code"] != "DLI-502"
    if method == "POST" and path == "/api/v1/workflows":
        live.call("DELETE", f"/api/v1/workflows/{NAME}")


def test_health_and_openapi_need_no_token(live: LiveServer):
    import httpx

    health = httpx.get(live.url + "/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["store"]["reachable"] is True
    assert health.json()["orchestrator"]["reachable"] is True
    document = httpx.get(live.url + "/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for method, path, _ in ENDPOINTS:
        template = path.replace(RUN, "{run_id}").replace(NAME, "{dataset_name}")
        assert method.lower() in paths[template], template
    assert {"WorkflowInfo", "WorkflowRunResult", "TriggerRunBody", "ErrorBody", "WorkflowDependenciesResult"} <= set(
        document["components"]["schemas"]
    )
    deps = paths["/api/v1/workflows/{dataset_name}/deps"]["get"]
    assert {p["name"] for p in deps["parameters"]} >= {"dataset_name", "direction", "depth"}


def test_the_tokens_user_is_recorded_as_registered_by_and_triggered_by(live: LiveServer):
    bob = live.process.add_token("bob")  # added while the server runs
    name = "shop.auth.recorded"
    spec = {**SPEC, "name": name}
    registered = live.call("POST", "/api/v1/workflows", token=bob, json={"spec": spec})
    assert registered.status_code == 201
    assert registered.json()["workflow_info"]["registered_by"] == "bob"
    run = live.call("POST", f"/api/v1/workflows/{name}/run", json={})
    assert run.status_code == 200
    run_id = run.json()["run_id"]
    status = live.call("GET", "/api/v1/runs/" + run_id.replace("@", "%40"))
    assert status.json()["triggered_by"] == live.process.user
    live.call("DELETE", f"/api/v1/workflows/{name}")


def test_a_revoked_token_is_refused_by_the_running_server(live: LiveServer):
    carol = live.process.add_token("carol")
    assert live.call("GET", "/api/v1/workflows", token=carol).status_code == 200
    assert TokenFile(live.process.tokens_file).revoke("carol") == 1
    assert live.call("GET", "/api/v1/workflows", token=carol).status_code == 401


def test_tokens_never_appear_in_the_logs(live: LiveServer):
    live.call("GET", "/api/v1/workflows")
    live.call("GET", "/api/v1/workflows", token="bc_0123456789abcdef_" + "s" * 43)
    text = live.process.log_text()
    assert live.process.token not in text
    assert live.process.token.split("_", 2)[2] not in text
    assert "s" * 43 not in text


# -- the tokens file -----------------------------------------------------------------------------


def test_tokens_file_keeps_only_salted_hashes_with_owner_only_permissions(tmp_path):
    tokens = TokenFile(tmp_path / "tokens.json")
    first, second = tokens.add("alice"), tokens.add("alice")
    raw = (tmp_path / "tokens.json").read_text()
    assert first != second
    assert first.split("_", 2)[2] not in raw and second.split("_", 2)[2] not in raw  # the secret (may hold "_")
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
    assert tokens.authenticate(first) == "alice" and tokens.authenticate(second) == "alice"
    assert tokens.authenticate(first[:-1] + ("A" if first[-1] != "A" else "B")) is None
    assert tokens.authenticate("") is None and tokens.authenticate("bc_") is None
    assert "salt" not in repr(tokens) and first not in repr(tokens)


@pytest.mark.parametrize("user", ["", " alice", "a" * 101, "al ice", "alice\n"])
def test_token_add_refuses_odd_user_names(tmp_path, user):
    with pytest.raises(ConfigurationError):
        TokenFile(tmp_path / "tokens.json").add(user)
    assert not (tmp_path / "tokens.json").exists()


def test_a_malformed_tokens_file_is_a_configuration_error(tmp_path):
    (tmp_path / "tokens.json").write_text("{not json")
    with pytest.raises(ConfigurationError):
        TokenFile(tmp_path / "tokens.json").authenticate("bc_0000000000000000_" + "x" * 43)


def test_basecamp_token_add_prints_the_token_once_and_stores_its_hash(tmp_path):
    path = tmp_path / "tokens.json"
    result = subprocess.run(
        [sys.executable, "-m", "dli.entrypoints.server", "token", "add", "dave", "--tokens-file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = result.stdout.strip()
    assert token.startswith("bc_") and token not in result.stderr
    assert token.rsplit("_", 1)[1] not in path.read_text()
    assert TokenFile(path).authenticate(token) == "dave"


def test_basecamp_token_add_keeps_the_groups_given(tmp_path):
    path = tmp_path / "tokens.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dli.entrypoints.server",
            "token",
            "add",
            "erin",
            "--group",
            "de",
            "--group",
            "de-oncall",
            "--tokens-file",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    identity = TokenFile(path).identity(result.stdout.strip())
    assert identity is not None and identity.name == "erin" and identity.groups == {"de", "de-oncall"}
    assert identity.method.value == "token"
    assert "groups: de, de-oncall" in result.stderr


def test_a_tokens_file_written_before_groups_still_works(tmp_path):
    path = tmp_path / "tokens.json"
    token = TokenFile(path).add("old")
    data = json.loads(path.read_text())
    for entry in data["tokens"]:
        entry.pop("groups")
    path.write_text(json.dumps(data))
    identity = TokenFile(path).identity(token)
    assert identity is not None and identity.name == "old" and identity.groups == frozenset()


@pytest.mark.parametrize("group", ["", "a b", "x" * 101])
def test_token_add_refuses_odd_group_names(tmp_path, group):
    with pytest.raises(ConfigurationError):
        TokenFile(tmp_path / "tokens.json").add("alice", groups=(group,))
    assert not (tmp_path / "tokens.json").exists()
