"""Request logs: one structured JSON line per request, with a request id; no secrets."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from tests.integration.server.conftest import LiveServer


def test_each_request_is_one_json_line_with_method_path_status_duration_user_and_request_id(live: LiveServer):
    response = httpx.get(
        live.url + "/api/v1/workflows/shop.logs.none",
        headers={**live.headers(), "X-Request-ID": "trace-123"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-123"
    line = live.process.wait_for_log(
        lambda entry: entry.get("event") == "request" and entry.get("request_id") == "trace-123"
    )
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/workflows/shop.logs.none"
    assert line["status"] == 404
    assert line["user"] == live.process.user
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "info" and "timestamp" in line


def test_refused_requests_are_logged_without_a_user(live: LiveServer):
    response = httpx.get(live.url + "/api/v1/history", headers={"X-Request-ID": "anon-1"}, timeout=10)
    assert response.status_code == 401
    line = live.process.wait_for_log(lambda entry: entry.get("request_id") == "anon-1")
    assert (line["status"], line["user"]) == (401, None)


def test_a_missing_or_odd_request_id_is_replaced_by_a_generated_one(live: LiveServer):
    odd = "x" * 65
    response = httpx.get(live.url + "/health", headers={"X-Request-ID": odd}, timeout=10)
    generated = response.headers["x-request-id"]
    assert generated != odd and len(generated) == 32
    assert live.process.wait_for_log(lambda entry: entry.get("request_id") == generated)["path"] == "/health"


def test_tokens_in_the_path_and_query_are_redacted_from_the_request_log(live: LiveServer):
    leaked = "bc_0123456789abcdef_" + "L" * 43
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    response = httpx.get(
        f"{live.url}/api/v1/workflows/{leaked}",
        params={"token": jwt, "limit": "5"},
        headers={**live.headers(), "X-Request-ID": "redact-1"},
        timeout=10,
    )
    assert response.status_code in (404, 422)
    line = live.process.wait_for_log(lambda entry: entry.get("request_id") == "redact-1")
    assert line["path"] == "/api/v1/workflows/bc_***"
    assert line["query"] == "token=***&limit=5"
    assert leaked not in live.process.log_text() and jwt not in live.process.log_text()


def test_a_token_shaped_request_id_is_replaced_and_never_logged(live: LiveServer):
    token_like = "bc_0123456789abcdef_" + "R" * 40  # fits the charset and the length: its shape gives it away
    response = httpx.get(live.url + "/health", headers={"X-Request-ID": token_like}, timeout=10)
    generated = response.headers["x-request-id"]
    assert generated != token_like and len(generated) == 32
    assert live.process.wait_for_log(lambda entry: entry.get("request_id") == generated)["path"] == "/health"
    assert token_like not in live.process.log_text()


def test_server_start_is_logged_without_credentials(live: LiveServer):
    start = live.process.wait_for_log(lambda entry: entry.get("event") == "server_starting")
    assert start["store"] == live.store_dir.as_uri()
    assert start["check_interval_seconds"] == 0.2
    assert live.process.token not in live.process.log_text()


def test_secret_looking_fields_are_masked_by_the_log_configuration(capsys):
    import structlog

    from dli.entrypoints.server.logs import configure_logging

    try:
        configure_logging("json")
        structlog.get_logger("t").info("airflow_login", username="admin", password="hunter2", token="bc_x")
        out = capsys.readouterr().out
    finally:
        structlog.reset_defaults()
    assert "hunter2" not in out and "bc_x" not in out and '"username": "admin"' in out


def test_the_check_logs_transitions_through_structlog(in_process):
    from dli.domain.model.enums import SourceType
    from tests.support.specs import make_document

    app = in_process()
    app.store.check()
    app.store.inner.create(SourceType.CODE, make_document("shop.logs.code", source=SourceType.CODE))
    with capture_logs() as logs:
        app.store.check()
    assert [
        (entry["event"], entry["dataset_name"], entry["transition"])
        for entry in logs
        if entry["event"] == "override_transition"
    ] == [("override_transition", "shop.logs.code", "appeared")]
