"""The root app: help, version, global options, error reporting and exit statuses."""

from __future__ import annotations

import io

from dli import __version__
from dli.domain.model.errors import ServerUnreachableError
from dli.entrypoints.cli.app import invoke
from dli.entrypoints.context import ExecutionMode


def test_help_lists_the_workflow_group_and_builds_no_api(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "workflow" in result.stdout
    assert "--mode" in result.stdout
    assert cli.contexts == []


def test_workflow_help_lists_every_subcommand(cli):
    result = cli("workflow", "--help")
    assert result.exit_code == 0
    for name in (
        "register",
        "unregister",
        "run",
        "backfill",
        "stop",
        "status",
        "list",
        "history",
        "pause",
        "unpause",
        "logs",
    ):
        assert f" {name} " in result.stdout


def test_subcommand_help_shows_its_options_and_the_short_flags(cli):
    result = cli("workflow", "register", "--help")
    assert result.exit_code == 0
    for flag in (
        "--cron -c CRON",
        "--timezone -tz TZ",
        "--disabled",
        "--retry-attempts",
        "--retry-delay",
        "--force -f",
        "--dry-run",
        "--wait -w",
    ):
        assert flag in result.stdout


def test_register_help_names_the_timezone_option_once_with_its_short_flag(cli):
    """``--tz`` is accepted but not listed: the help shows ``--timezone -tz TZ``, not three names."""
    result = cli("workflow", "register", "--help")
    assert "--tz" not in result.stdout
    assert "--timezone --tz" not in result.stdout


_HELP_PAGES = [
    (),
    ("workflow",),
    ("workflow", "register"),
    ("workflow", "unregister"),
    ("workflow", "run"),
    ("workflow", "backfill"),
    ("workflow", "stop"),
    ("workflow", "status"),
    ("workflow", "list"),
    ("workflow", "history"),
    ("workflow", "pause"),
    ("workflow", "unpause"),
    ("workflow", "logs"),
    ("workflow", "publish"),
    ("workflow", "validate"),
    ("workflow", "lineage"),
    ("workflow", "plan"),
    ("completion",),
    ("dev", "up"),
    ("dev", "down"),
    ("dev", "status"),
]


def test_no_help_page_has_a_space_before_punctuation_or_swallowed_brackets(cli):
    """Rich markup swallowed '[env: ...]' in help texts, leaving 'Execution mode .'."""
    import re

    for page in _HELP_PAGES:
        result = cli(*page, "--help")
        assert result.exit_code == 0, page
        text = " ".join(line.strip(" │╭╮╰╯─") for line in result.stdout.splitlines())
        assert not re.search(r"\w \.(\s|$)|\w ,", text), (page, result.stdout)
        assert not re.search(r"\w\.\s\s+\[", text), (page, result.stdout)  # an empty markup tag left two spaces


def test_global_options_show_their_environment_variable_and_default(cli):
    result = cli("--help")
    assert "Execution mode. [env: DLI_MODE] [default: server]" in result.stdout
    assert "Basecamp server URL. [env: DLI_SERVER_URL] [default: http://localhost:8081]" in " ".join(
        line.strip(" │") for line in result.stdout.splitlines()
    )


def test_long_and_short_timezone_flags_are_the_same_option_and_two_different_values_are_refused(cli):
    assert "Timezone: Asia/Seoul" in cli("workflow", "register", "a.b", "-c", "0 9 * * *", "--tz", "Asia/Seoul").stdout
    both = cli("workflow", "register", "a.c", "-c", "0 9 * * *", "--timezone", "Asia/Seoul", "--tz", "Europe/Paris")
    assert both.exit_code == 2
    assert both.stderr.startswith("Error [DLI-204]: Two timezones given")


def test_register_wait_has_the_short_flag_w(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "-w")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Workflow registered: test.dataset")


def test_version_prints_the_package_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_unknown_command_is_a_usage_error(cli):
    result = cli("workflow", "explode")
    assert result.exit_code == 2
    assert cli.contexts == []


def test_missing_required_option_is_a_usage_error(cli):
    result = cli("workflow", "backfill", "iceberg.analytics.daily_clicks", "--start", "2025-01-01")
    assert result.exit_code == 2
    assert "--end" in result.stderr


def test_invalid_mode_flag_is_a_usage_error(cli):
    result = cli("--mode", "cloud", "workflow", "list")
    assert result.exit_code == 2


def test_invalid_mode_in_the_environment_is_dli_001_exit_2(cli, monkeypatch):
    monkeypatch.setenv("DLI_MODE", "cloud")
    result = cli("workflow", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-001]: Invalid execution mode 'cloud' (DLI_MODE)")


def test_global_options_work_after_the_subcommand(cli, tmp_path):
    result = cli("workflow", "list", "--mode", "mock", "--path", str(tmp_path))
    assert result.exit_code == 0
    assert cli.contexts[-1].execution_mode is ExecutionMode.MOCK
    assert cli.contexts[-1].project_path == tmp_path


def test_the_api_is_built_once_per_invocation(cli):
    cli("workflow", "run", "iceberg.analytics.daily_clicks", "--wait")
    assert len(cli.contexts) == 1


def test_dli_error_prints_code_message_and_indented_hints_without_traceback(cli):
    def unreachable(_context):
        raise ServerUnreachableError("Cannot reach http://localhost:8081", hints=("Is the server running?",))

    result = cli("workflow", "list", factory=unreachable)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error [DLI-501]: Cannot reach http://localhost:8081\n       Is the server running?\n"


def test_verbose_adds_the_traceback(cli):
    def unreachable(_context):
        raise ServerUnreachableError("Cannot reach it")

    result = cli("--verbose", "workflow", "list", factory=unreachable)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "\nError [DLI-501]: Cannot reach it\n" in result.stderr
    assert result.stderr.index("Traceback") < result.stderr.index("Error [DLI-501]")


def test_unexpected_exception_is_one_line_and_exit_1(cli):
    def broken(_context):
        raise RuntimeError("boom")

    result = cli("workflow", "list", factory=broken)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "Error: unexpected RuntimeError: boom" in result.stderr
    assert "--verbose" in result.stderr


def test_keyboard_interrupt_exits_130(cli):
    def interrupted(_context):
        raise KeyboardInterrupt

    result = cli("workflow", "list", factory=interrupted)
    assert result.exit_code == 130


def test_invoke_without_injection_uses_the_real_mock_wiring(isolated_env, capsys):
    code = invoke(["workflow", "list", "--mode", "mock"])
    captured = capsys.readouterr()
    assert code == 0
    assert "iceberg.analytics.daily_clicks" in captured.out


def test_output_can_be_redirected_for_embedding(isolated_env):
    out, err = io.StringIO(), io.StringIO()
    code = invoke(["workflow", "status", "nope"], stdout=out, stderr=err)
    assert code == 1
    assert out.getvalue() == ""
    assert err.getvalue().startswith("Error [DLI-800]")
