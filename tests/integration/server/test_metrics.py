"""``GET /metrics`` of a real ``basecamp serve``: the counts are the requests made, the calls the dependencies got.

Scraped as Prometheus does and parsed with prometheus_client's own parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import SpecDocument
from tests.support.basecamp import BasecampProcess, free_port, running_basecamp
from tests.support.specs import make_spec

Samples = list[tuple[str, dict[str, str], float]]


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(value for n, got, value in samples if n == name and labels.items() <= got.items())


def one(samples: Samples, name: str, **labels: str) -> float:
    found = [value for n, got, value in samples if n == name and labels.items() <= got.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BasecampProcess, Path]]:
    root = tmp_path_factory.mktemp("metrics")
    store_dir = root / "store"
    store_dir.mkdir()
    store = FilesystemSpecStore(store_dir)
    for name in ("shop.orders", "shop.items"):
        store.create(
            SourceType.CODE, SpecDocument(spec=make_spec(name), source_type=SourceType.CODE, registered_by="ci")
        )
    store_dir.joinpath("code", "shop.broken.yaml").write_text("not: [a spec\n")
    for process in running_basecamp(root / "server", store_url=store_dir.as_uri(), check_interval=0.2):
        yield process, store_dir


def test_requests_are_counted_by_operation_status_and_code_and_timed(server) -> None:
    process, _ = server
    before = scrape(process.url)
    auth = {"Authorization": f"Bearer {process.token}"}
    for _ in range(7):
        assert httpx.get(f"{process.url}/api/v1/workflows", headers=auth).status_code == 200
    for _ in range(3):
        assert httpx.get(f"{process.url}/api/v1/workflows/shop.nothing", headers=auth).status_code == 404
    bad_cron = {"spec": {"name": "shop.x", "query_statement": "SELECT 1", "schedule": {"cron": "61 * * * *"}}}
    refused = httpx.post(f"{process.url}/api/v1/workflows", json=bad_cron, headers=auth)
    assert refused.status_code == 422
    refused_code = refused.json()["error"]["code"]
    after = scrape(process.url)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("dli_requests_total", operation="ListWorkflows", method="GET", status="200", code="") == 7
    assert delta("dli_requests_total", operation="GetWorkflow", method="GET", status="404", code="DLI-800") == 3
    assert delta("dli_requests_total", operation="RegisterWorkflow", status="422", code=refused_code) == 1
    assert delta("dli_request_duration_seconds_count", operation="ListWorkflows") == 7
    assert delta("dli_request_duration_seconds_sum", operation="ListWorkflows") > 0
    # The scrape before this one is counted too: a scrape is a request like any other.
    assert delta("dli_requests_total", operation="metrics", status="200") == 1


def test_authentication_failures_are_counted_by_reason(server) -> None:
    process, _ = server
    before = scrape(process.url)
    url = f"{process.url}/api/v1/workflows"
    for _ in range(2):
        assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer bc_0123456789abcdef_wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    after = scrape(process.url)
    for reason, count in (("missing_token", 2), ("invalid_token", 1), ("malformed_header", 1)):
        assert (
            total(after, "dli_auth_failures_total", reason=reason)
            - total(before, "dli_auth_failures_total", reason=reason)
            == count
        )
    assert (
        total(after, "dli_requests_total", operation="none", status="401", code="DLI-502")
        - total(before, "dli_requests_total", operation="none", status="401", code="DLI-502")
        == 4
    )
    assert "bc_0123456789abcdef_wrong" not in httpx.get(f"{process.url}/metrics").text


def test_store_and_orchestrator_calls_are_counted_by_kind_operation_and_outcome(server) -> None:
    process, _ = server
    auth = {"Authorization": f"Bearer {process.token}"}
    before = scrape(process.url)
    body = {"spec": {"name": "shop.manual", "query_statement": "SELECT 1", "schedule": {"cron": "0 6 * * *"}}}
    assert httpx.post(f"{process.url}/api/v1/workflows", json=body, headers=auth).status_code == 201
    after = scrape(process.url)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("dli_dependency_calls_total", dependency="store", kind="file", operation="create", outcome="ok") == 1
    assert delta("dli_dependency_call_duration_seconds_count", dependency="store", kind="file", operation="create") == 1
    assert delta("dli_dependency_calls_total", dependency="orchestrator", kind="memory", outcome="ok") >= 1
    # The health probe is a store call too (one GET of a missing key).
    httpx.get(f"{process.url}/health")
    assert total(scrape(process.url), "dli_dependency_calls_total", dependency="store", operation="read") >= 1


def test_the_index_reports_its_workflows_broken_documents_and_checks(server) -> None:
    process, _ = server
    samples = scrape(process.url)
    assert one(samples, "dli_index_workflows") >= 2
    assert one(samples, "dli_index_broken_documents") == 1
    assert total(samples, "dli_index_check_duration_seconds_count", outcome="ok") >= 1
    assert one(samples, "dli_index_last_success_timestamp_seconds") > 0
    assert one(samples, "dli_admission_in_flight") >= 0
    assert total(samples, "dli_admission_queued") == 0


def test_metrics_can_require_a_token(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    for process in running_basecamp(
        tmp_path / "server", store_url=store_dir.as_uri(), extra_args=["--metrics-need-token"]
    ):
        refused = httpx.get(f"{process.url}/metrics")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "DLI-502"
        assert total(scrape(process.url, process.token), "dli_auth_failures_total", reason="missing_token") == 1


def test_without_metrics_there_is_no_metrics_page(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    for process in running_basecamp(tmp_path / "server", store_url=store_dir.as_uri(), extra_args=["--no-metrics"]):
        assert httpx.get(f"{process.url}/metrics").status_code in (401, 404)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_with_two_workers_every_scrape_counts_the_requests_of_both(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    airflow = f"http://127.0.0.1:{free_port()}"  # --workers needs a shared orchestrator; none is asked here
    for process in running_basecamp(
        tmp_path / "server",
        store_url=store_dir.as_uri(),
        orchestrator_url=airflow,
        extra_args=["--workers", "2"],
        ready_path="/openapi.json",
    ):
        auth = {"Authorization": f"Bearer {process.token}"}
        pids = set()
        for _ in range(30):  # a new connection each: the kernel hands them to either worker
            with httpx.Client() as client:
                assert client.get(f"{process.url}/api/v1/workflows", headers=auth).status_code == 200
        for line in process.log_lines():
            if line.get("event") == "server_starting":
                pids.add(line["pid"])
        assert len(pids) >= 2, "both workers started"
        for _ in range(6):
            samples = scrape(process.url)
            assert total(samples, "dli_requests_total", operation="ListWorkflows", status="200") == 30
            # Only the workers' values: the process that started them left none (a 0 here would read
            # as an index that never loaded).
            assert one(samples, "dli_index_last_success_timestamp_seconds") > 0
