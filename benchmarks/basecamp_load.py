"""Basecamp under production load: an open-loop load generator against a real ``basecamp serve``.

    PYTHONPATH=src python benchmarks/basecamp_load.py [--sizes 1000 10000] [--rates 50 100 200]
        [--duration 20] [--baseline-ref 76df6ec] [--workdir /tmp/basecamp-bench]

For each store size (specs in a ``file://`` store, the in-memory orchestrator), it starts the server
and measures:

1. **The cost of one list**: ``GET /api/v1/workflows`` (the default page of 100) one at a time over
   HTTP — the first page again and again (the server may reuse its answer for a second) and page
   after page by cursor (nothing reused) — and in process the list handler against the old full
   scan (the handler before the catalog, kept below as ``old_full_scan_list``) over the same
   indexed store. Printed with their ratios.
2. **Open-loop load** at each rate: requests are sent at Poisson arrival times whatever the server
   does (a slow answer does not slow the sender, so queueing shows), 50 % list, 25 % get, 25 % run
   status; each client gives up after ``--timeout`` seconds and disconnects. Latency runs from the
   moment a request was due, so a late send counts against the server. Printed: answers per second,
   refusals (503), client timeouts, p50/p99 per route.
3. **Recovery after an overload**: ``--overload-rate`` for ``--overload-seconds`` with impatient
   clients (2 s), sent from a process of its own, then a light probe (10 lists/s): the time from
   the end of the overload until every probe is answered under ``--recovered-ms``.

4. **One route at a time** (``--route-rate R``): ``list``, ``get`` and ``status`` each alone at R
   requests per second (Poisson arrivals), with p50/p99, errors (any answer but 2xx, and client
   timeouts) and the server's resident memory (RSS) after each.

Two more measurements, each on its own (they start what they need and exit):

- ``--override-check-cost N`` (with ``--sizes``): the server's periodic override check over an
  S3 store (moto's server, in a process of its own) holding ``--sizes`` specs, of which N change
  between two checks: S3 requests (counted at the boto3 client) and seconds for the first check
  (the full load), a check with nothing changed, a check after N changed through dli (another
  replica, CI's publish: read from the store's change feed), and as the baseline the full
  listing the check did before the feed (``check(full=True)``), after N more changed.
- ``--airflow-yardstick``: the production-shaped stack of the e2e suite
  (``tests/support/production_stack.py``: PostgreSQL, Redis, Airflow with Celery, Basecamp on S3),
  then at ``--route-rate`` Basecamp's list against Airflow's own ``GET /api/v2/dags`` (a page of
  100), so that Basecamp's figures can be read against what Airflow's API does on the same box.

Each load point also prints the server's CPU time per request (its process and any ``--workers``
children, from /proc) and the load average, so that figures taken on a shared machine can be read
for what they are. ``--serve-arg`` passes options to the new server (``--serve-arg=--workers
--serve-arg=2``); ``--server-pythonpath DIR`` adds e.g. a directory with uvloop and httptools.

``--baseline-ref REF`` runs the same measurements against the server of a git revision (exported
with ``git archive`` into the work directory), e.g. the revision before the catalog and admission
control: the figures and ratios are then before/after on the same machine and the same minute.

The load generator is a minimal asyncio HTTP/1.1 client (one connection per request, as independent
clients would open), so that it costs the shared CPU little.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(1, str(REPO))  # tests.support: the S3 server and the production stack

MIX = (("list", 0.50), ("get", 0.25), ("status", 0.25))
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


# -- the store ---------------------------------------------------------------------------------


def dataset_names(count: int) -> list[str]:
    return [f"bench.domain_{i % 50:02d}.dataset_{i:05d}" for i in range(count)]


def write_store(root: Path, count: int) -> list[str]:
    """``count`` specs: four in five manual, one in five code, every tenth code one overriding a manual one."""
    from dli.adapters.codecs.specs import document_to_bytes
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, SpecDocument

    names = dataset_names(count)
    marker = root / ".bench-count"
    if marker.is_file() and marker.read_text() == str(count):
        return names
    shutil.rmtree(root, ignore_errors=True)
    for source in SourceType:
        (root / source.value).mkdir(parents=True)
    for i, name in enumerate(names):
        spec = DatasetSpec(
            name=name,
            owner=f"owner{i % 40}@example.com",
            team=f"@team-{i % 12}",
            description=f"Benchmark dataset {i}: daily aggregate of something useful",
            query_statement=f"INSERT INTO t_{i} SELECT '{{{{ execution_date }}}}', count(*) FROM src_{i % 97}",
            schedule=ScheduleConfig(cron=f"{i % 60} {i % 24} * * *", timezone="Asia/Seoul" if i % 2 else "UTC"),
        )
        sources = [SourceType.CODE] if i % 5 == 0 else [SourceType.MANUAL]
        if i % 50 == 0:
            sources.append(SourceType.MANUAL)
        for source in sources:
            document = SpecDocument(spec=spec, source_type=source, registered_by="bench", registered_at=REGISTERED)
            (root / source.value / f"{name}.yaml").write_bytes(document_to_bytes(document))
    marker.write_text(str(count))
    return names


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``basecamp serve`` from a source tree, on a free port."""

    def __init__(
        self, *, src: Path, store: Path, workdir: Path, label: str, extra: Sequence[str] = (),
        pythonpath: Sequence[str] = (),
    ) -> None:
        from dli.adapters.token_file import TokenFile

        workdir.mkdir(parents=True, exist_ok=True)
        tokens = workdir / f"tokens-{label}.json"
        tokens.unlink(missing_ok=True)
        self.token = TokenFile(tokens).add("bench")
        self.port = free_port()
        self.label = label
        self.log_path = workdir / f"basecamp-{label}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "dli.entrypoints.server", "serve",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--store", store.as_uri(),
                "--orchestrator", "memory://?queue_seconds=0.5&run_seconds=1",
                "--tokens-file", str(tokens), "--log-format", "json", "--check-interval", "30",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(src), *pythonpath]), "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def wait_ready(self, timeout: float = 600.0) -> float:
        """Seconds until the first override check has loaded the index."""
        import httpx

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                body = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5).json()
                # "ready" once the index and catalog are warm; a server from before readiness has
                # only the time of its first check.
                if body.get("ready", bool(body.get("last_override_check"))):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError("server not ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants (``--workers`` processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    wanted, total, changed = {pid}, 0.0, True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in wanted and child not in wanted:
                wanted.add(child)
                changed = True
    for member in wanted:
        total += stats.get(member, (0, 0.0))[1]
    return total


def tree_rss_mb(pid: int) -> float:
    """Resident memory (MiB) of a process and all its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
    wanted = {pid}
    while True:
        more = {child for child, parent in parents.items() if parent in wanted} - wanted
        if not more:
            break
        wanted |= more
    total_kb = 0
    for member in wanted:
        with contextlib.suppress(OSError):
            with open(f"/proc/{member}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
    return round(total_kb / 1024, 1)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- a small HTTP client -----------------------------------------------------------------------


async def request(port: int, method: str, target: str, token: str, *, body: bytes = b"") -> tuple[int, bytes]:
    """One request on its own connection; the connection is closed when the caller gives up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n"
            + ("Content-Type: application/json\r\n" if body else "")
            + "\r\n"
        )
        writer.write(head.encode() + body)
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        length = None
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == "content-length":
                length = int(value)
        payload = await (reader.readexactly(length) if length is not None else reader.read())
        return status, payload
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class Targets:
    """What the load asks for: list pages, workflows, runs."""

    def __init__(self, names: list[str], run_ids: list[str], rng: random.Random) -> None:
        self.names, self.run_ids, self.rng = names, run_ids, rng
        self.routes = [r for r, _ in MIX]
        self.weights = [w for _, w in MIX]

    def only(self, route: str) -> Callable[[], tuple[str, str]]:
        """A picker that asks for ``route`` alone."""
        return lambda: self.target(route)

    def pick(self) -> tuple[str, str]:
        return self.target(self.rng.choices(self.routes, self.weights)[0])

    def target(self, route: str) -> tuple[str, str]:
        if route == "list":
            return route, "/api/v1/workflows"
        if route == "get":
            return route, f"/api/v1/workflows/{self.rng.choice(self.names)}"
        run_id = self.rng.choice(self.run_ids).replace("@", "%40").replace(":", "%3A").replace("+", "%2B")
        return route, f"/api/v1/runs/{run_id}"


