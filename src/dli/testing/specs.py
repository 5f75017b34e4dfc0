"""Builders of valid specs and documents, for the contract suites and tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dli.domain.model.enums import SourceType
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, Parameter, SpecDocument

__all__ = ["UTC", "make_document", "make_spec", "params_spec"]

UTC = dt.UTC


def make_spec(
    name: str = "shop.sales.daily",
    *,
    cron: str | None = "0 9 * * *",
    timezone: str = "UTC",
    enabled: bool = True,
    after: str | None = None,
    **fields: Any,
) -> DatasetSpec:
    """A valid spec; pass ``cron=None`` (and no ``after``) for one without a schedule."""
    fields.setdefault("query_statement", "SELECT 1")
    fields.setdefault("owner", "owner@example.com")
    schedule = ScheduleConfig(cron=cron, timezone=timezone, enabled=enabled, after=after) if cron or after else None
    return DatasetSpec(name=name, schedule=schedule, **fields)


def make_document(
    name: str = "shop.sales.daily",
    *,
    source: SourceType = SourceType.MANUAL,
    registered_by: str | None = "alice",
    **spec_fields: Any,
) -> SpecDocument:
    """A stored document."""
    return SpecDocument(
        spec=make_spec(name, **spec_fields),
        source_type=source,
        registered_by=registered_by,
        registered_at=dt.datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
    )


def params_spec(name: str = "shop.sales.params") -> DatasetSpec:
    """A spec declaring one parameter of each type."""
    return make_spec(
        name,
        parameters=(
            Parameter(name="region", type="string", required=True),
            Parameter(name="limit", type="integer", default=10),
            Parameter(name="ratio", type="float"),
            Parameter(name="full", type="boolean"),
            Parameter(name="day", type="date"),
        ),
    )
