"""``dli workflow register`` and ``unregister``."""

from __future__ import annotations

import pytest
import yaml

from dli.adapters.codecs.specs import spec_to_dict
from tests.support.specs import make_spec


class TestRegister:
    """The register command with DLI_MODE=mock."""

    def test_register_success(self, cli):
        result = cli("workflow", "register", "test.dataset", "--cron", "0 9 * * *")
        assert result.exit_code == 0
        assert "registered" in result.stdout.lower()

    def test_register_missing_cron(self, cli):
        # MOCK mode with no local spec: no schedule: section to take either.
        result = cli("workflow", "register", "test.dataset")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-805]") and "--cron" in result.stderr

    def test_register_with_timezone(self, cli):
        result = cli("workflow", "register", "test.dataset", "--cron", "0 9 * * *", "--timezone", "Asia/Seoul")
        assert result.exit_code == 0
        assert "Asia/Seoul" in result.stdout

    def test_register_with_real_mock_wiring(self, cli):
        result = cli.fresh("workflow", "register", "test.dataset", "-c", "0 9 * * *")
        assert result.exit_code == 0


def test_summary_shows_source_status_cron_timezone_and_next_run_in_the_workflows_zone(cli):
    # Now is 2025-01-01 08:00 UTC = 17:00 KST: the next 09:00 KST is on 2025-01-02.
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--tz", "Asia/Seoul")
    assert result.stdout.splitlines() == [
        "Workflow registered: test.dataset",
        "  Source: manual",
        "  Status: active",
        "  Cron: 0 9 * * *",
        "  Timezone: Asia/Seoul",
        "  Next Run: 2025-01-02 09:00:00 KST",
    ]


def test_short_tz_flag_is_accepted(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "-tz", "Europe/Paris")
    assert result.exit_code == 0
    assert "  Timezone: Europe/Paris" in result.stdout


def test_disabled_registers_a_paused_workflow_without_next_run(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 10 * * *", "--disabled")
    assert result.exit_code == 0
    assert "  Status: paused" in result.stdout
    assert "Next Run" not in result.stdout


def test_registered_workflow_shows_in_a_later_list(cli):
    cli("workflow", "register", "test.dataset", "-c", "0 9 * * *")
    listing = cli("workflow", "list", "--format", "json").json()
    assert "test.dataset" in [w["dataset_name"] for w in listing["workflows"]]


def test_force_update_shows_previous_and_new_cron(cli):
    result = cli("workflow", "register", "iceberg.analytics.ad_hoc_report", "-c", "0 8 * * *", "--force")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Workflow updated: iceberg.analytics.ad_hoc_report",
        "  Previous cron: 0 12 * * 1",
        "  New cron: 0 8 * * *",
    ]


def test_existing_manual_without_force_is_dli_804_exit_1(cli):
    result = cli("workflow", "register", "iceberg.analytics.ad_hoc_report", "-c", "0 8 * * *")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [DLI-804]:")
    assert "--force" in result.stderr


def test_code_workflow_is_dli_803_exit_1(cli):
    result = cli("workflow", "register", "iceberg.analytics.user_metrics", "-c", "0 8 * * *", "-f")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [DLI-803]:")
    assert "       This dataset is managed by Code (GitOps)." in result.stderr


@pytest.mark.parametrize("cron", ["invalid", "0 9 * *", "61 9 * * *", "0 9 * * * *"])
def test_invalid_cron_is_dli_805_exit_2(cli, cron):
    result = cli("workflow", "register", "test.dataset", "--cron", cron)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-805]: Invalid cron expression")
    assert "Expected 5-field format" in result.stderr


def test_unknown_timezone_is_dli_805_exit_2(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--tz", "Mars/Olympus")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-805]: Unknown timezone: 'Mars/Olympus'")


@pytest.mark.parametrize("name", ["Bad.Name", "../etc/passwd", "a..b", "a/b", ".hidden"])
def test_malformed_dataset_name_is_dli_203_exit_2(cli, name):
    result = cli("workflow", "register", name, "-c", "0 9 * * *")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-203]: Invalid dataset name")


def test_bad_retry_attempts_is_dli_203_exit_2(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--retry-attempts", "0")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-203]:")


