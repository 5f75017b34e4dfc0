"""The README's first command, and then its tour, as a newcomer runs them.

A fresh copy of the project (what a clone holds: no ``.venv``, no ``.venv-airflow``, no ``.dli-dev``),
no user configuration and no ``DLI_*`` variable: ``bash scripts/demo.sh`` installs everything, starts
the stack and walks the example project; then the tour's code block runs as written, in order; then
``dli dev down`` leaves no process of the stack behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dli.entrypoints.devstack.processes import free_port, session_alive

ROOT = Path(__file__).resolve().parents[2]


def _fresh_clone(target: Path) -> Path:
    """The files a clone of the work tree would hold (tracked and new, not ignored), nothing else."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _tour(readme: str) -> str:
    """The code block of the README's "A five-minute tour"."""
    section = readme.split("## A five-minute tour", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def _processes_under(folder: Path) -> list[str]:
    """Processes whose command line names ``folder`` (the stack runs from the clone's virtualenvs)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def _run_logged(
    command: list[str], cwd: Path, env: dict[str, str], log: Path, *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with its output (both streams, in order) in ``log``; a command still running
    after ``timeout`` is killed and reported with exit status -9, so the test can say where it stood."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            out.write(f"\n[test] killed after {timeout:.0f} s\n")
    return subprocess.CompletedProcess(command, proc.returncode, log.read_text(errors="replace"), "")


def _diagnosis(clone: Path, output: str) -> str:
    """What a failed or hung step printed last, and what the stack's logs said that looks like trouble."""
    parts = ["--- last output ---", output[-5000:]]
    for log in sorted((clone / ".dli-dev" / "logs").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        trouble = [
            line
            for i, line in enumerate(lines)
            if any(re.search(r"ERROR|Traceback|locked|died|Exception", near) for near in lines[max(0, i - 8) : i + 1])
        ]
        parts += [
            f"--- {log.name}: {len(lines)} lines, last trouble ---",
            *trouble[-60:],
            f"--- {log.name}: last lines ---",
            *lines[-15:],
        ]
    return "\n".join(parts)


@pytest.fixture
def newcomer(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    clone = _fresh_clone(tmp_path / "dli")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),  # no user configuration
        DLI_DEV_AIRFLOW_PORT=str(free_port()),  # the demo's own knobs, so as not to take 8080 from anyone
        DLI_DEV_SERVER_PORT=str(free_port()),
    )
    return clone, env


def test_demo_then_tour_on_a_fresh_clone_succeed_and_dev_down_leaves_nothing_running(newcomer):
    clone, env = newcomer
    assert not (clone / ".venv").exists() and not (clone / ".dli-dev").exists()
    pids: list[int] = []
    try:
        demo = _run_logged(["bash", "scripts/demo.sh"], clone, env, clone.parent / "demo.log", timeout=1500)
        state = clone / ".dli-dev" / "state.json"
        if state.exists():
            recorded = json.loads(state.read_text())
            pids = [recorded[name]["pid"] for name in ("airflow", "basecamp") if name in recorded]
        assert demo.returncode == 0, _diagnosis(clone, demo.stdout)
        # What the example's SQL wrote, printed at the end: orders of 2025-01-01..04, revenue per day.
        written = demo.stdout.split("What the SQL wrote", 1)[1]
        orders, revenue = written.split("daily_revenue", 1)
        assert sorted(set(re.findall(r"'(2025-01-0\d)'", orders))) == [
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-04",
        ]
        assert sorted(set(re.findall(r"'(2025-01-0\d)'", revenue))) == ["2025-01-01", "2025-01-02", "2025-01-03"]
        assert (clone / "examples" / "shop").is_dir() and len(pids) == 2

        tour = _run_logged(
            ["bash", "-euo", "pipefail", "-c", "set -x\n" + _tour((clone / "README.md").read_text())],
            clone,
            env,
            clone.parent / "tour.log",
            timeout=900,
        )
        assert tour.returncode == 0, _diagnosis(clone, tour.stdout)
        # The demo's two registrations, active (the demo's last publish pruned the code specs) ...
        assert "Total: 2 workflows (2 active)" in tour.stdout, tour.stdout
        # ... and after the tour's `publish`, `list --source manual` shows both overridden by code.
        assert "Total: 2 workflows (2 overridden)" in tour.stdout, tour.stdout
        assert (
            len([line for line in tour.stdout.splitlines() if line.startswith("shop.") and " overridden " in line]) == 2
        )
    finally:
        down = (
            subprocess.run(
                [str(clone / ".venv" / "bin" / "dli"), "dev", "down"],
                cwd=clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if (clone / ".venv").exists()
            else None
        )
    assert down is not None and down.returncode == 0, down and down.stderr
    assert [pid for pid in pids if session_alive(pid)] == []
    assert _processes_under(clone) == []
