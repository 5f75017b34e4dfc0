"""Every real project of ``../shared/corpus/`` works as it is, through a real ``basecamp serve``.

The corpus holds projects written for other versions of the dli toolchain, verbatim (see its
README): dli must register, run, backfill, publish and dry-run their datasets without a file
edited, and ignore what belongs to other tools (metrics, quality rules, environments ...).
A project added to the corpus is picked up here by itself.

What the test expects of a project is read from its files with plain YAML, not with dli: the
datasets are the ``dataset.<name>.yaml`` / ``dataset.yaml`` files, their required parameters
those declared ``required: true`` without a default, the scheduled ones those with ``schedule:``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from tests.support.basecamp import BasecampProcess, running_basecamp
from tests.support.dli_process import Completed, dli_env, run_dli

REPO = Path(__file__).resolve().parents[3]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
# A missing corpus is a failure, not a skip: CI has it, and a test that never runs proves nothing.
PROJECTS = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else [CORPUS / "<missing>"]
CHECK_INTERVAL = 0.2
SAMPLE_VALUES = {"date": "2025-01-01", "integer": "1", "float": "0.5", "boolean": "true", "string": "x"}
BACKFILL = ("2025-01-02", "2025-01-04")
BACKFILL_DATES = ["2025-01-02", "2025-01-03", "2025-01-04"]


@attrs.frozen
class Dataset:
    name: str
    required: dict[str, str]
    """Parameters declared required without a default, with a sample value of their type."""
    scheduled: bool


def _is_spec_file(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and (
        path.name.startswith("dataset.") and path.stem != "dataset" or path.name in ("dataset.yaml", "dataset.yml")
    )


def datasets_of(project: Path) -> list[Dataset]:
    found = []
    for path in sorted(project.rglob("dataset*.y*ml")):
        if not _is_spec_file(path) or any(part.startswith(".") for part in path.relative_to(project).parts):
            continue
        data = yaml.safe_load(path.read_text())
        name = data.get("name") or path.name.split(".", 1)[1].rsplit(".", 1)[0]
        required = {
            p["name"]: SAMPLE_VALUES[p.get("type", "string")]
            for p in data.get("parameters") or []
            if p.get("required") and p.get("default") is None
        }
        found.append(Dataset(name=name, required=required, scheduled=data.get("schedule") is not None))
    return sorted(found, key=lambda d: d.name)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with its content's hash: any write shows."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


@attrs.define
class Stack:
    server: BasecampProcess
    store_dir: Path
    env: dict[str, str]
    project: Path

    def dli(self, *args: str) -> Completed:
        done = run_dli(*args, env=self.env, cwd=self.project)
        assert done.returncode == 0, f"dli {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.dli(*args, "--format", "json").stdout)

    def listed(self, source: str) -> set[str]:
        body = self.json("workflow", "list", "--source", source)
        return {w["dataset_name"] for w in body["workflows"]}


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    project: Path = request.param
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    for server in running_basecamp(tmp_path / "server", store_url=store_dir.as_uri(), check_interval=CHECK_INTERVAL):
        env = dli_env(tmp_path, DLI_SERVER_URL=server.url, DLI_API_TOKEN=server.token)
        yield Stack(server=server, store_dir=store_dir, env=env, project=project)


def test_the_corpus_folder_is_there_and_holds_projects():
    assert CORPUS.is_dir(), f"the corpus folder {CORPUS} is missing (it sits next to the repository: ../shared/corpus)"
    assert PROJECTS and all((p / "dli.yaml").is_file() for p in PROJECTS), PROJECTS


@pytest.mark.parametrize("stack", PROJECTS, ids=[p.name for p in PROJECTS], indirect=True)
def test_every_dataset_of_a_corpus_project_registers_runs_backfills_publishes_and_dry_runs_unedited(stack):
    project = stack.project
    assert project.is_dir(), f"the corpus folder {CORPUS} is missing"
    before = snapshot(project)
    datasets = datasets_of(project)
    assert datasets, f"no dataset spec in {project}"
    names = [d.name for d in datasets]

    # The SQL check: every statement parses in its dialect (vendor commands are noted, never refused).
    checked = stack.json("workflow", "validate")
    assert checked["errors"] == 0 and sorted(s["dataset_name"] for s in checked["specs"]) == sorted(names)
    assert all(s["valid"] for s in checked["specs"]), checked

    # register --dry-run on a fresh server: every check register makes, nothing written.
    for name in names:
        out = stack.dli("workflow", "register", name, "--cron", "0 6 * * *", "--dry-run").stdout
        assert f"Dry run: {name} is valid and would be registered" in out
    assert stack.listed("manual") == set()

    for name in names:
        out = stack.dli("workflow", "register", name, "--cron", "0 6 * * *", "--timezone", "Asia/Seoul").stdout
        assert f"Workflow registered: {name}" in out
    assert stack.listed("manual") == set(names)

    for dataset in datasets:
        params = [arg for key, value in dataset.required.items() for arg in ("-p", f"{key}={value}")]
        followed = stack.json("workflow", "run", dataset.name, *params, "--wait", "--poll", "0.2")
        assert followed["outcome"] == "completed", followed
        (run,) = followed["runs"]
        assert run["run_status"] == "COMPLETED" and run["dataset_name"] == dataset.name
        assert {k: str(v).lower() for k, v in run["parameters"].items()} == dataset.required

    for name in names:
        followed = stack.json(
            "workflow", "backfill", name, "-s", BACKFILL[0], "-e", BACKFILL[1], "--wait", "--poll", "0.2"
        )
        assert followed["outcome"] == "completed", followed
        assert list(followed["result"]["dates"]) == BACKFILL_DATES
        runs = followed["runs"]
        assert len(runs) == 3 and len({r["run_id"] for r in runs}) == 3
        assert [r["run_status"] for r in runs] == ["COMPLETED"] * 3
        assert [r["parameters"].get("execution_date") for r in runs] == BACKFILL_DATES

    # publish: what CI runs, straight into the store the server reads.
    plan = stack.json("workflow", "publish", "--path", ".", "--store", stack.store_dir.as_uri())
    scheduled = {d.name for d in datasets if d.scheduled}
    assert {i["dataset_name"]: i["action"] for i in plan["items"]} == dict.fromkeys(scheduled, "create")
    # Every dataset was found, and nothing else (metric and quality specs are not datasets).
    assert {i["dataset_name"] for i in plan["items"]} | set(plan["skipped"]) == set(names)
    deadline = time.monotonic() + 50 * CHECK_INTERVAL
    while stack.listed("code") != scheduled and time.monotonic() < deadline:
        time.sleep(CHECK_INTERVAL)
    assert stack.listed("code") == scheduled
    listing = stack.json("workflow", "list")
    assert {(w["dataset_name"], w["source_type"]) for w in listing["workflows"]} == {
        *((n, "manual") for n in names),
        *((n, "code") for n in scheduled),
    }

    # The dry run of an update (a registration exists now) passes too.
    for name in names:
        out = stack.dli("workflow", "register", name, "--cron", "30 6 * * *", "--dry-run", "--force").stdout
        assert f"Dry run: {name} is valid and would be updated" in out

    assert snapshot(project) == before, "a command wrote into the corpus project"
