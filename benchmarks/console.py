"""Server time of the web console's main pages with 1,000 and 10,000 workflows (target: <= 300 ms each).

    PYTHONPATH=src python benchmarks/console.py [--sizes 1000 10000] [--requests 30]

For each store size, an in-process Basecamp (``build_server`` over an in-memory store and the
memory orchestrator, its index built as at start-up; Litestar's test client, so the time is the
server's: routing, the bus, rendering, no network) is asked, as a signed-in user:

- ``/ui/workflows``: the list's first page (50 rows), and a name search (``q=``);
- ``/ui/workflows/<name>``: a workflow page (spec, schedule, 20 runs, lineage with two upstreams and
  a downstream, audit trail), as viewed again (the lineage kept until the store changes, the
  neighbours' states for 5 s), as a first view (nothing the console kept; the server's dependency
  graph is built once per version of the store) and as the first view after a write to the store
  (the graph built again: the write is timed too);
- the baseline, in the same run: the bus's own ``ListWorkflows(limit=50)`` and ``GetWorkflow`` (the
  work the page shares with the API), so the ratio is what the console adds (rendering, the other
  queries of the page).

Median and p95 in milliseconds per request, with the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.domain.usecases.listing import GetWorkflow, ListWorkflows
from dli.domain.usecases.runs import TriggerRun
from dli.entrypoints.bootstrap import build_server
from dli.entrypoints.server.app import create_app
from dli.entrypoints.server.console.routes import ConsoleState
from dli.testing.specs import make_document

TARGET = "team042.sales.daily"


def _store(size: int) -> InMemorySpecStore:
    store = InMemorySpecStore()
    for index in range(size):
        team = index % 100
        name = f"team{team:03d}.set{index:05d}.daily"
        upstream = (f"team{team:03d}.set{index - 100:05d}.daily",) if index >= 100 else ()
        store.create(SourceType.MANUAL, make_document(name, team=f"@team{team}", depends_on=upstream))
    store.create(SourceType.MANUAL, make_document("raw.orders.daily"))
    store.create(
        SourceType.MANUAL,
        make_document(TARGET, team="@team42", depends_on=("raw.orders.daily", "raw.external.table")),
    )
    store.create(SourceType.MANUAL, make_document("team042.sales.weekly", depends_on=(TARGET,)))
    return store


def _times(call: Callable[[], Any], n: int) -> tuple[float, float]:
    call()  # warm: templates compiled, caches filled
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def run(size: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        settings = build_server(
            store=_store(size),
            orchestrator_url="memory://?queue_seconds=0&run_seconds=0",
            tokens_file=Path(workdir) / "tokens.json",
            check_interval_seconds=3600,
        )
        token = settings.tokens.add("bench")
        settings.store.check()
        for _ in range(20):
            settings.bus.handle(TriggerRun(dataset_name=TARGET))
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings), base_url="https://basecamp.local") as client:

            def page(path: str) -> Callable[[], Any]:
                def call() -> None:
                    answer = client.get(path, headers=headers)
                    assert answer.status_code == 200, answer.text[:500]

                return call

            # The app's console state, wherever the middleware keeps the app.
            consoles = [o for o in gc.get_objects() if isinstance(o, ConsoleState)]

            def cold(call: Callable[[], Any]) -> Callable[[], Any]:
                def forget_then_call() -> None:
                    for console in consoles:
                        console.lineage.clear()
                        console.states.clear()
                    call()

                return forget_then_call

            written = iter(range(1_000_000))

            def after_a_write(call: Callable[[], Any]) -> Callable[[], Any]:
                def write_then_call() -> None:
                    # A new version of the store: the catalog, and the dependency graph with it, is rebuilt.
                    settings.store.create(SourceType.MANUAL, make_document(f"zz.bench.w{next(written):07d}"))
                    cold(call)()

                return write_then_call

            rows = [
                ("bus ListWorkflows(limit=50) [baseline]", lambda: settings.bus.handle(ListWorkflows(limit=50))),
                ("GET /ui/workflows (50 rows)", page("/ui/workflows")),
                ("GET /ui/workflows?q=sales", page("/ui/workflows?q=sales")),
                ("bus GetWorkflow [baseline]", lambda: settings.bus.handle(GetWorkflow(dataset_name=TARGET))),
                (f"GET /ui/workflows/{TARGET}", page(f"/ui/workflows/{TARGET}")),
                ("  same, lineage not kept (first view)", cold(page(f"/ui/workflows/{TARGET}"))),
                ("  same, first view after a store write", after_a_write(page(f"/ui/workflows/{TARGET}"))),
            ]
            print(f"\n{size:,} workflows (load average {os.getloadavg()[0]:.2f}), {n} requests each")
            baseline = {}
            for label, call in rows:
                median, p95 = _times(call, n)
                kind = "list" if "ist" in label or "?" in label or label.endswith("rows)") else "page"
                if "baseline" in label:
                    baseline[kind] = median
                    ratio = ""
                else:
                    ratio = f"  {median / baseline[kind]:.1f}x baseline" if kind in baseline else ""
                print(f"  {label:<45} median {median:7.1f} ms   p95 {p95:7.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    for size in args.sizes:
        run(size, args.requests)


if __name__ == "__main__":
    main()
