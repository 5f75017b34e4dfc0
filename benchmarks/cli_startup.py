"""Start-up time of the ``dli`` console script.

Prints the median wall time (and min / max) over repeated runs of:

- ``python -c pass`` (the interpreter alone: the floor),
- ``dli --help``,
- ``dli workflow list --mode mock``,

and each command's ratio to the floor. Target (issue 3): ``dli workflow list --mode mock`` under
150 ms median on the development machine.

Usage::

    .venv/bin/python benchmarks/cli_startup.py [--runs 30] [--warmup 3] [--baseline-src DIR]

``--baseline-src`` times the same commands a second time with another checkout's ``src`` first on
``PYTHONPATH`` (e.g. a worktree of the previous release), interleaved run by run with this one so
that both see the same machine load, and prints the ratio of each median to the baseline's.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 150.0


def _dli() -> str:
    script = Path(sys.executable).with_name("dli")
    if not script.exists():
        sys.exit(f"{script} not found: install the project (pip install -e .) in this environment first")
    return str(script)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str], runs: int, warmup: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of each run; CPU time is less sensitive to a busy machine."""
    for _ in range(warmup):  # fill the OS page cache and write .pyc files
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    wall, cpu = [], []
    for _ in range(runs):
        cpu_before = _cpu()
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_cpu() - cpu_before) * 1000)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None, help="another checkout's src directory")
    args = parser.parse_args()

    # No user config file, no terminal: measure the command, not the environment.
    # Bytecode caching on for both checkouts: with PYTHONDONTWRITEBYTECODE set (as in some shells and
    # CI images) a checkout without .pyc files is timed compiling its sources on every run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLI_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["DLI_CONFIG"] = os.devnull
    dli = _dli()
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("dli --help", [dli, "--help"]),
        ("dli workflow list --mode mock", [dli, "workflow", "list", "--mode", "mock"]),
    ]
    if args.baseline_src is not None:
        _compare(cases, args, env)
        return
    results = {name: _time(cmd, args.runs, args.warmup, env) for name, cmd in cases}
    floor = statistics.median(results["python -c pass"][0])
    print(f"wall time, {args.runs} runs each, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':34} {'median':>9} {'min':>9} {'max':>9} {'x python':>9} {'cpu med':>9}")
    for name, (wall, cpu) in results.items():
        median = statistics.median(wall)
        print(
            f"{name:34} {median:7.1f}ms {min(wall):7.1f}ms {max(wall):7.1f}ms {median / floor:8.1f}x"
            f" {statistics.median(cpu):7.1f}ms"
        )
    listing = statistics.median(results["dli workflow list --mode mock"][0])
    verdict = "meets" if listing < TARGET_MS else "MISSES"
    print(f"\n'dli workflow list --mode mock' {verdict} the {TARGET_MS:.0f} ms target ({listing:.1f} ms median).")


def _compare(cases: list[tuple[str, list[str]]], args: argparse.Namespace, env: dict[str, str]) -> None:
    here_src = Path(__file__).resolve().parents[1] / "src"
    envs = {
        "this": {**env, "PYTHONPATH": str(here_src)},
        "baseline": {**env, "PYTHONPATH": str(args.baseline_src.resolve())},
    }
    print(f"this checkout: {here_src}; baseline: {args.baseline_src}; {args.runs} runs each, interleaved, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':34} {'this':>9} {'baseline':>9} {'ratio':>7} {'cpu this':>9} {'cpu base':>9}")
    for name, cmd in cases:
        samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in envs}
        for k, e in envs.items():
            _time(cmd, 0, args.warmup, e)
        for _ in range(args.runs):
            for k, e in envs.items():
                wall, cpu = _time(cmd, 1, 0, e)
                samples[k][0].extend(wall)
                samples[k][1].extend(cpu)
        this, base = (statistics.median(samples[k][0]) for k in ("this", "baseline"))
        cpu_this, cpu_base = (statistics.median(samples[k][1]) for k in ("this", "baseline"))
        print(f"{name:34} {this:7.1f}ms {base:7.1f}ms {this / base:6.2f}x {cpu_this:7.1f}ms {cpu_base:7.1f}ms")


if __name__ == "__main__":
    main()