async def open_loop(
    port: int, token: str, rate: float, duration: float, pick: Callable[[], tuple[str, str]], timeout: float, seed: int
) -> list[tuple[str, float, int, float]]:
    """(route, due at, status or 0 for a client timeout / -1 for a refused connection, latency) per request."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    start = loop.time() + 0.05
    results: list[tuple[str, float, int, float]] = []

    async def one(route: str, target: str, due: float) -> None:
        try:
            status, _ = await asyncio.wait_for(request(port, "GET", target, token), timeout)
        except asyncio.TimeoutError:
            status = 0
        except OSError:
            status = -1
        results.append((route, due - start, status, loop.time() - due))

    tasks = []
    offset = 0.0
    while offset < duration:
        due = start + offset
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        route, target = pick()
        tasks.append(asyncio.create_task(one(route, target, due)))
        offset += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    return results


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summarize(results: list[tuple[str, float, int, float]], duration: float) -> dict[str, Any]:
    ok = [r for r in results if 200 <= r[2] < 300]
    out: dict[str, Any] = {
        "sent": len(results),
        "ok_per_s": round(len(ok) / duration, 1),
        "refused_503": sum(1 for r in results if r[2] == 503),
        "client_timeouts": sum(1 for r in results if r[2] == 0),
        "other": sum(1 for r in results if r[2] not in (0, 503) and not 200 <= r[2] < 300),
        "routes": {},
    }
    for route, _ in MIX:
        lat = [r[3] * 1000 for r in ok if r[0] == route]
        out["routes"][route] = {"n": len(lat), "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1)}
    every = [r[3] * 1000 for r in ok]
    out["p99_ms"] = round(pct(every, 99), 1)
    return out


# -- phases ------------------------------------------------------------------------------------


async def prepare_runs(server: Server, names: list[str], count: int = 20) -> list[str]:
    run_ids = []
    for name in names[1 : count * 5 : 5]:  # manual ones: the code ones are every fifth from 0
        status, body = await request(server.port, "POST", f"/api/v1/workflows/{name}/run", server.token, body=b"{}")
        if status == 200:
            run_ids.append(json.loads(body)["run_id"])
    if not run_ids:
        raise RuntimeError("no run could be triggered")
    return run_ids


async def list_cost_http(server: Server, samples: int, *, walk: bool = False) -> float:
    """Median ms of one list, one request at a time: the first page again and again, or (``walk``)
    page after page by cursor, so that no answer can be reused."""
    times = []
    cursor = None
    for _ in range(samples):
        target = "/api/v1/workflows" + (f"?after={cursor}" if walk and cursor else "")
        started = time.perf_counter()
        status, body = await request(server.port, "GET", target, server.token)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
        if walk:
            cursor = json.loads(body).get("next_cursor")
    return statistics.median(times)


def overload_main(port: int, token: str, rate: float, seconds: float, names: list[str], run_ids: list[str]) -> None:
    """The overload, in a process of its own, so that its sending does not delay the probes."""
    targets = Targets(names, run_ids, random.Random(7))
    results = asyncio.run(open_loop(port, token, rate, seconds, targets.pick, 2.0, seed=8))
    print(json.dumps(summarize(results, seconds)))


async def recovery(server: Server, names: list[str], run_ids: list[str], args: argparse.Namespace) -> float | None:
    """Seconds from the end of the overload until every probe is answered under ``--recovered-ms``."""
    spec = args.workdir / "overload.json"
    spec.write_text(json.dumps({"port": server.port, "token": server.token, "rate": args.overload_rate,
                                "seconds": args.overload_seconds, "names": names, "run_ids": run_ids}))
    overload = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--overload-child", str(spec), stdout=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(args.overload_seconds + 0.05)
    end = asyncio.get_running_loop().time()
    probes: list[tuple[float, bool]] = []

    async def probe(at: float) -> None:
        try:
            status, _ = await asyncio.wait_for(request(server.port, "GET", "/api/v1/workflows", server.token), 30)
            good = status == 200 and asyncio.get_running_loop().time() - at <= args.recovered_ms / 1000
        except (asyncio.TimeoutError, OSError):
            good = False
        probes.append((at - end, good))

    tasks = []
    loop = asyncio.get_running_loop()
    for i in range(int(args.probe_seconds * 10)):
        due = end + i * 0.1
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(probe(due)))
    await asyncio.gather(*tasks)
    out, _ = await overload.communicate()
    with contextlib.suppress(ValueError):
        sent = json.loads(out.decode().strip().splitlines()[-1])
        print(f"  overload: {sent['sent']} sent, {sent['ok_per_s']}/s answered, {sent['refused_503']} refused, "
              f"{sent['client_timeouts']} gave up", flush=True)
    probes.sort()
    last_bad = max((t for t, good in probes if not good), default=None)
    if last_bad is None:
        return 0.0
    if last_bad >= probes[-1][0]:
        return None  # not recovered within the probe window
    return round(last_bad + 0.1, 1)


def old_full_scan_list(message: Any, *, store: Any, orchestrator: Any, clock: Any) -> Any:
    """The list handler before the catalog (verbatim but for imports): every spec, every request."""
    import fnmatch

    from dli.domain.model.enums import ResultStatus, SourceType, WorkflowStatus
    from dli.domain.model.override import resolve_override
    from dli.domain.model.workflow import WorkflowListResult
    from dli.domain.usecases._workflows import workflow_info

    def _matches(name: str, pattern: str) -> bool:
        if any(ch in pattern for ch in "*?["):
            return fnmatch.fnmatchcase(name, pattern)
        return pattern in name

    sources = [message.source_type] if message.source_type else [SourceType.CODE, SourceType.MANUAL]
    code_names = store.list_etags(SourceType.CODE).keys()
    manual_names = store.list_etags(SourceType.MANUAL).keys()
    resolutions = resolve_override(code=code_names, manual=manual_names)
    paused = orchestrator.pause_states()
    running = orchestrator.running()
    now = clock.now()
    out = []
    for name, resolution in resolutions.items():
        if message.dataset_filter and not _matches(name, message.dataset_filter):
            continue
        if message.running_only and name not in running:
            continue
        for source in sources:
            if source is SourceType.CODE and resolution.active is not SourceType.CODE:
                continue
            if source is SourceType.MANUAL and not resolution.has_manual:
                continue
            versioned = store.read(source, name)
            if versioned is None:
                continue
            info = workflow_info(
                versioned.document,
                overridden=source is SourceType.MANUAL and resolution.manual_overridden,
                paused=paused.get(name),
                running=name in running,
                now=now,
            )
            if message.status and info.status is not message.status:
                continue
            if message.enabled_only and info.status is not WorkflowStatus.ACTIVE:
                continue
            out.append(info)
    out.sort(key=lambda w: (w.dataset_name, w.source_type is SourceType.MANUAL))
    return WorkflowListResult(workflows=tuple(out[: message.limit]), total_count=len(out), status=ResultStatus.SUCCESS)


def list_cost_in_process(store_root: Path) -> tuple[float, float]:
    """Median ms of one list (default page) over the same indexed store: (old full scan, catalog)."""
    import structlog

    from dli.adapters.clock import SystemClock
    from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
    from dli.adapters.stores.filesystem import FilesystemSpecStore
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.domain.usecases.listing import list_workflows
    from dli.domain.usecases.listing import ListWorkflows

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    index = IndexedSpecStore(FilesystemSpecStore(store_root))
    index.check()
    clock, orchestrator = SystemClock(), InMemoryOrchestrator(clock=SystemClock())
    message = ListWorkflows()

    def timed(fn: Callable[[], object], repeat: int) -> float:
        fn()  # warm
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    old = timed(lambda: old_full_scan_list(message, store=index, orchestrator=orchestrator, clock=clock), 5)
    new = timed(lambda: list_workflows(message, store=index, orchestrator=orchestrator, clock=clock), 200)
    return old, new


def export_revision(ref: str, workdir: Path) -> Path:
    target = workdir / f"src-{ref}"
    if not (target / "src" / "dli").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


async def measure_server(label: str, src: Path, store: Path, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    server = Server(
        src=src, store=store, workdir=args.workdir, label=label, extra=args.serve_args if label == "new" else (),
        pythonpath=args.server_pythonpath,
    )
    try:
        ready = server.wait_ready()
        print(f"  [{label}] index loaded in {ready:.1f}s", flush=True)
        run_ids = await prepare_runs(server, names)
        cost = await list_cost_http(server, args.list_samples if label == "new" else min(args.list_samples, 5))
        result: dict[str, Any] = {"ready_s": round(ready, 1), "list_http_ms": round(cost, 1), "load": {}}
        if label == "new":
            walked = await list_cost_http(server, args.list_samples, walk=True)
            result["list_http_walk_ms"] = round(walked, 1)
            print(f"  [{label}] one list over HTTP (page of 100): first page {cost:.1f} ms (answer reused), "
                  f"page after page {walked:.1f} ms (median)", flush=True)
        else:
            print(f"  [{label}] one list over HTTP (page of 100): median {cost:.1f} ms", flush=True)
        targets = Targets(names, run_ids, random.Random(1))
        await open_loop(server.port, server.token, 20, 2, targets.pick, args.timeout, seed=2)  # warm-up
        for rate in args.rates:
            if label != "new" and args.baseline_max_rate and rate > args.baseline_max_rate:
                continue
            cpu_before, load_before = tree_cpu_seconds(server.process.pid), load_average()
            results = await open_loop(server.port, server.token, rate, args.duration, targets.pick, args.timeout, seed=rate)
            summary = summarize(results, args.duration)
            cpu = tree_cpu_seconds(server.process.pid) - cpu_before
            answered = sum(1 for r in results if r[2] > 0)
            summary["server_cpu_share"] = round(cpu / args.duration, 2)
            summary["server_cpu_ms_per_request"] = round(cpu / max(answered, 1) * 1000, 2)
            summary["load_average"] = f"{load_before} -> {load_average()}"
            result["load"][rate] = summary
            routes = "  ".join(f"{r} p50 {v['p50_ms']}/p99 {v['p99_ms']} ms" for r, v in summary["routes"].items())
            print(
                f"  [{label}] {rate:>4} req/s: {summary['ok_per_s']:>6}/s answered, {summary['refused_503']} refused, "
                f"{summary['client_timeouts']} timed out; p99 {summary['p99_ms']} ms; {routes}; server CPU "
                f"{summary['server_cpu_ms_per_request']} ms/request ({summary['server_cpu_share']:.0%} of a core); "
                f"load average {summary['load_average']}",
                flush=True,
            )
            await asyncio.sleep(args.settle)
        if args.route_rate and label == "new":
            result["routes"] = {}
            for route, _ in MIX:
                result["routes"][route] = await route_alone(server.port, server.token, server.process.pid,
                                                            targets.only(route), route, args)
                await asyncio.sleep(args.settle)
        if args.overload_rate:
            result["recovery_s"] = await recovery(server, names, run_ids, args)
            print(f"  [{label}] after {args.overload_seconds:g}s at {args.overload_rate:g} req/s: recovered in "
                  f"{result['recovery_s'] if result['recovery_s'] is not None else f'> {args.probe_seconds:g}'} s", flush=True)
        return result
    finally:
        server.stop()


async def route_alone(
    port: int, token: str, pid: int | None, pick: Callable[[], tuple[str, str]], label: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One route at ``--route-rate`` for ``--duration`` seconds: p50/p99, errors, the server's RSS."""
    results = await open_loop(port, token, args.route_rate, args.duration, pick, args.timeout, seed=11)
    latencies = [r[3] * 1000 for r in results if 200 <= r[2] < 300]
    out = {
        "rate": args.route_rate,
        "sent": len(results),
        "p50_ms": round(pct(latencies, 50), 1),
        "p99_ms": round(pct(latencies, 99), 1),
        "errors": sum(1 for r in results if not 200 <= r[2] < 300),
        "rss_mb": tree_rss_mb(pid) if pid else None,
    }
    print(f"  [{label}] alone at {args.route_rate:g} req/s: {out['sent']} sent, p50 {out['p50_ms']} ms, "
          f"p99 {out['p99_ms']} ms, {out['errors']} errors" + (f", server RSS {out['rss_mb']} MiB" if pid else "")
          + f"; load average {load_average()}", flush=True)
    return out


