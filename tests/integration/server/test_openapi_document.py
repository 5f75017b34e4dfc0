"""The OpenAPI document says what the server does: schema-valid requests are the accepted ones, every
error is the DLI error body, and methods are answered as ``OPTIONS`` and ``Allow`` say."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.names import validate_dataset_name
from dli.domain.usecases.message import MAX_LIMIT, MAX_PAGE
from tests.integration.server.conftest import LiveServer

WORKFLOW = "/api/v1/workflows/{dataset_name}"


@pytest.fixture(scope="module")
def document(live: LiveServer) -> dict[str, Any]:
    return live.call("GET", "/openapi.json").json()


def _operations(document: dict[str, Any]):  # noqa: ANN202
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def test_every_error_answer_is_documented_as_the_dli_error_body(document) -> None:
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and path != "/health":  # a degraded health report is a report
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"code", "message", "details", "hints"}
    assert "status_code" not in str(document["components"]["schemas"])  # Litestar's own error shape


def test_dataset_names_and_run_ids_are_documented_with_the_pattern_the_server_enforces(document) -> None:
    parameter = document["paths"][WORKFLOW]["get"]["parameters"][0]
    assert parameter["name"] == "dataset_name" and parameter["required"] is True
    pattern = re.compile(parameter["schema"]["pattern"])
    for name in ("shop.orders", "a", "a1_b.c2", "x" * 250):
        assert pattern.fullmatch(name) and validate_dataset_name(name)
    for name in ("Shop", "1a", "a..b", ".a", "a/b", "a b", "a.", "a-b"):
        assert not pattern.fullmatch(name)
        with pytest.raises(SpecInvalidError):
            validate_dataset_name(name)
    assert parameter["schema"]["maxLength"] == 250
    run_id = document["paths"]["/api/v1/runs/{run_id}"]["get"]["parameters"][0]["schema"]
    assert re.fullmatch(run_id["pattern"], "shop.sales@scheduled__2025-01-01T09:00:00+00:00")


@pytest.mark.parametrize(("path", "maximum"), [("/api/v1/workflows", MAX_PAGE), ("/api/v1/history", MAX_LIMIT)])
def test_limit_is_documented_with_its_range(document, path, maximum) -> None:
    # A list page holds at most MAX_PAGE workflows; clients follow next_cursor for more.
    (limit,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, maximum)


def test_optional_query_parameters_are_absent_or_a_value_never_null(document) -> None:
    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            assert "null" not in str(parameter["schema"]), (method, path, parameter["name"])


def test_bodies_are_closed_and_required_only_where_a_field_is(document) -> None:
    required = {
        (path, method): operation["requestBody"]["required"]
        for path, method, operation in _operations(document)
        if "requestBody" in operation
    }
    assert required == {
        ("/api/v1/workflows", "POST"): True,
        (WORKFLOW + "/run", "POST"): False,
        (WORKFLOW + "/backfill", "POST"): True,
        (WORKFLOW + "/pause", "POST"): False,
        (WORKFLOW + "/unpause", "POST"): False,
    }
    schemas = document["components"]["schemas"]
    for name in ("RegisterWorkflowBody", "TriggerRunBody", "TriggerBackfillBody", "PauseWorkflowBody"):
        assert schemas[name]["additionalProperties"] is False, name
    spec = schemas["RegisterWorkflowBody"]["properties"]["spec"]
    assert spec["required"] == ["name", "schedule"]


def test_the_spec_schema_is_the_models_a_schedule_needs_a_cron_or_after_upstream(document) -> None:
    from dli.adapters.codecs.specs import spec_json_schema

    spec = document["components"]["schemas"]["RegisterWorkflowBody"]["properties"]["spec"]
    assert spec["properties"]["name"] == spec_json_schema()["properties"]["name"]
    schedule = spec["properties"]["schedule"]
    assert "required" not in schedule
    assert schedule["anyOf"] == [
        {"required": ["cron"], "properties": {"cron": {"not": {"type": "null"}}}},
        {"required": ["after"], "properties": {"after": {"not": {"type": "null"}}}},
    ]
    assert schedule["properties"]["after"]["enum"] == ["upstream", None]
    assert schedule["properties"]["retry"]["type"] == ["object", "null"]


def test_register_documents_201_for_a_new_workflow_and_200_for_a_replaced_one(document) -> None:
    responses = document["paths"]["/api/v1/workflows"]["post"]["responses"]
    for status in ("200", "201"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/WorkflowRegisterResult"
        }


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/workflows", "GET, OPTIONS, POST"),
        ("/api/v1/workflows/shop.orders", "DELETE, GET, OPTIONS"),
        ("/api/v1/workflows/shop.orders/run", "OPTIONS, POST"),
        ("/api/v1/runs/shop.orders@r1", "GET, OPTIONS"),
        ("/health", "GET, OPTIONS"),
    ],
)
def test_options_lists_every_method_of_the_path_and_others_are_405_with_allow(live: LiveServer, path, allowed) -> None:
    options = live.call("OPTIONS", path)
    assert (options.status_code, options.headers["allow"]) == (204, allowed)
    for method in ("TRACE", "PATCH", "PUT", "BREW"):
        refused = live.call(method, path)
        assert refused.status_code == 405, method
        assert refused.headers["allow"] == allowed
        error = refused.json()["error"]
        assert error["code"] == "DLI-204" and error["message"] == f"Method {method} is not allowed on {path}"
        assert error["details"]["allowed"] == allowed.split(", ")
