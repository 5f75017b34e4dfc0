"""No lost update with a real DAG processor: a shard rewritten while Airflow parses its previous
version still reaches Airflow within seconds, not ``min_file_process_interval`` (600 s here).

Airflow 3.3's ``airflow dag-processor`` (its own venv, SQLite) runs dli's bundle over a filesystem
store. The slow parse is deterministic: ``parse_gate/sitecustomize.py`` holds the parse of one shard
file, after it built its DAGs from the content it read, until the test lets it go; meanwhile the
test registers more specs of that shard and waits for the bundle to rewrite the file. When the held
parse finishes, Airflow records the file as parsed after its last change (its DAGs'
``last_parsed_time`` is later than the rewrite), so only the bundle's parse watch can bring the
new DAGs in.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dli.adapters.airflow.runs import shard_file, shard_of
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from dli.entrypoints.devstack.processes import stop_session
from dli.testing.specs import make_document
from tests.integration.bundle.conftest import AIRFLOW, airflow_env

pytestmark = pytest.mark.timeout(600)

SHARDS = 4
BUNDLE = "dli-race"
REFRESH = 1  # seconds: the bundle's refresh_interval, so its parse watch asks after 2 s
GATE_PATH = Path(__file__).parent / "parse_gate"
WITHIN = 30.0  # seconds for a change to reach Airflow; Airflow alone would take 600


def _same_shard(count: int) -> list[str]:
    names = [f"race.d{i:03d}" for i in range(200)]
    target = shard_of(names[0], SHARDS)
    return [n for n in names if shard_of(n, SHARDS) == target][:count]


class Processor:
    """``airflow dag-processor`` with dli's bundle, and what the test sees of it."""

    def __init__(self, home: Path, root: Path) -> None:
        self.home, self.gate = home, root / "gate"
        self.store = FilesystemSpecStore(root / "store")
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.gate.mkdir()
        self.log = root / "dag-processor.log"
        self.folder = home / "bundles" / BUNDLE / "dags"
        bundles = [
            {
                "name": BUNDLE,
                "classpath": "dli.entrypoints.airflow.bundle.DliDagBundle",
                "kwargs": {"store_url": self.store.root.as_uri(), "shards": SHARDS, "refresh_interval": REFRESH},
            }
        ]
        env = airflow_env(
            home,
            AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=json.dumps(bundles),
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="600",
            AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL="1",
            AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT="120",
            DLI_TEST_PARSE_GATE=str(self.gate),
        )
        env["PYTHONPATH"] = f"{GATE_PATH}:{env['PYTHONPATH']}"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(AIRFLOW), "dag-processor"],
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        stop_session(self.proc.pid, grace_seconds=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def register(self, *names: str) -> None:
        for name in names:
            self.store.create(SourceType.MANUAL, make_document(name))

    def dags(self) -> dict[str, datetime]:
        """Active DAGs of the bundle in Airflow's database -> when Airflow last parsed them."""
        with contextlib.closing(sqlite3.connect(self.home / "airflow.db", timeout=30)) as db:
            rows = db.execute(
                "SELECT dag_id, last_parsed_time FROM dag WHERE bundle_name = ? AND NOT is_stale", (BUNDLE,)
            ).fetchall()
        return {dag_id: _utc(parsed) for dag_id, parsed in rows if parsed}

    def hold(self, file: str) -> None:
        (self.gate / "target").write_text(file)
        (self.gate / "entered").unlink(missing_ok=True)
        (self.gate / "hold").write_text("")

    def release(self) -> float:
        (self.gate / "hold").unlink()
        return time.time()

    def entered(self) -> list[str] | None:
        try:
            return json.loads((self.gate / "entered").read_text())
        except (OSError, ValueError):
            return None

    def shard_names(self, file: str) -> str:
        try:
            return (self.folder / file).read_text()
        except OSError:
            return ""

    def asked(self, file: str) -> int:
        """How often the bundle logged asking Airflow to parse ``file``."""
        lines = self.log.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if "asked Airflow to parse" in line and file in line)

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float = WITHIN) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-4000:]
                raise AssertionError(f"{what}: not within {timeout:.0f}s\n--- dag-processor log ---\n{tail}")
            time.sleep(0.1)


def _utc(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@pytest.fixture
def processor(airflow_home: Path, tmp_path: Path) -> Iterator[Processor]:
    running = Processor(airflow_home, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _rewritten_during_parse(processor: Processor, file: str, held: list[str], *added: str) -> float:
    """Hold the next parse of ``file`` (which will see ``held``), register ``added`` one after the
    other while it is held, each waiting for the bundle's rewrite; release it. Returns the mtime of
    the last rewrite."""
    processor.hold(file)
    processor.register(held[-1])
    entered = processor.wait(f"a parse of {file} with {held[-1]}", processor.entered)
    assert entered == sorted(held)
    for name in added:
        processor.register(name)
        processor.wait(f"{file} rewritten with {name}", lambda n=name: repr(n) in processor.shard_names(file))
    return (processor.folder / file).stat().st_mtime


def test_a_shard_rewritten_during_its_own_parse_reaches_airflow_within_seconds(processor: Processor) -> None:
    a, b, c, d, e, f = _same_shard(6)
    file = shard_file(shard_of(a, SHARDS), SHARDS)
    processor.register(a)
    processor.wait(f"{a} in Airflow", lambda: a in processor.dags(), timeout=120)

    # Once: the parse of {a, b} is held while the shard is rewritten to {a, b, c}.
    rewritten = _rewritten_during_parse(processor, file, [a, b], c)
    released = processor.release()
    dags = processor.wait(f"{b} in Airflow", lambda: b in processor.dags() and processor.dags())
    # Airflow now holds the file as parsed after its rewrite: its own rule would not parse it for 600 s.
    assert dags[b].timestamp() > rewritten
    processor.wait(f"{c} in Airflow (the rewrite during the parse)", lambda: c in processor.dags())
    assert processor.asked(file) >= 1
    first_delay = time.time() - released

    # Twice, and held for longer than the watch's grace: while the stale parse runs, Airflow's last
    # parse of the file finished before the rewrites, so the bundle does not ask yet (Airflow would
    # drop a request for a file it is parsing); once it has finished, it asks.
    asked_before = processor.asked(file)
    rewritten = _rewritten_during_parse(processor, file, [a, b, c, d], e, f)
    time.sleep(3 * 2 * REFRESH)
    assert processor.asked(file) == asked_before
    released = processor.release()
    dags = processor.wait(f"{d} in Airflow", lambda: d in processor.dags() and processor.dags())
    assert dags[d].timestamp() > rewritten
    processor.wait(f"{e} and {f} in Airflow", lambda: {e, f} <= set(processor.dags()))
    assert processor.asked(file) > asked_before
    print(f"reached Airflow {first_delay:.1f}s and {time.time() - released:.1f}s after the stale parse ended")