@contextlib.contextmanager
def moto_process() -> Any:
    """moto's server in a process of its own: in this one, it would share the GIL with the check
    it serves, and its seconds would count twice."""
    from tests.support.s3_servers import S3Server, _wait_listening

    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, timeout=30, alive=lambda: process.poll() is None)
        yield S3Server(kind="moto", endpoint_url=f"http://127.0.0.1:{port}", access_key="testing",
                       secret_key="testing", enforces_conditional_writes=True)
    finally:
        process.terminate()
        process.wait(timeout=10)


def override_check_cost(size: int, changed: int) -> dict[str, Any]:
    """S3 requests and seconds of the override check over ``size`` specs on moto, ``changed`` of them changed."""
    from concurrent.futures import ThreadPoolExecutor

    import attrs
    import structlog

    from dli.adapters.codecs.specs import document_to_bytes
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, SpecDocument
    from dli.entrypoints.bootstrap import build_store
    from tests.support.s3_servers import client_for

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    def document(i: int, name: str, note: str = "") -> bytes:
        spec = DatasetSpec(
            name=name, owner=f"owner{i % 40}@example.com", description=f"Benchmark dataset {i}{note}",
            query_statement=f"SELECT count(*) FROM src_{i % 97}",
            schedule=ScheduleConfig(cron=f"{i % 60} {i % 24} * * *", timezone="UTC"),
        )
        source = SourceType.CODE if i % 5 == 0 else SourceType.MANUAL
        return document_to_bytes(SpecDocument(spec=spec, source_type=source, registered_by="bench",
                                              registered_at=REGISTERED))

    names = dataset_names(size)
    with moto_process() as s3:
        bucket = s3.new_bucket("bench")
        client = client_for(s3)

        def key(i: int) -> str:
            return f"specs/{'code' if i % 5 == 0 else 'manual'}/{names[i]}.yaml"

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: client.put_object(Bucket=bucket, Key=key(i), Body=document(i, names[i])), range(size)))
        print(f"  wrote {size} specs to moto in {time.monotonic() - started:.0f}s", flush=True)
        os.environ.update(s3.env())
        store = build_store(f"s3://{bucket}/specs")
        requests: list[str] = []
        store._client.meta.events.register(  # noqa: SLF001 - counting what reaches S3
            "before-send.s3", lambda request, **_: requests.append("LIST" if "list-type=2" in request.url else request.method)
        )
        index = IndexedSpecStore(store)

        def check(label: str, *, full: bool = False) -> dict[str, Any]:
            requests.clear()
            started, cpu = time.perf_counter(), time.process_time()
            index.check(full=full)
            out: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 2),
                                   "cpu_seconds": round(time.process_time() - cpu, 2), "requests": len(requests),
                                   "by_method": {}}
            for method in requests:
                out["by_method"][method] = out["by_method"].get(method, 0) + 1
            print(f"  {label}: {out['seconds']} s ({out['cpu_seconds']} s of CPU in the checking process), "
                  f"{out['requests']} S3 requests {out['by_method']}", flush=True)
            return out

        def change(note: str) -> None:
            writer = build_store(f"s3://{bucket}/specs")  # another replica, or CI's publish
            for i in range(0, changed * 7, 7):
                source = SourceType.CODE if i % 5 == 0 else SourceType.MANUAL
                current = writer.read(source, names[i])
                doc = SpecDocument(spec=attrs.evolve(current.document.spec, description=f"Benchmark dataset {i}{note}"),
                                   source_type=source, registered_by="bench", registered_at=REGISTERED)
                writer.replace(source, doc, etag=current.etag)

        report = {"size": size, "changed": changed, "first": check("first check (loads every spec)")}
        report["unchanged"] = check("check, nothing changed (change feed)")
        change(" (changed)")
        report["after_changes"] = check(f"check after {changed} specs changed (change feed)")
        change(" (changed again)")
        report["full_after_changes"] = check(f"baseline: full listing after {changed} more changed", full=True)
        report["ratio_seconds"] = round(report["full_after_changes"]["seconds"] / max(report["after_changes"]["seconds"], 0.001), 1)
        print(f"  change feed vs full listing, {changed} changed: {report['after_changes']['seconds']} s vs "
              f"{report['full_after_changes']['seconds']} s ({report['ratio_seconds']}x faster)", flush=True)
        return report


