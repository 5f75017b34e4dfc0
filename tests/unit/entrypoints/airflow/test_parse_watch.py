"""No lost update in the DAG bundle: a shard rewritten while Airflow parses its previous version
is parsed again, whatever the timing.

Airflow's DAG processor is modelled by its re-parse rule (Airflow 3.3,
``airflow/dag_processing/manager.py``): a file is parsed again when its mtime is newer than the
*finish* of its last parse (``_sort_by_mtime``: ``modified_datetime > stat.last_finish_time``) or
when a ``DagPriorityParsingRequest`` names it (``_queue_requested_files_for_parsing``); otherwise
not before ``min_file_process_interval``. A request claimed while the file is being parsed is
dropped (``_start_new_processes`` skips a file that has a processor; the request row is gone). The slow parse is made deterministic: the test starts it
(the file is read), rewrites the shard, then finishes it, with explicit mtimes and times.
"""

from __future__ import annotations

import ast
import os
import sys
import types
from pathlib import Path

import pytest

from dli.adapters.airflow.runs import shard_file, shard_of
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import SourceType
from dli.entrypoints.airflow.shards import (
    ParseWatch,
    parsed_digest,
    record_parse,
    shard_digest,
    sync_bundle,
)
from dli.testing.specs import make_document

SHARDS = 4
URL = "memory://watch"
GRACE = 10.0


def specs_in(text: str) -> dict:
    """The ``specs`` a shard file passes to ``load_shard``."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_shard":
            return next(ast.literal_eval(k.value) for k in node.keywords if k.arg == "specs")
    raise AssertionError("no load_shard call")


class Parse:
    def __init__(self, name: str, dags: list[str]) -> None:
        self.name, self.dags = name, dags


class AirflowRule:
    """The DAG processor's re-parse decision, on real shard files (see the module docstring)."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = folder
        self.last_finish: dict[str, float] = {}
        self.requested: set[str] = set()
        self.parsing: set[str] = set()
        self.dags: dict[str, list[str]] = {}
        factory = types.ModuleType("dli.entrypoints.airflow.dag_factory")

        def load_shard(namespace, shard_path, *, store_url, specs=None):  # what the real one does first
            record_parse(shard_path, specs)
            namespace["built"] = sorted(specs)

        factory.load_shard = load_shard  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "dli.entrypoints.airflow.dag_factory", factory)

    def wants(self, name: str) -> bool:
        mtime = os.path.getmtime(self.folder / name)
        return name in self.requested or mtime > self.last_finish.get(name, float("-inf"))

    def start(self, name: str) -> Parse:
        """A parse starts: the file is read and run (the DAGs it builds are fixed from here on)."""
        namespace: dict = {"__file__": str(self.folder / name)}
        exec(compile((self.folder / name).read_text(), name, "exec"), namespace)  # noqa: S102 - the shard file
        self.requested.discard(name)
        self.parsing.add(name)
        return Parse(name, namespace["built"])

    def finish(self, parse: Parse, *, at: float) -> None:
        self.parsing.discard(parse.name)
        self.last_finish[parse.name] = at
        self.dags[parse.name] = parse.dags

    def stale(self, names):
        """Of ``names``, those Airflow last finished parsing after their mtime (what the bundle
        reads from Airflow's ``last_parsed_time``)."""
        return [n for n in names if self.last_finish.get(n, float("-inf")) > os.path.getmtime(self.folder / n)]

    def ask(self, names: list[str]) -> None:  # DagPriorityParsingRequest, claimed at once
        self.requested.update(name for name in names if name not in self.parsing)


def same_shard(count: int) -> list[str]:
    names = [f"scale.gen.d{i:04d}" for i in range(400)]
    target = shard_of(names[0], SHARDS)
    return [n for n in names if shard_of(n, SHARDS) == target][:count]


