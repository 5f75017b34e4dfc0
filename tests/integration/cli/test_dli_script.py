"""Smoke tests of the installed ``dli`` console script, in subprocesses.

Also checks the start-up promise: ``dli --help`` and ``dli workflow list --mode mock`` import neither
httpx, boto3, litestar, Airflow nor jinja2 (loaded only to check the SQL of a spec that is read);
speed itself is measured by benchmarks/cli_startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DLI = BIN / "dli"

pytestmark = pytest.mark.skipif(not DLI.exists(), reason="the dli script is not installed in this environment")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DLI_")}
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # no user config file there
    clean["DLI_MODE"] = "mock"
    return clean


def dli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DLI), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_help_and_version(env, tmp_path):
    result = dli("--help", env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "workflow" in result.stdout
    version = dli("--version", env=env, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip()


def test_list_in_mock_mode_prints_the_table_and_totals(env, tmp_path):
    result = dli("workflow", "list", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["DATASET", "SOURCE", "STATUS"]
    assert result.stdout.rstrip().splitlines()[-1].startswith("Total: 4 workflows")


def test_json_output_is_valid_json(env, tmp_path):
    result = dli(
        "workflow",
        "history",
        "-d",
        "iceberg.analytics.daily_clicks",
        "--show-dataset-info",
        "--format",
        "json",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["dataset_info"]["name"] == "iceberg.analytics.daily_clicks"


def test_error_goes_to_stderr_with_code_and_exit_status(env, tmp_path):
    result = dli("workflow", "register", "test.dataset", "--cron", "invalid", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error [DLI-805]: Invalid cron expression: 'invalid'")
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(env, tmp_path):
    result = dli("workflow", "register", "test.dataset", env=env, cwd=tmp_path)
    assert result.returncode == 2


def test_unreachable_server_is_dli_501_exit_1(env, tmp_path):
    env["DLI_MODE"] = "server"
    result = dli("workflow", "list", "--server", "http://127.0.0.1:9", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error [DLI-501]")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_run_wait_completes_in_real_time(env, tmp_path):
    # MOCK runs take about 4 s of real time (1 s queued, 3 s running).
    result = dli("workflow", "run", "iceberg.analytics.daily_clicks", "--wait", "--poll", "0.2", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Outcome: completed" in result.stdout
    assert result.stderr == ""  # no spinner when stderr is not a terminal


def test_python_dash_m_dli_works(env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dli", "workflow", "list", "-f", "json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["total_count"] == 4


_HARNESS = """
import sys
from dli.entrypoints.cli.app import invoke
code = invoke(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'boto3', 'botocore', 'litestar', 'uvicorn', 'airflow', 'jinja2'})
sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["workflow", "--help"],
        ["workflow", "list", "--mode", "mock"],
        ["workflow", "history", "--mode", "mock"],
    ],
)
def test_fast_paths_import_no_heavy_library(env, tmp_path, args):
    result = subprocess.run(
        [sys.executable, "-c", _HARNESS, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stderr


def test_help_does_not_import_the_command_modules(env, tmp_path):
    harness = (
        "import sys, io, contextlib\n"
        "from dli.entrypoints.cli.app import invoke\n"
        "with contextlib.redirect_stdout(io.StringIO()): invoke(['workflow', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.endswith(('_cmd', '_cmds'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", harness], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
