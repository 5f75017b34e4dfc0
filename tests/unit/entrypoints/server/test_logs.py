"""What the server's logs redact: token-shaped text anywhere in a logged value, and nothing else."""

from __future__ import annotations

import json

import pytest
import structlog

from dli.entrypoints.server.logs import configure_logging, redact

BC_TOKEN = "bc_0123456789abcdef_" + "S" * 43
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"/api/v1/workflows/{BC_TOKEN}", BC_TOKEN),
        (f"/api/v1/workflows/{BC_TOKEN[:30]}", BC_TOKEN[:30]),  # cut short, still a token
        (f"/x/{JWT}/y", JWT),
        ("token=abc123&limit=5", "abc123"),
        ("access_token=abc123", "abc123"),
        ("X-Amz-Signature=f00dfeed&X-Amz-Credential=AKIDEXAMPLE", "f00dfeed"),
        ("X-Amz-Signature=f00dfeed&X-Amz-Credential=AKIDEXAMPLE", "AKIDEXAMPLE"),
        ("api_key=k-123; path=/", "k-123"),
        ("Bearer abc.def-ghi", "abc.def-ghi"),
        ("basic dXNlcjpwdw==", "dXNlcjpwdw=="),
        ("http://admin:pw-secret@airflow:8080/api", "pw-secret"),
    ],
)
def test_token_shaped_text_is_redacted(text, secret) -> None:
    redacted = redact(text)
    assert secret not in redacted and "***" in redacted


@pytest.mark.parametrize(
    "text",
    [
        "/api/v1/workflows/shop.bc_sales.daily",
        "/api/v1/history?dataset_name=shop.orders&limit=20",
        "/health",
        "abc_def",
    ],
)
def test_ordinary_paths_and_queries_are_left_alone(text) -> None:
    assert redact(text) == text


def test_the_log_configuration_redacts_tokens_in_every_field_even_nested(capsys) -> None:
    try:
        configure_logging("json")
        structlog.get_logger("t").info(
            "upstream_call",
            url=f"http://airflow/api?token={JWT}",
            headers={"Authorization": f"Bearer {JWT}", "X-Trace": BC_TOKEN, "Accept": "application/json"},
            attempts=[f"failed with {BC_TOKEN}"],
        )
        out = capsys.readouterr().out
    finally:
        structlog.reset_defaults()
    assert JWT not in out and BC_TOKEN not in out
    line = json.loads(out)
    assert line["headers"]["Accept"] == "application/json" and line["headers"]["Authorization"] == "***"
