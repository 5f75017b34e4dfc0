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


@pytest.mark.timeout(600)
@schema.parametrize()
def test_every_answer_is_documented_and_none_is_a_server_error(case, fuzzed_server: BasecampProcess) -> None:  # noqa: ANN001
    case.call_and_validate(base_url=fuzzed_server.url, headers={"Authorization": f"Bearer {fuzzed_server.token}"})
