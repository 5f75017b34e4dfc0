"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis, every check), against a real ``basecamp serve``.

Every operation of ``/openapi.json`` gets requests generated from its schema (valid ones, and invalid
ones in the coverage phase), a bounded number per operation and the same ones on every run. Every
check schemathesis has is on: a 5xx answer, an answer the document does not describe (status,
content type, body schema, headers), a method it does not list answered otherwise than 405 with
``Allow``, a request valid by the document refused (``positive_data_acceptance``) or one it forbids
accepted (``negative_data_rejection``) fails the test. The document's schemas are generated from the
rules that check a spec and a request (``dli.domain.model.rules``), so the two cannot drift.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402

from tests.support.basecamp import BasecampProcess, running_basecamp  # noqa: E402

MAX_EXAMPLES = 25
"""Generated requests per operation in the fuzzing phase (the coverage phase adds its own, bounded)."""


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BasecampProcess]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    store = root / "store"
    store.mkdir()
    yield from running_basecamp(
        root / "server", store_url=store.as_uri(), orchestrator_url="memory://?queue_seconds=0.05&run_seconds=0.1"
    )


def _document() -> dict:
    """The OpenAPI document, built as ``basecamp serve`` builds it (a test below checks it is the one served).

    Built at collection time, because the tests are generated from it, one per operation.
    """
    import httpx
    from litestar.testing import TestClient

    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.entrypoints.bootstrap import build_server
    from dli.entrypoints.server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = build_server(store=InMemorySpecStore(), tokens_file=Path(tmp) / "tokens.json")
        with TestClient(create_app(settings)) as client:  # type: ignore[arg-type]
            response: httpx.Response = client.get("/openapi.json")
    return response.json()


def _config() -> SchemathesisConfig:
    checks = {"enabled": True}  # all of them
    return SchemathesisConfig.from_dict(
        {
            "seed": 20251127,  # the same requests on every run
            "request-timeout": 30,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            # The stateful phase chains requests on the data earlier ones created; it would find rules
            # no JSON Schema states: a backfill's end before its start, a run missing a parameter the
            # registered spec requires (422 both). Not covered here: see docs/server.md.
            "phases": {"stateful": {"enabled": False}},
            "checks": checks,
        }
    )


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config())


def test_the_fuzzed_document_is_the_one_the_server_serves(fuzzed_server: BasecampProcess) -> None:
    import httpx

    assert httpx.get(f"{fuzzed_server.url}/openapi.json", timeout=10).json() == DOCUMENT


def keeps_unstated_rules(body: object) -> bool:
    """Whether a request body keeps the rules no JSON Schema can state (docs/server.md says them): a
    spec declares each parameter once, and its statements parse as SQL in its dialect; a backfill's
    range runs forward, at most MAX_BACKFILL_DAYS."""
    from dli.domain.model.parameters import MAX_BACKFILL_DAYS

    if not isinstance(body, dict):
        return True
    spec = body.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("parameters"), list):
        names = [str(p.get("name")) for p in spec["parameters"] if isinstance(p, dict)]
        if len(names) != len(set(names)):
            return False
    if isinstance(spec, dict) and not _sql_parses(spec):
        return False
    start, end = body.get("start_date"), body.get("end_date")
    if isinstance(start, str) and isinstance(end, str):
        try:
            first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        except ValueError:
            return True
        return first <= last and (last - first).days < MAX_BACKFILL_DAYS
    return True


def _sql_parses(spec: dict) -> bool:
    """Whether every statement of the spec parses in its dialect (generated text rarely does); the
    spec decoded as the server decodes a register body."""
    import json

    from dli.adapters.basecamp.operations import operation_for
    from dli.adapters.sql.sqlglot_analyzer import SqlglotAnalyzer
    from dli.domain.usecases.register import RegisterWorkflow
    from dli.domain.usecases.validate import check_spec_sql

    try:
        message = operation_for(RegisterWorkflow).decode(
            path={}, query=[], body=json.dumps({"spec": spec}).encode(), content_type="application/json", actor="fuzz"
        )
    except Exception:  # noqa: BLE001 - not a spec: the other checks say what happens to it
        return True
    assert isinstance(message, RegisterWorkflow)
    return not check_spec_sql(message.spec, SqlglotAnalyzer()).errors


@pytest.mark.timeout(600)
@schema.parametrize()
def test_every_answer_is_documented_and_none_is_a_server_error(case, fuzzed_server: BasecampProcess) -> None:  # noqa: ANN001
    # Requests valid by the document carry a (generated) bearer token: it is replaced by a real one so
    # that they reach the operation. Those without one are schemathesis' "no credentials" mutation,
    # sent as they are: the server must refuse them (401).
    token = {"Authorization": f"Bearer {fuzzed_server.token}"} if "Authorization" in (case.headers or {}) else None
    if token and not keeps_unstated_rules(case.body):
        # Valid by the document, but not by a rule it cannot state: refused for what it is (422,
        # DLI-203/204), or 404 when the workflow it names does not exist (yet) — never accepted.
        response = case.call(base_url=fuzzed_server.url, headers=token)
        assert response.status_code in (404, 422), response.text
        assert response.json()["error"]["code"] in ("DLI-203", "DLI-204", "DLI-800"), response.text
        return
    if token and case.operation.path.endswith("/lineage"):
        # What can be traced is the stored query's to say (its output columns, a SELECT to trace): a
        # rule no document can state. A request breaking it is refused for what it is (422, DLI-203).
        response = case.call(base_url=fuzzed_server.url, headers=token)
        error = (response.json().get("error") or {}) if response.status_code == 422 else {}
        if error.get("code") == "DLI-203" and ("output column" in error["message"] or "trace" in error["message"]):
            return
        case.validate_response(response)  # everything else as any other operation's answers
        return
    case.call_and_validate(base_url=fuzzed_server.url, headers=token)