def test_non_integer_retry_delay_is_a_usage_error(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--retry-delay", "soon")
    assert result.exit_code == 2


def test_json_output_is_the_register_result(cli):
    result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--tz", "Asia/Seoul", "--format", "json")
    data = result.json()
    assert data["dataset_name"] == "test.dataset"
    assert data["status"] == "success"
    assert data["source_type"] == "manual"
    assert data["updated"] is False
    assert data["workflow_info"]["next_run"] == "2025-01-02T09:00:00+09:00"


class TestLocalProject:
    """Outside MOCK mode the spec must exist in the project (DLI-101)."""

    @pytest.fixture(autouse=True)
    def local_memory(self, monkeypatch):
        monkeypatch.setenv("DLI_MODE", "local")
        monkeypatch.setenv("DLI_STORE_URL", "memory://")
        monkeypatch.setenv("DLI_AIRFLOW_URL", "memory://")

    def test_dataset_missing_locally_is_dli_101_exit_1(self, cli):
        result = cli.fresh("workflow", "register", "nonexistent.dataset", "--cron", "0 9 * * *")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-101]: Dataset 'nonexistent.dataset' not found")

    def test_spec_found_under_path_is_registered(self, cli, tmp_path):
        project = tmp_path / "elsewhere"
        (project / "models").mkdir(parents=True)
        (project / "dli.yaml").write_text("name: demo\n")
        spec = make_spec("shop.sales.daily", cron=None)
        (project / "models" / "dataset.shop.sales.daily.yaml").write_text(yaml.safe_dump(spec_to_dict(spec)))
        result = cli.fresh("workflow", "register", "shop.sales.daily", "-c", "0 9 * * *", "--path", str(project))
        assert result.exit_code == 0, result.stderr
        assert "Workflow registered: shop.sales.daily" in result.stdout


class TestDryRun:
    def test_dry_run_registers_nothing(self, cli):
        result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--dry-run")
        assert result.exit_code == 0
        assert "nothing was changed" in result.stdout
        listing = cli("workflow", "list", "--format", "json").json()
        assert "test.dataset" not in [w["dataset_name"] for w in listing["workflows"]]

    def test_dry_run_shows_five_fire_times_in_the_zone_and_utc(self, cli):
        result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--tz", "Asia/Seoul", "--dry-run")
        lines = result.stdout.splitlines()
        header = lines.index("Next 5 fire times:")
        assert lines[header + 1].split() == ["LOCAL", "(Asia/Seoul)", "UTC", "NOTE"]
        rows = lines[header + 2 :]
        assert len(rows) == 5
        assert rows[0].split() == ["2025-01-02", "09:00:00", "KST", "2025-01-02", "00:00:00"]

    def test_dry_run_marks_dst_gap_and_overlap(self, cli):
        gap = cli(
            "workflow",
            "register",
            "test.dataset",
            "-c",
            "30 2 * * *",
            "--tz",
            "America/New_York",
            "--dry-run",
            "--from",
            "2025-03-08",
        )
        gap_rows = gap.stdout.splitlines()[-5:]
        assert "DST gap" not in gap_rows[0]
        assert gap_rows[1].startswith("2025-03-09 03:00:00 EDT") and "DST gap" in gap_rows[1]
        overlap = cli(
            "workflow",
            "register",
            "test.dataset",
            "-c",
            "30 1 * * *",
            "--tz",
            "America/New_York",
            "--dry-run",
            "--from",
            "2025-11-02",
        )
        first = overlap.stdout.splitlines()[-5]
        assert first.startswith("2025-11-02 01:30:00 EDT") and "05:30:00" in first and "DST overlap" in first

    def test_dry_run_json_lists_fire_times(self, cli):
        data = cli(
            "workflow",
            "register",
            "test.dataset",
            "-c",
            "30 2 * * *",
            "--tz",
            "America/New_York",
            "--dry-run",
            "--from",
            "2025-03-09",
            "--format",
            "json",
        ).json()
        assert data["dry_run"] is True and data["action"] == "register"
        assert data["schedule"]["cron"] == "30 2 * * *"
        assert data["fire_times"][0] == {
            "local": "2025-03-09T03:00:00-04:00",
            "utc": "2025-03-09T07:00:00+00:00",
            "note": "DST gap",
        }
        assert len(data["fire_times"]) == 5

    def test_dry_run_validates_cron_like_register(self, cli):
        result = cli("workflow", "register", "test.dataset", "-c", "bad", "--dry-run")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-805]")

    def test_dry_run_reports_the_conflicts_register_would_hit(self, cli):
        code = cli("workflow", "register", "iceberg.analytics.user_metrics", "-c", "0 9 * * *", "--dry-run")
        assert code.exit_code == 1 and code.stderr.startswith("Error [DLI-803]")
        manual = cli("workflow", "register", "iceberg.analytics.ad_hoc_report", "-c", "0 9 * * *", "--dry-run")
        assert manual.exit_code == 1 and manual.stderr.startswith("Error [DLI-804]")

    def test_dry_run_with_force_shows_the_update(self, cli):
        result = cli("workflow", "register", "iceberg.analytics.ad_hoc_report", "-c", "0 9 * * *", "--dry-run", "-f")
        assert result.exit_code == 0
        assert "would be updated" in result.stdout
        assert "  Previous cron: 0 12 * * 1" in result.stdout

    def test_dry_run_bad_from_date_is_dli_204(self, cli):
        result = cli("workflow", "register", "test.dataset", "-c", "0 9 * * *", "--dry-run", "--from", "2025-02-30")
        assert result.exit_code == 2
        assert result.stderr.startswith("Error [DLI-204]")