def sync(folder: Path, store: InMemorySpecStore, watch: ParseWatch, *, at: float) -> list[str]:
    report = sync_bundle(folder, store, store_url=URL, shards=SHARDS)
    for name in report.written:
        os.utime(folder / name, (at, at))  # the rewrite's time, exactly
    watch.rewritten(report.digests, report.removed, now=at)
    return list(report.written)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    folder = tmp_path / "dags"
    store = InMemorySpecStore()
    return folder, store, ParseWatch(grace_seconds=GRACE), AirflowRule(folder, monkeypatch)


def test_a_shard_rewritten_during_its_parse_is_asked_for_again_and_reaches_airflow(setup):
    folder, store, watch, airflow = setup
    first, second, third = same_shard(3)
    for name in (first, second):
        store.create(SourceType.MANUAL, make_document(name))
    [shard] = sync(folder, store, watch, at=1000.0)

    slow = airflow.start(shard)  # a 10 s parse of the version with 2 DAGs...
    store.create(SourceType.MANUAL, make_document(third))
    assert sync(folder, store, watch, at=1002.0) == [shard]  # ...during which the shard is rewritten
    airflow.finish(slow, at=1010.0)

    # Airflow's own rule loses the update: the file looks parsed after its last change.
    assert airflow.dags[shard] == sorted([first, second])
    assert not airflow.wants(shard)

    # The bundle's refreshes: before the grace runs out, nothing is asked; then the shard is.
    def parsed(name):
        return parsed_digest(folder, name)

    assert watch.due(parsed, now=1005.0) == []
    assert watch.due(parsed, now=1012.0) == [shard]
    airflow.ask([shard])
    assert airflow.wants(shard)
    airflow.finish(airflow.start(shard), at=1013.0)
    assert airflow.dags[shard] == sorted([first, second, third])
    # Seen parsed with its current content: no longer watched, never asked again.
    assert watch.due(parsed, now=1100.0) == [] and watch.pending == {}


def test_a_request_answered_by_a_parse_of_older_content_is_repeated(setup):
    folder, store, watch, airflow = setup
    first, second, third = same_shard(3)
    store.create(SourceType.MANUAL, make_document(first))
    [shard] = sync(folder, store, watch, at=1000.0)

    def parsed(name):
        return parsed_digest(folder, name)

    airflow.finish(airflow.start(shard), at=1001.0)
    assert watch.due(parsed, now=1003.0) == []  # parsed with its content: done

    stale = airflow.start(shard)
    store.create(SourceType.MANUAL, make_document(second))
    sync(folder, store, watch, at=1004.0)
    airflow.finish(stale, at=1030.0)  # a very slow parse: longer than the grace
    assert watch.due(parsed, now=1015.0) == [shard]
    store.create(SourceType.MANUAL, make_document(third))  # and the shard changes again meanwhile
    sync(folder, store, watch, at=1016.0)
    assert watch.due(parsed, now=1027.0) == [shard]  # still not parsed with its current content: asked again
    airflow.ask([shard])
    airflow.finish(airflow.start(shard), at=1031.0)
    assert airflow.dags[shard] == sorted([first, second, third])
    assert watch.due(parsed, now=1100.0) == []


def test_a_rewrite_airflow_parses_on_its_own_is_never_asked_for(setup):
    folder, store, watch, airflow = setup
    names = same_shard(2)
    store.create(SourceType.MANUAL, make_document(names[0]))
    [shard] = sync(folder, store, watch, at=1000.0)
    airflow.finish(airflow.start(shard), at=1001.0)
    store.create(SourceType.MANUAL, make_document(names[1]))
    sync(folder, store, watch, at=1002.0)
    assert airflow.wants(shard)  # the mtime rule sees this one
    airflow.finish(airflow.start(shard), at=1003.0)
    assert watch.due(lambda name: parsed_digest(folder, name), now=1050.0) == []


