"""At scale on the production-shaped stack: nothing published is lost on its way to Airflow.

A publish of 1,000 specs rewrites most of the bundle's 256 shard files several times while Airflow
parses them (the bundle refreshes every 5 s during the publish), so some shard is rewritten during
its own parse; with ``min_file_process_interval`` at the recommended 600 s, such a change would
stay out of Airflow for ten minutes unless the bundle's parse watch asks for it again.

Runs after test_production.py (same stack; its ``publish --prune`` would remove these specs).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.e2e.production.conftest import Production
from tests.e2e.stack import write_project
from tests.support.production_stack import BUNDLE, wait_for

pytestmark = pytest.mark.timeout(900)

COUNT = 1_000
PREFIX = "scale.gen."
TARGET = 90.0  # seconds from the publish's start: issue 23's target, printed (not met on 2 shared cores)
# A shard rewritten during its own parse and not asked for again stays out of Airflow for
# min_file_process_interval (600 s, the production stack's setting, from the rewrite): every DAG listed
# well before that means no change was lost.
LISTED_WITHIN = 420.0


def _spec(index: int) -> str:
    # Scheduled but paused (enabled: false): Airflow creates no runs for the 1,000 DAGs.
    return f"""\
name: {PREFIX}d{index:04d}
owner: owner{index % 40}@example.com
description: Generated dataset {index}
execution:
  conn_id: dli_local
query_statement: SELECT {index}
schedule:
  cron: "{index % 60} {index % 24} * * *"
  timezone: UTC
  enabled: false
"""


def _count(production: Production) -> int:
    response = production.stack.rest("GET", "/api/v2/dags", params={"dag_id_pattern": PREFIX, "limit": 1})
    response.raise_for_status()
    return int(response.json()["total_entries"])


def _listed(production: Production) -> set[str]:
    """The generated DAGs Airflow lists (its REST API, page after page: it caps a page's size)."""
    names: set[str] = set()
    offset = 0
    while True:
        response = production.stack.rest(
            "GET",
            "/api/v2/dags",
            params={"dag_id_pattern": PREFIX, "limit": 1000, "offset": offset, "order_by": "dag_id"},
        )
        response.raise_for_status()
        answer = response.json()
        page = answer["dags"]
        names.update(d["dag_id"] for d in page if d["dag_id"].startswith(PREFIX) and d["bundle_name"] == BUNDLE)
        offset += len(page)
        if not page or offset >= answer["total_entries"]:
            return names


def test_every_one_of_1000_published_specs_is_listed_by_airflow_before_a_lost_update_could_be(
    production: Production,
) -> None:
    project = write_project(production.root / "scale-project", [_spec(i) for i in range(COUNT)])
    expected = {f"{PREFIX}d{i:04d}" for i in range(COUNT)}
    started = time.monotonic()
    production.publish(project, timeout=300)
    published = time.monotonic() - started
    seen: set[str] = set()

    def all_listed() -> bool:
        production.stack.check_alive()
        # Counted first (one small page): listing 1,000 DAGs every 2 s would take CPU from Airflow.
        if _count(production) < COUNT:
            return False
        seen.clear()
        seen.update(_listed(production))
        return seen == expected

    try:
        # Waits past the bound, so that a failure says how long it did take.
        wait_for(all_listed, timeout=LISTED_WITHIN + 60, interval=2.0, what="1,000 DAGs")
    except AssertionError:
        seen.update(_listed(production))
        missing = sorted(expected - seen)
        raise AssertionError(
            f"{len(seen)} of {COUNT} DAGs listed {time.monotonic() - started:.0f}s after the publish started "
            f"(the publish took {published:.0f}s); missing {missing[:10]}\n{production.stack.log_tails()}"
        ) from None
    listed = time.monotonic() - started
    asked = _parse_requests(production.stack.logs / "dag-processor.log")
    sys.stderr.write(
        f"\n1,000 specs: published in {published:.1f}s, all listed by Airflow {listed:.1f}s after the publish "
        f"started (target {TARGET:.0f}s: {'met' if listed <= TARGET else 'not met'}); the bundle asked Airflow "
        f"to re-parse {asked} shard file(s) rewritten during their parse\n"
    )
    assert listed <= LISTED_WITHIN, f"all 1,000 listed after {listed:.0f}s (the publish took {published:.0f}s)"


def _parse_requests(log: Path) -> int:
    """How many shard files the bundle's parse watch asked Airflow to parse (from its log lines)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    marker = "asked Airflow to parse "
    return sum(len(line.split(marker, 1)[1].split(" (")[0].split(", ")) for line in text.splitlines() if marker in line)