def airflow_yardstick(args: argparse.Namespace) -> dict[str, Any]:
    """Basecamp's list beside Airflow's ``GET /api/v2/dags`` on the production-shaped stack."""
    from tests.support.production_stack import ProductionStack

    from dli.adapters.codecs.specs import document_to_bytes
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, SpecDocument
    from tests.support.s3_servers import client_for

    stack = ProductionStack(args.workdir / f"production-{os.getpid()}", replicas=1, check_interval=5)
    stack.start()
    try:
        print(f"  production stack up: {stack.startup_seconds}", flush=True)
        # The same workflows on both sides: code specs in the store, so DAGs in Airflow.
        client, count = client_for(stack.s3), args.yardstick_specs
        for i, name in enumerate(dataset_names(count)):
            spec = DatasetSpec(name=name, owner="bench@example.com", query_statement="SELECT 1",
                               schedule=ScheduleConfig(cron=f"{i % 60} 3 * * *", timezone="UTC"))
            body = document_to_bytes(SpecDocument(spec=spec, source_type=SourceType.CODE, registered_by="bench",
                                                  registered_at=REGISTERED))
            client.put_object(Bucket=stack.s3_bucket, Key=f"specs/code/{name}.yaml", Body=body)
        started = time.monotonic()
        while stack.rest("GET", "/api/v2/dags", params={"limit": 1}).json()["total_entries"] < count:
            if time.monotonic() - started > 600:
                raise RuntimeError(f"Airflow did not list {count} DAGs in 600 s\n{stack.log_tails()}")
            time.sleep(2)
        print(f"  {count} DAGs in Airflow after {time.monotonic() - started:.0f}s", flush=True)
        replica = stack.replicas[0]
        port = int(replica.url.rsplit(":", 1)[1])
        time.sleep(6)  # one more Basecamp check: it lists them too

        async def sequential(target: str, token: str, to_port: int) -> float:
            times = []
            for _ in range(20):
                began = time.perf_counter()
                status, body = await request(to_port, "GET", target, token)
                assert status == 200, (status, body[:200])
                times.append((time.perf_counter() - began) * 1000)
            return round(statistics.median(times), 1)

        one_bc = asyncio.run(sequential("/api/v1/workflows", replica.token, port))
        one_af = asyncio.run(sequential("/api/v2/dags?limit=100", stack.token(), stack.api_port))
        print(f"  one request at a time (median of 20): Basecamp list {one_bc} ms, Airflow /api/v2/dags {one_af} ms",
              flush=True)
        out: dict[str, Any] = {
            "specs": count,
            "one_at_a_time_ms": {"basecamp_list": one_bc, "airflow_dags": one_af},
            "basecamp_list": asyncio.run(route_alone(
                port, replica.token, replica.process.pid, lambda: ("list", "/api/v1/workflows"), "basecamp list", args
            )),
            "airflow_dags": asyncio.run(route_alone(
                stack.api_port, stack.token(), None, lambda: ("dags", "/api/v2/dags?limit=100"), "airflow /api/v2/dags",
                args,
            )),
        }
        api = next(c for c in stack.components if c.name == "api-server")
        out["airflow_dags"]["rss_mb"] = tree_rss_mb(api.proc.pid)
        print(f"  airflow api-server RSS {out['airflow_dags']['rss_mb']} MiB", flush=True)
        return out
    finally:
        stack.stop()


