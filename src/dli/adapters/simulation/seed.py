"""Sample workflows and runs for MOCK mode: one of each kind a user meets."""

from __future__ import annotations

import datetime as dt

from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.runs import make_run_id
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, Parameter, SpecDocument
from dli.ports.orchestrator import RunRecord
from dli.ports.spec_store import SpecStore

__all__ = ["seed_mock"]


def _spec(name: str, description: str, cron: str, timezone: str = "UTC", **kwargs: object) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        owner="engineer@example.com",
        team="@data-engineering",
        description=description,
        query_statement=f"INSERT INTO {name.replace('.', '_')} SELECT * FROM events WHERE dt = '{{{{ execution_date }}}}'",
        schedule=ScheduleConfig(cron=cron, timezone=timezone),
        **kwargs,  # type: ignore[arg-type]
    )


def seed_mock(store: SpecStore, orchestrator: InMemoryOrchestrator, *, now: dt.datetime) -> None:
    """Fill an empty in-memory store and orchestrator with sample workflows and history."""
    registered = now - dt.timedelta(days=30)
    clicks_params = (Parameter(name="min_clicks", type="integer", default=0, description="Drop rows below this"),)
    docs = [
        (
            SourceType.CODE,
            _spec(
                "iceberg.analytics.daily_clicks",
                "Daily click aggregation for analytics",
                "0 9 * * *",
                parameters=clicks_params,
            ),
            "ci-pipeline",
        ),
        (
            SourceType.MANUAL,
            _spec(
                "iceberg.analytics.daily_clicks",
                "Daily click aggregation (manual draft)",
                "0 8 * * *",
                parameters=clicks_params,
            ),
            "engineer",
        ),
        (
            SourceType.CODE,
            _spec(
                "iceberg.analytics.user_metrics",
                "User metrics by region",
                "0 10 * * *",
                "Asia/Seoul",
                depends_on=("iceberg.analytics.daily_clicks", "iceberg.raw.users"),
            ),
            "ci-pipeline",
        ),
        (
            SourceType.MANUAL,
            _spec(
                "iceberg.analytics.ad_hoc_report",
                "Weekly ad-hoc report",
                "0 12 * * 1",
                depends_on=("iceberg.analytics.user_metrics",),
            ),
            "analyst",
        ),
    ]
    for source, spec, who in docs:
        store.create(source, SpecDocument(spec=spec, source_type=source, registered_by=who, registered_at=registered))
    orchestrator.set_paused("iceberg.analytics.daily_clicks", False)
    orchestrator.set_paused("iceberg.analytics.ad_hoc_report", False)
    orchestrator.set_paused("iceberg.analytics.user_metrics", True)
    for days_ago, status, seconds, error in (
        (3, RunStatus.FAILED, 45, "BigQuery quota exceeded"),
        (2, RunStatus.COMPLETED, 118, None),
        (1, RunStatus.COMPLETED, 125, None),
    ):
        day = (now - dt.timedelta(days=days_ago)).date()
        fire = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        orchestrator.add_run(
            RunRecord(
                run_id=make_run_id("iceberg.analytics.daily_clicks", f"scheduled__{fire.isoformat()}"),
                dataset_name="iceberg.analytics.daily_clicks",
                status=status,
                run_type=RunType.SCHEDULED,
                parameters={"execution_date": day.isoformat()},
                logical_date=fire,
                queued_at=fire,
                started_at=fire + dt.timedelta(seconds=40),
                finished_at=fire + dt.timedelta(seconds=40 + seconds),
                error_message=error,
            )
        )
    report_day = (now - dt.timedelta(days=1)).date()
    started = dt.datetime.combine(report_day, dt.time(15, 30), tzinfo=dt.UTC)
    orchestrator.add_run(
        RunRecord(
            run_id=make_run_id("iceberg.analytics.ad_hoc_report", f"manual__{started.isoformat()}"),
            dataset_name="iceberg.analytics.ad_hoc_report",
            status=RunStatus.COMPLETED,
            run_type=RunType.ADHOC,
            parameters={},
            logical_date=started,
            queued_at=started,
            started_at=started,
            finished_at=started + dt.timedelta(seconds=64),
            triggered_by="analyst",
        )
    )