def test_the_digest_a_parse_records_is_the_one_the_bundle_wrote(tmp_path):
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document("shop.a"))
    store.create(SourceType.MANUAL, make_document("shop.b", cron=None, after="upstream", depends_on=("shop.a",)))
    report = sync_bundle(tmp_path, store, store_url=URL, shards=1)
    [name] = report.written
    assert name == shard_file(0, 1)
    assert shard_digest(specs_in((tmp_path / name).read_text())) == report.digests[name]


def test_a_request_airflow_drops_because_the_stale_parse_still_runs_is_made_again(setup):
    folder, store, watch, airflow = setup
    first, second = same_shard(2)
    store.create(SourceType.MANUAL, make_document(first))
    [shard] = sync(folder, store, watch, at=1000.0)
    airflow.finish(airflow.start(shard), at=1001.0)

    def parsed(name):
        return parsed_digest(folder, name)

    stale = airflow.start(shard)
    store.create(SourceType.MANUAL, make_document(second))
    sync(folder, store, watch, at=1002.0)
    asked = watch.due(parsed, now=1012.0)
    assert asked == [shard]
    airflow.ask(asked)  # the stale parse still runs: Airflow drops the request
    assert not airflow.requested
    airflow.finish(stale, at=1015.0)
    assert not airflow.wants(shard)  # lost, as far as Airflow's own rule goes
    assert watch.due(parsed, now=1018.0) == []  # the grace after the last request
    asked = watch.due(parsed, now=1022.0)
    assert asked == [shard]
    airflow.ask(asked)
    assert airflow.wants(shard)
    airflow.finish(airflow.start(shard), at=1023.0)
    assert airflow.dags[shard] == sorted([first, second])
    assert watch.due(parsed, now=1100.0) == [] and watch.pending == {}


def test_only_a_shard_airflow_holds_as_parsed_after_its_rewrite_is_asked_for_others_wait_their_turn(
    tmp_path, monkeypatch
):
    folder, store = tmp_path / "dags", InMemorySpecStore()
    watch, airflow = ParseWatch(grace_seconds=GRACE, fallback_seconds=60.0), AirflowRule(folder, monkeypatch)
    names = [f"scale.gen.d{i:04d}" for i in range(40)]
    by_shard: dict[int, list[str]] = {}
    for name in names:
        by_shard.setdefault(shard_of(name, SHARDS), []).append(name)
    (lost_first, lost_second), (queued_first, queued_second) = [v[:2] for v in list(by_shard.values())[:2]]
    for name in (lost_first, queued_first):
        store.create(SourceType.MANUAL, make_document(name))
    written = sync(folder, store, watch, at=1000.0)
    for shard in written:
        airflow.finish(airflow.start(shard), at=1001.0)
    lost, queued = (shard_file(shard_of(n, SHARDS), SHARDS) for n in (lost_first, queued_first))

    stale = airflow.start(lost)  # a parse of the old content of one shard runs...
    for name in (lost_second, queued_second):
        store.create(SourceType.MANUAL, make_document(name))
    assert sorted(sync(folder, store, watch, at=1002.0)) == sorted([lost, queued])  # ...both are rewritten
    airflow.finish(stale, at=1005.0)
    # The other shard waits in Airflow's queue (its mtime is newer than its last parse): not asked.
    assert airflow.wants(queued) and not airflow.wants(lost)

    def parsed(name):
        return parsed_digest(folder, name)

    assert watch.due(parsed, now=1013.0, stale=airflow.stale) == [lost]
    airflow.ask([lost])
    airflow.finish(airflow.start(lost), at=1014.0)
    # Airflow is slow to come to the queued one: after the fallback it is asked for anyway.
    assert watch.due(parsed, now=1030.0, stale=airflow.stale) == []
    assert watch.due(parsed, now=1063.0, stale=airflow.stale) == [queued]
    airflow.finish(airflow.start(queued), at=1064.0)
    assert watch.due(parsed, now=1200.0, stale=airflow.stale) == [] and watch.pending == {}
    assert airflow.dags[lost] == sorted([lost_first, lost_second])
    assert airflow.dags[queued] == sorted([queued_first, queued_second])
