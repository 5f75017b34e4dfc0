"""What Prometheus metrics cost a list request: a real ``basecamp serve`` with metrics on against one with ``--no-metrics``.

    PYTHONPATH=src:. python benchmarks/metrics_cost.py [--size 1000] [--rounds 15] [--requests 200]

Both servers run side by side over the same ``file://`` store of ``--size`` specs (the in-memory
orchestrator). Each round sends ``--requests`` list requests (``GET /api/v1/workflows``, page after
page by cursor, the page size varying from 100 to 149 so that the server's one-second answer cache
is never hit) to one server, then to the other (the order alternates), over one kept-alive
connection. Printed per server: the median over rounds of the wall time per request, of the
server's CPU time per request (from /proc), and of the time the server logged for each list
(``duration_ms``: the request inside the server, without the client's share), and the ratios on / off.

Also timed in process, with nothing else in the way: what the metrics middleware adds to one
request (counting, timing, the admission sample) and what one instrumented store call adds, in
microseconds, and as a share of the list request's time measured above. Target: at most 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from basecamp_load import tree_cpu_seconds, write_store

from tests.support.basecamp import BasecampProcess, start_basecamp


def list_round(client: httpx.Client, server: BasecampProcess, requests: int) -> tuple[float, float]:
    """Seconds of wall time and of server CPU per list request, over ``requests`` pages by cursor."""
    headers = {"Authorization": f"Bearer {server.token}"}
    cursor: str | None = None
    cpu_before = tree_cpu_seconds(server.process.pid)
    started = time.perf_counter()
    for i in range(requests):
        params = {"limit": str(100 + i % 50), **({"after": cursor} if cursor else {})}
        response = client.get(f"{server.url}/api/v1/workflows", params=params, headers=headers)
        response.raise_for_status()
        cursor = response.json().get("next_cursor")
    wall = (time.perf_counter() - started) / requests
    return wall, (tree_cpu_seconds(server.process.pid) - cpu_before) / requests


def server_list_ms(server: BasecampProcess) -> float:
    """The median ``duration_ms`` the server logged for its list requests."""
    durations = [
        line["duration_ms"]
        for line in server.log_lines()
        if line.get("event") == "request" and line.get("path") == "/api/v1/workflows"
    ]
    return statistics.median(durations)


def middleware_cost(calls: int) -> tuple[float, float]:
    """Microseconds the metrics add to one request, and to one store call (in process)."""
    from dli.adapters.instrumented import instrumented_store
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.enums import SourceType
    from dli.entrypoints.server.admission import AdmissionControl, AdmissionLimits
    from dli.entrypoints.server.metrics import MetricsMiddleware, ServerMetrics

    async def app(scope, receive, send):  # the cheapest answer: what is left is the middleware's
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        return None

    admission = AdmissionControl(app, limits=AdmissionLimits())
    scope = {"type": "http", "method": "GET", "path": "/api/v1/workflows", "headers": []}

    async def run(handler) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await handler(dict(scope), receive, send)
        return time.perf_counter() - started

    measured = MetricsMiddleware(admission, metrics=ServerMetrics(), admission=admission)
    bare = asyncio.run(run(admission))
    with_metrics = asyncio.run(run(measured))
    per_request = (with_metrics - bare) / calls * 1e6

    store = InMemorySpecStore()
    observed = instrumented_store(store, ServerMetrics().observe_call)
    started = time.perf_counter()
    for _ in range(calls):
        store.read(SourceType.MANUAL, "shop.none")
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        observed.read(SourceType.MANUAL, "shop.none")
    per_call = (time.perf_counter() - started - plain) / calls * 1e6
    return per_request, per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000, help="specs in the store")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200, help="list requests per round and server")
    parser.add_argument("--calls", type=int, default=50000, help="in-process calls timed")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="metrics-cost-"))
    store = work / "store"
    write_store(store, args.size)
    servers = {
        "on": start_basecamp(work / "on", store_url=store.as_uri(), check_interval=30.0),
        "off": start_basecamp(work / "off", store_url=store.as_uri(), check_interval=30.0, extra_args=["--no-metrics"]),
    }
    wall: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    try:
        with httpx.Client(timeout=30) as client:
            for label, server in servers.items():  # warm up: the index, the codecs, the connection
                list_round(client, server, 20)
            for i in range(args.rounds):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for label in order:
                    w, c = list_round(client, servers[label], args.requests)
                    wall[label].append(w)
                    cpu[label].append(c)
    finally:
        for server in servers.values():
            server.stop()

    print(f"list request, {args.size} specs, {args.rounds} rounds x {args.requests} requests (median of rounds)")
    for label in ("off", "on"):
        print(
            f"  metrics {label:3}: {statistics.median(wall[label]) * 1000:7.3f} ms wall, "
            f"{statistics.median(cpu[label]) * 1000:7.3f} ms server CPU per request"
        )
    wall_ratio = statistics.median(wall["on"]) / statistics.median(wall["off"])
    cpu_ratio = statistics.median(cpu["on"]) / statistics.median(cpu["off"])
    print(f"  ratio on/off: wall {wall_ratio:.3f}, server CPU {cpu_ratio:.3f}")
    per_request, per_call = middleware_cost(args.calls)
    list_us = statistics.median(wall["off"]) * 1e6
    logged = {label: server_list_ms(server) for label, server in servers.items()}
    for label in ("off", "on"):
        print(f"  metrics {label:3}: {logged[label]:7.3f} ms per list inside the server (median of its log lines)")
    print(f"  ratio on/off inside the server: {logged['on'] / logged['off']:.3f}")
    print(f"in process: metrics add {per_request:.1f} us per request, {per_call:.1f} us per store call")
    print(f"  = {per_request / list_us * 100:.2f} % of a list request as a client sees it ({list_us:.0f} us)")
    print(f"  = {per_request / (logged['off'] * 1000) * 100:.2f} % of a list inside the server (target <= 2 %)")


if __name__ == "__main__":
    main()
