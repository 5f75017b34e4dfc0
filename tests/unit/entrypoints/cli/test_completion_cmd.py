"""``dli completion``: scripts for bash, zsh and fish."""

import pytest


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_knows_the_workflow_commands(cli, shell):
    result = cli("completion", shell)
    assert result.exit_code == 0
    for word in ("workflow", "register", "backfill", "--cron"):
        assert word in result.stdout


def test_unsupported_shell_is_a_usage_error(cli):
    assert cli("completion", "tcsh").exit_code == 2


def test_install_writes_the_script_to_the_given_path(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    target = tmp_path / "completions" / "dli.fish"
    result = cli("completion", "fish", "--install", "--output", str(target))
    assert result.exit_code == 0
    assert "workflow" in target.read_text()
    assert str(target) in result.stdout
