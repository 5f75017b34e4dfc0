"""The dependency timeouts, configured through the composition root and ``basecamp serve``."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from dli.adapters.clock import SystemClock
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, ServerError, StoreUnavailableError
from dli.entrypoints.bootstrap import build_orchestrator, build_server, build_store
from dli.entrypoints.server import cli as basecamp_cli
from tests.support.hanging_server import hanging_server


@pytest.fixture(autouse=True)
def _default_logging():
    # `basecamp serve` configures logging to the stdout of the moment (capsys's) before it refuses
    # its options: later tests would log into that closed file.
    yield
    structlog.reset_defaults()


@pytest.mark.timeout(30)
def test_airflows_read_timeout_set_through_build_server_bounds_a_hung_airflow(tmp_path: Path) -> None:
    with hanging_server() as airflow:
        settings = build_server(
            orchestrator_url=airflow.url,
            tokens_file=tmp_path / "tokens.json",
            airflow_username="admin",
            airflow_password="pw",
            airflow_read_timeout_seconds=0.5,
        )
        with pytest.raises(ServerError) as caught:
            settings.orchestrator.pause_states()
    assert caught.value.message == f"Airflow at {airflow.url} did not answer in 0.5 s"


@pytest.mark.timeout(30)
def test_the_stores_read_timeout_set_through_build_store_bounds_a_hung_s3(monkeypatch) -> None:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with hanging_server() as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
        store = build_store("s3://hung-bucket/specs", read_timeout_seconds=0.5)
        with pytest.raises(StoreUnavailableError) as caught:
            store.list_etags(SourceType.CODE)
    assert caught.value.message == "Spec store s3://hung-bucket/specs did not answer in 0.5 s"


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True])
def test_a_timeout_that_is_not_a_positive_number_is_dli_001(value) -> None:
    with pytest.raises(ConfigurationError, match="must be a positive number of seconds"):
        build_orchestrator("http://airflow:8080", clock=SystemClock(), read_timeout_seconds=value)
    with pytest.raises(ConfigurationError, match="The store's connect timeout"):
        build_store("memory://", connect_timeout_seconds=value)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--airflow-read-timeout", "0"], {}),
        (["--store-connect-timeout", "-3"], {}),
        ([], {"DLI_AIRFLOW_CONNECT_TIMEOUT": "nan"}),
        ([], {"DLI_STORE_READ_TIMEOUT": "inf"}),
    ],
)
def test_basecamp_serve_refuses_a_bad_timeout_before_serving(tmp_path, monkeypatch, capsys, args, env) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        basecamp_cli.main(
            ["serve", "--tokens-file", str(tmp_path / "t.json"), "--airflow-url", "http://af:8080", *args]
        )
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "DLI-001" in err and "timeout must be a positive number of seconds" in err and "Traceback" not in err
