"""Bad input through the CLI (issue #11): refused with a DLI code and a hint, never a traceback, and
nothing written or started."""

from __future__ import annotations

from pathlib import Path

import pytest

from dli.adapters.codecs.yaml_documents import MAX_ALIAS_EXPANSION
from dli.domain.model.enums import SourceType
from dli.domain.model.spec import Parameter
from tests.support.backends import write_spec
from tests.support.bad_input import billion_laughs
from tests.support.specs import make_spec

NAME = "shop.ratio"


def _refused(result, code: str, exit_code: int = 2) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith(f"Error [{code}]: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


@pytest.fixture
def project(cli) -> Path:
    spec = make_spec(
        NAME,
        cron=None,
        parameters=(Parameter(name="f", type="float", default=1.0), Parameter(name="n", type="integer")),
    )
    write_spec(cli.project, spec)
    return cli.project


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--retry-attempts", str(10**20), "retry.max_attempts: must be an integer from 1 to 100"),
        ("--retry-attempts", "0", "retry.max_attempts: must be an integer from 1 to 100"),
        ("--retry-delay", str(10**20), "retry.delay_seconds: must be an integer from 0 to 86400"),
        ("--retry-delay", "-1", "retry.delay_seconds: must be an integer from 0 to 86400"),
    ],
)
def test_register_with_an_out_of_range_retry_writes_nothing(cli, project, option, value, field) -> None:
    result = cli("workflow", "register", NAME, "--cron", "0 6 * * *", option, value)
    _refused(result, "DLI-203")
    assert field in result.stderr
    assert cli.store.read(SourceType.MANUAL, NAME) is None


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_run_with_a_float_parameter_that_is_not_a_number_starts_nothing(cli, project, value) -> None:
    assert cli("workflow", "register", NAME, "--cron", "0 6 * * *").exit_code == 0
    result = cli("workflow", "run", NAME, "-p", f"f={value}", "-p", "n=1")
    _refused(result, "DLI-204")
    assert "'f'" in result.stderr
    assert cli("workflow", "history", "-d", NAME, "--format", "json").json()["total_count"] == 0


def test_backfill_with_a_float_parameter_that_is_not_a_number_starts_nothing(cli, project) -> None:
    assert cli("workflow", "register", NAME, "--cron", "0 6 * * *").exit_code == 0
    result = cli("workflow", "backfill", NAME, "-s", "2025-01-01", "-e", "2025-01-02", "-p", "f=nan", "-p", "n=1")
    _refused(result, "DLI-204")
    assert cli("workflow", "history", "-d", NAME, "--format", "json").json()["total_count"] == 0


@pytest.mark.timeout(30)
def test_register_of_a_billion_laughs_spec_file_is_refused_fast_and_writes_nothing(cli) -> None:
    (cli.project / "dli.yaml").touch()
    (cli.project / "dataset.shop.bomb.yaml").write_text(billion_laughs("shop.bomb"))
    result = cli("workflow", "register", "shop.bomb", "--cron", "0 6 * * *")
    _refused(result, "DLI-203")
    assert f"expands to more than {MAX_ALIAS_EXPANSION} values" in result.stderr
    assert "dataset.shop.bomb.yaml" in result.stderr
    assert cli.store.read(SourceType.MANUAL, "shop.bomb") is None


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name: shop.bad\nowner: café\nquery_statement: SELECT 1\n".encode("latin-1"), "not UTF-8"),
        (b"name: shop.bad\nquery_statement: SELECT 1\nx: " + b"[" * 100 + b"]" * 100 + b"\n", "nested more than"),
        (b"name: shop.bad\nquery_statement: SELECT 1\nowner: a\nowner: b\n", "duplicate key 'owner'"),
        (b"name: shop.bad\nquery_statement: SELECT 1\nx: " + b"a" * (3 * 1024 * 1024) + b"\n", "more than the 2 MiB"),
        (b"name: shop.bad\nquery_statement: SELECT 1\nowner: [a, b]\n", "owner: expected str"),
        (b"name: shop.bad\nquery_statement: SELECT 1\nschedule: {enabled: 'false'}\n", "schedule"),
    ],
)
def test_register_of_a_malformed_spec_file_names_the_problem_and_writes_nothing(cli, content, needle) -> None:
    (cli.project / "dli.yaml").touch()
    (cli.project / "dataset.shop.bad.yaml").write_bytes(content)
    result = cli("workflow", "register", "shop.bad", "--cron", "0 6 * * *")
    _refused(result, "DLI-203")
    assert needle in result.stderr
    assert cli.store.read(SourceType.MANUAL, "shop.bad") is None