# -- wrk: a native load generator, closed loop ------------------------------------------------

WRK_SCRIPT = """
-- 50 %% list, 50 %% get. Half the lists ask for the first page (many users look at it: the server
-- may reuse its answer for a second), half for the page after a random workflow (never reused).
local names = {%(names)s}
wrk.headers["Authorization"] = "Bearer %(token)s"
local thread_seed = 0
function setup(thread)
  thread_seed = thread_seed + 1
  thread:set("seed", thread_seed)
end
function init(args)
  math.randomseed(1000 + (seed or 0))
end
function request()
  local name = names[math.random(#names)]
  local path
  if math.random() < 0.5 then
    if math.random() < 0.5 then
      path = "/api/v1/workflows"
    else
      path = "/api/v1/workflows?after=" .. name .. "/code"
    end
  else
    path = "/api/v1/workflows/" .. name
  end
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  -- The share of requests slower than 200 ms: the lowest percentile above it, by bisection.
  local over = 0
  if latency.max > 200000 then
    local low, high = 0.0, 100.0
    for _ = 1, 40 do
      local mid = (low + high) / 2
      if latency:percentile(mid) > 200000 then high = mid else low = mid end
    end
    over = 100.0 - high
  end
  local e = summary.errors
  io.write(string.format(
    'DLI-WRK {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "p999_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%.1f, "over_200ms_pct": %%.4f, "errors": {"connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean, over,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(path: Path, names: Sequence[str], token: str) -> Path:
    path.write_text(WRK_SCRIPT % {"names": ",".join(f'"{n}"' for n in names), "token": token})
    return path


def run_wrk(port: int, script: Path, *, seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """One wrk run: requests per second and the latency distribution (milliseconds) it measured."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s", "-s", str(script),
        f"http://127.0.0.1:{port}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("DLI-WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("DLI-WRK "))
    return {
        "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "requests": raw["requests"],
        **{key.replace("_us", "_ms"): round(raw[key] / 1000, 1) for key in
           ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us")},
        "over_200ms_pct": round(raw["over_200ms_pct"], 3),
        "errors": raw["errors"],
    }


def wrk_server(label: str, src: Path, store: Path, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Start a server, wait for its readiness, time its first requests, then wrk from the first minute on."""
    import httpx

    server = Server(
        src=src, store=store, workdir=args.workdir, label=label, extra=args.serve_args if label == "new" else (),
        pythonpath=args.server_pythonpath,
    )
    try:
        ready = server.wait_ready()
        headers = {"Authorization": f"Bearer {server.token}"}
        base = f"http://127.0.0.1:{server.port}"
        first: dict[str, float] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for what, target in (("list_1000", "/api/v1/workflows?limit=1000"),
                                 ("get", f"/api/v1/workflows/{names[len(names) // 2]}"),
                                 ("list_100", "/api/v1/workflows")):
                began = time.perf_counter()
                answer = client.get(target)
                first[what] = round((time.perf_counter() - began) * 1000, 1)
                assert answer.status_code == 200, (what, answer.status_code, answer.text[:300])
        script = wrk_script(args.workdir / f"wrk-{label}.lua", names, server.token)
        cpu_before, load_before = tree_cpu_seconds(server.process.pid), load_average()
        windows = []
        for _ in range(args.wrk_windows):
            windows.append(run_wrk(server.port, script, seconds=args.wrk_seconds / args.wrk_windows,
                                   connections=args.wrk_connections, threads=args.wrk_threads))
        cpu = tree_cpu_seconds(server.process.pid) - cpu_before
        total = sum(w["requests"] for w in windows)
        result = {
            "ready_s": round(ready, 1),
            "first_requests_ms": first,
            "windows": windows,
            "server_cpu_ms_per_request": round(cpu / max(total, 1) * 1000, 2),
            "load_average": f"{load_before} -> {load_average()}",
        }
        print(f"  [{label}] ready after {ready:.1f}s; first list of 1,000 {first['list_1000']} ms, first get "
              f"{first['get']} ms, first list of 100 {first['list_100']} ms", flush=True)
        for i, w in enumerate(windows):
            print(f"  [{label}] wrk window {i + 1}/{len(windows)} ({args.wrk_connections} connections): "
                  f"{w['req_per_s']} req/s, p50 {w['p50_ms']} ms, p90 {w['p90_ms']} ms, p99 {w['p99_ms']} ms, "
                  f"p99.9 {w['p999_ms']} ms, max {w['max_ms']} ms, {w['over_200ms_pct']} % over 200 ms, "
                  f"errors {w['errors']}", flush=True)
        print(f"  [{label}] server CPU {result['server_cpu_ms_per_request']} ms/request; load average "
              f"{result['load_average']}", flush=True)
        return result
    finally:
        server.stop()


def wrk_main(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    report: dict[str, Any] = {}
    for size in args.sizes:
        store = args.workdir / f"store-{size}"
        names = write_store(store, size)
        print(f"== {size} specs ({store}), wrk for {args.wrk_seconds:g}s from readiness", flush=True)
        entry: dict[str, Any] = {"new": wrk_server("new", REPO / "src", store, names, args)}
        if args.baseline_ref:
            src = export_revision(args.baseline_ref, args.workdir)
            entry["baseline"] = wrk_server(f"baseline-{args.baseline_ref}", src, store, names, args)
            for i, (b, n) in enumerate(zip(entry["baseline"]["windows"], entry["new"]["windows"], strict=True)):
                print(f"  window {i + 1}: req/s {b['req_per_s']} -> {n['req_per_s']} "
                      f"({n['req_per_s'] / max(b['req_per_s'], 0.1):.2f}x), p99 {b['p99_ms']} -> {n['p99_ms']} ms, "
                      f"max {b['max_ms']} -> {n['max_ms']} ms", flush=True)
        report[str(size)] = entry
    return report


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--overload-child":
        spec = json.loads(Path(sys.argv[2]).read_text())
        overload_main(spec["port"], spec["token"], spec["rate"], spec["seconds"], spec["names"], spec["run_ids"])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate")
    parser.add_argument("--timeout", type=float, default=10.0, help="a client gives up after this many seconds")
    parser.add_argument("--settle", type=float, default=3.0, help="pause between rates")
    parser.add_argument("--list-samples", type=int, default=20)
    parser.add_argument("--overload-rate", type=float, default=600.0, help="0 to skip the recovery phase")
    parser.add_argument("--overload-seconds", type=float, default=10.0)
    parser.add_argument("--probe-seconds", type=float, default=40.0)
    parser.add_argument("--recovered-ms", type=float, default=250.0)
    parser.add_argument("--baseline-ref", help="also measure the server of this git revision")
    parser.add_argument("--baseline-max-rate", type=float, default=0, help="skip higher rates for the baseline")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "basecamp-bench")
    parser.add_argument("--server-pythonpath", action="append", default=[],
                        help="extra PYTHONPATH entry for the servers, e.g. where uvloop and httptools are installed")
    parser.add_argument("--serve-arg", dest="serve_args", action="append", default=[],
                        help="extra 'basecamp serve' argument for the new server (repeatable)")
    parser.add_argument("--route-rate", type=float, default=0,
                        help="also run list, get and status each alone at this rate (req/s)")
    parser.add_argument("--override-check-cost", type=int, default=0, metavar="CHANGED",
                        help="only measure the override check on S3 (moto) with this many specs changed")
    parser.add_argument("--yardstick-specs", type=int, default=100, help="workflows (DAGs) for --airflow-yardstick")
    parser.add_argument("--airflow-yardstick", action="store_true",
                        help="only measure Basecamp's list against Airflow's GET /api/v2/dags on the production stack")
    parser.add_argument("--wrk", action="store_true",
                        help="only the closed-loop wrk load (50 %% list, 50 %% get) from the server's readiness on")
    parser.add_argument("--wrk-seconds", type=float, default=60.0)
    parser.add_argument("--wrk-windows", type=int, default=1, help="split --wrk-seconds into this many wrk runs")
    parser.add_argument("--wrk-connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.wrk:
        print(json.dumps(wrk_main(args), indent=2))
        return
    if args.override_check_cost:
        results = [override_check_cost(size, args.override_check_cost) for size in args.sizes]
        print(json.dumps(results, indent=2))
        return
    if args.airflow_yardstick:
        args.route_rate = args.route_rate or 20
        print(json.dumps(airflow_yardstick(args), indent=2))
        return
    report: dict[str, Any] = {}
    for size in args.sizes:
        store = args.workdir / f"store-{size}"
        names = write_store(store, size)
        print(f"== {size} specs ({store})", flush=True)
        old_ms, new_ms = list_cost_in_process(store)
        print(f"  one list in process (default page): old full scan {old_ms:.1f} ms, catalog {new_ms:.2f} ms "
              f"-> {old_ms / new_ms:.0f}x", flush=True)
        entry: dict[str, Any] = {"list_in_process_ms": {"old_full_scan": round(old_ms, 1), "catalog": round(new_ms, 2)}}
        entry["new"] = asyncio.run(measure_server("new", REPO / "src", store, names, args))
        if args.baseline_ref:
            src = export_revision(args.baseline_ref, args.workdir)
            entry["baseline"] = asyncio.run(measure_server(f"baseline-{args.baseline_ref}", src, store, names, args))
            base, new = entry["baseline"], entry["new"]
            print(f"  list over HTTP: baseline {base['list_http_ms']} ms, new {new['list_http_walk_ms']} ms "
                  f"(page after page) -> {base['list_http_ms'] / new['list_http_walk_ms']:.0f}x", flush=True)
            for rate, summary in new["load"].items():
                if rate in base["load"]:
                    b = base["load"][rate]
                    print(f"  {rate:g} req/s: answered {b['ok_per_s']}/s -> {summary['ok_per_s']}/s, "
                          f"p99 {b['p99_ms']} -> {summary['p99_ms']} ms", flush=True)
        report[str(size)] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
