"""The operators' documents name the server's metrics as it exposes them: the table of
docs/operations.md lists every one, and the Grafana dashboard and the alert rules use no other."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.metrics_core import Metric

from dli.entrypoints.server.metrics import ServerMetrics

DOCS = Path(__file__).resolve().parents[4] / "docs"


def _exposed() -> set[str]:
    families: list[Metric] = list(ServerMetrics().registry.collect())
    return {family.name + ("_total" if family.type == "counter" else "") for family in families}


def _base(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _histograms() -> set[str]:
    return {family.name for family in ServerMetrics().registry.collect() if family.type == "histogram"}


def _used(text: str) -> set[str]:
    return {_base(name) for name in re.findall(r"\bdli_[a-z_]+", text)}


def test_operations_md_lists_every_metric_the_server_exposes() -> None:
    text = (DOCS / "operations.md").read_text()
    assert {name for name in _exposed() if f"`{name}`" not in text} == set()


def test_the_dashboard_and_the_alert_rules_use_only_metrics_the_server_exposes() -> None:
    known = _exposed() | _histograms()
    dashboard = json.loads((DOCS / "grafana-basecamp.json").read_text())
    expressions = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yaml").read_text())
    alerts = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    for used in (_used(expressions), _used(alerts)):
        assert used and used <= known, used - known
    assert len(rules["groups"][0]["rules"]) >= 5