class TestUnregister:
    def test_unregister_manual(self, cli):
        result = cli("workflow", "unregister", "iceberg.analytics.ad_hoc_report")
        assert result.exit_code == 0
        assert "unregistered" in result.stdout
        listing = cli("workflow", "list", "--format", "json").json()
        assert "iceberg.analytics.ad_hoc_report" not in [w["dataset_name"] for w in listing["workflows"]]

    def test_unregister_code_only_is_dli_803(self, cli):
        result = cli("workflow", "unregister", "iceberg.analytics.user_metrics")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-803]")

    def test_unregister_unknown_is_dli_800(self, cli):
        result = cli("workflow", "unregister", "no.such.dataset")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error [DLI-800]")

    def test_unregister_json(self, cli):
        data = cli("workflow", "unregister", "iceberg.analytics.ad_hoc_report", "--format", "json").json()
        assert data["status"] == "success" and data["dataset_name"] == "iceberg.analytics.ad_hoc_report"


class TestTheSpecsScheduleSection:
    """register takes the spec's schedule: section; each option given overrides its field."""

    NAME = "shop.sched"

    @pytest.fixture(autouse=True)
    def project_spec(self, isolated_env):
        # The example, written as a user writes it, in the project MOCK mode reads.
        (isolated_env / "dli.yaml").write_text("")
        (isolated_env / f"dataset.{self.NAME}.yaml").write_text(
            f"name: {self.NAME}\n"
            "query_statement: SELECT 1\n"
            "schedule:\n"
            '  cron: "15 4 * * *"\n'
            "  timezone: Asia/Seoul\n"
            "  enabled: false\n"
            "  retry: {max_attempts: 3, delay_seconds: 60}\n"
        )

    def stored(self, cli):
        from dli.domain.model.enums import SourceType

        return cli.store.read(SourceType.MANUAL, self.NAME).document.spec.schedule

    def test_register_without_flags_takes_the_schedule_section(self, cli):
        result = cli("workflow", "register", self.NAME)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"Workflow registered: {self.NAME}",
            "  Source: manual",
            "  Status: paused",
            "  Cron: 15 4 * * *",
            "  Timezone: Asia/Seoul",
        ]
        schedule = self.stored(cli)
        assert (schedule.cron, schedule.timezone, schedule.enabled) == ("15 4 * * *", "Asia/Seoul", False)
        assert (schedule.retry_max_attempts, schedule.retry_delay_seconds) == (3, 60)

    @pytest.mark.parametrize(
        ("flags", "changed"),
        [
            (("--cron", "0 9 * * *"), {"cron": "0 9 * * *"}),
            (("--timezone", "Europe/Paris"), {"timezone": "Europe/Paris"}),
            (("--tz", "Europe/Paris"), {"timezone": "Europe/Paris"}),
            (("--enabled",), {"enabled": True}),
            (("--retry-attempts", "5"), {"retry_max_attempts": 5}),
            (("--retry-delay", "10"), {"retry_delay_seconds": 10}),
            (("--after-upstream",), {"after": "upstream"}),
        ],
    )
    def test_each_flag_overrides_only_its_field(self, cli, flags, changed):
        assert cli("workflow", "register", self.NAME, *flags).exit_code == 0
        expected = {
            "cron": "15 4 * * *",
            "timezone": "Asia/Seoul",
            "enabled": False,
            "retry_max_attempts": 3,
            "retry_delay_seconds": 60,
            "after": None,
        }
        schedule = self.stored(cli)
        assert {k: getattr(schedule, k) for k in expected} == {**expected, **changed}

    def test_disabled_overrides_an_enabled_section(self, cli, isolated_env):
        path = isolated_env / f"dataset.{self.NAME}.yaml"
        path.write_text(path.read_text().replace("enabled: false", "enabled: true"))
        assert "  Status: paused" in cli("workflow", "register", self.NAME, "--disabled").stdout
        assert self.stored(cli).enabled is False

    def test_no_after_upstream_drops_the_sections_after(self, cli, isolated_env):
        path = isolated_env / f"dataset.{self.NAME}.yaml"
        path.write_text(path.read_text().replace("  enabled: false\n", "  enabled: false\n  after: upstream\n"))
        assert cli("workflow", "register", self.NAME, "--no-after-upstream").exit_code == 0
        assert (self.stored(cli).cron, self.stored(cli).after) == ("15 4 * * *", None)

    def test_dry_run_takes_the_schedule_section(self, cli):
        result = cli("workflow", "register", self.NAME, "--dry-run")
        assert result.exit_code == 0, result.stderr
        assert "  Cron: 15 4 * * *" in result.stdout and "  Timezone: Asia/Seoul" in result.stdout
        assert "  Retry: 3 attempt(s), 60s apart" in result.stdout
        # Now is 2025-01-01 08:00 UTC = 17:00 KST: the next 04:15 KST is on 2025-01-02.
        lines = result.stdout.splitlines()
        first = lines[lines.index("Next 5 fire times (once unpaused):") + 2]
        assert first.split() == ["2025-01-02", "04:15:00", "KST", "2025-01-01", "19:15:00"]

    def test_dry_run_json_shows_the_overridden_schedule(self, cli):
        data = cli("workflow", "register", self.NAME, "--dry-run", "--tz", "UTC", "--format", "json").json()
        assert data["schedule"] == {
            "cron": "15 4 * * *",
            "timezone": "UTC",
            "enabled": False,
            "retry_max_attempts": 3,
            "retry_delay_seconds": 60,
            "after": None,
        }

    def test_without_flags_or_section_it_is_dli_805_with_hints_that_work(self, cli, isolated_env):
        (isolated_env / "dataset.shop.bare.yaml").write_text("name: shop.bare\nquery_statement: SELECT 1\n")
        for argv in (("workflow", "register", "shop.bare"), ("workflow", "register", "shop.bare", "--dry-run")):
            result = cli(*argv)
            assert result.exit_code == 2
            assert result.stderr.splitlines() == [
                "Error [DLI-805]: A schedule needs a cron expression, 'after: upstream', or both",
                "       Pass --cron '0 9 * * *' and/or --after-upstream, or add to the spec a schedule: section "
                "with a cron (and its timezone) or 'after: upstream'.",
            ]
        # Both remedies the hint names work.
        assert cli("workflow", "register", "shop.bare", "--after-upstream").exit_code == 0
        (isolated_env / "dataset.shop.bare2.yaml").write_text(
            "name: shop.bare2\nquery_statement: SELECT 1\nschedule: {after: upstream}\n"
        )
        assert cli("workflow", "register", "shop.bare2").exit_code == 0

    def test_a_section_without_trigger_names_the_file_and_what_to_write_there(self, cli, isolated_env):
        (isolated_env / "dataset.shop.tz.yaml").write_text(
            "name: shop.tz\nquery_statement: SELECT 1\nschedule: {timezone: Asia/Seoul}\n"
        )
        result = cli("workflow", "register", "shop.tz", "--cron", "0 9 * * *")
        assert result.exit_code == 2
        assert result.stderr.splitlines()[1:] == [
            "       Write a 'cron' (5 fields, e.g. '0 9 * * *') and/or 'after: upstream' in the schedule: section."
        ]
        assert "dataset.shop.tz.yaml: schedule.cron: missing" in result.stderr.splitlines()[0]
