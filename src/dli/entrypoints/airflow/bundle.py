"""dli's Airflow 3 DAG bundle: the store's DAGs in shard files that Airflow re-parses one at a time.

Install it with one setting on every Airflow component (DAG processor, scheduler, workers)::

    AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST='[
      {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
      {"name": "dli", "classpath": "dli.entrypoints.airflow.bundle.DliDagBundle",
       "kwargs": {"store_url": "s3://bucket/prefix", "shards": 256, "refresh_interval": 5}}]'

Each refresh lists the store once (``shards.sync_bundle``; on S3, between two full listings at most
``full_listing_interval`` seconds apart, it reads the writes recorded since the previous refresh
instead) and rewrites only the shard files whose specs changed; Airflow's DAG processor re-parses a file whose mtime is newer than its last parse,
and parses a new file first. dli asks Airflow to parse the dataset's shard file after a write
(``PUT /api/v2/parseDagFile``), which also makes the processor refresh the bundle at once.

A shard rewritten while Airflow parses its previous version is not lost (``shards.ParseWatch``):
each parse records the content it started on, and a refresh that finds a rewritten shard whose new
content no parse has started on, ``2 * refresh_interval`` after the rewrite, and that Airflow holds
as parsed after the rewrite (its DAGs' ``last_parsed_time`` is newer than the file), asks Airflow to
parse it (a ``DagPriorityParsingRequest``, what ``PUT /api/v2/parseDagFile`` records, and the
file's mtime set to now), again at that pace until a parse of its content starts. A shard still
waiting in Airflow's queue is asked for only after five minutes.

On a worker, the bundle only makes sure the shard file of the DAG being run exists; that file then
builds that one DAG (``load_shard``), as the two-line DAG file does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.dag_processing.bundles.base import BaseDagBundle
from airflow.sdk import get_parsing_context

from dli.adapters.airflow.runs import shard_file, shard_of
from dli.entrypoints.airflow.shards import (
    BundleIndex,
    ParseWatch,
    parsed_digest,
    render_shard,
    sync_bundle,
)
from dli.entrypoints.bootstrap import build_factory_store, warm_factory
from dli.ports.spec_store import SpecStore

__all__ = ["DliDagBundle"]

log = logging.getLogger(__name__)

DEFAULT_SHARDS = 256


def _prepare_parsers() -> None:
    """In the DAG processor's main process: import the factory (Airflow's SDK and SQL operator with
    it) and build the spec codec now, so that the processes it forks to parse shard files start with
    them instead of each paying for them."""
    import dli.entrypoints.airflow.dag_factory  # noqa: F401

    warm_factory()


def _utc_seconds(value: Any) -> float:
    """A ``last_parsed_time`` as the database driver returns it (aware, naive UTC or text), in epoch seconds."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


class DliDagBundle(BaseDagBundle):
    """A DAG bundle whose files are generated from a dli spec store: one file per shard of datasets.

    Args:
        store_url: The spec store (``file:///path`` or ``s3://bucket/prefix``); default ``$DLI_STORE_URL``.
        shards: How many files the datasets are spread over (1-999). Changing it moves every DAG to
            a new file once.
        full_listing_interval: Seconds between two refreshes that list every key of an S3 store
            (default 300); the refreshes between read the writes dli recorded. A spec copied into
            the bucket around dli (``aws s3 cp``) appears within this interval.
        **kwargs: Airflow's bundle arguments (``name``, ``refresh_interval``, ...).
    """

    supports_versioning = False

    def __init__(
        self,
        *,
        store_url: str | None = None,
        shards: int = DEFAULT_SHARDS,
        full_listing_interval: float = 300.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        url = store_url or os.environ.get("DLI_STORE_URL")
        if not url:
            raise ValueError("dli DAG bundle: set store_url in the bundle's kwargs or DLI_STORE_URL")
        if not 1 <= int(shards) <= 999:
            raise ValueError(f"dli DAG bundle: shards must be between 1 and 999, not {shards}")
        self.store_url = url
        self.shards = int(shards)
        self.full_listing_interval = float(full_listing_interval)
        if self.full_listing_interval <= 0:
            raise ValueError(f"dli DAG bundle: full_listing_interval must be positive, not {full_listing_interval}")
        self._path = Path(self.base_dir) / "dags"
        self._store: SpecStore | None = None
        self._last: BundleIndex | None = None
        # Airflow notices most rewrites by their mtime within a refresh or two; asked after that
        # when Airflow's last parse finished after the rewrite, and after five minutes whatever (a
        # publish of 1,000 specs keeps the processor's queue full for minutes on two cores: asking
        # for every queued shard would only reorder the queue).
        grace = 2 * max(float(self.refresh_interval), 1.0)
        self._watch = ParseWatch(grace_seconds=grace, fallback_seconds=max(300.0, 6 * grace))

    @property
    def path(self) -> Path:
        return self._path

    def get_current_version(self) -> None:
        return None

    def initialize(self) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        dag_id = get_parsing_context().dag_id
        if dag_id:
            self._ensure_shard_of(dag_id)
        else:
            _prepare_parsers()
            self.refresh()
        super().initialize()

    def refresh(self) -> None:
        if self._store is None:
            # Kept across refreshes: the store remembers what it listed and reads only what changed.
            self._store = build_factory_store(self.store_url, full_listing_interval_seconds=self.full_listing_interval)
        with self.lock():
            report = sync_bundle(self._path, self._store, store_url=self.store_url, shards=self.shards, last=self._last)
        self._last = report.index
        if report.written or report.removed:
            log.info(
                "dli bundle %s: %d dataset(s); rewrote %s; removed %s",
                self.name,
                report.datasets,
                ", ".join(report.written[:10]) or "-",
                ", ".join(report.removed[:10]) or "-",
            )
        now = time.monotonic()
        self._watch.rewritten(report.digests, report.removed, now=now)
        due = self._watch.due(lambda name: parsed_digest(self._path, name), now=now, stale=self._parsed_after_rewrite)
        if due:
            self._request_parse(due)

    def _parsed_after_rewrite(self, files: Sequence[str]) -> Collection[str]:
        """Of ``files``, those whose DAGs Airflow last stored after the file's mtime: it holds them
        as parsed after their change and will not parse them again on its own (``last_parsed_time``
        is stamped as a parse's DAGs are stored, just after the finish its mtime rule compares)."""
        try:
            from airflow.models.dag import DagModel
            from airflow.utils.session import create_session
            from sqlalchemy import func, select

            with create_session() as session:
                rows = session.execute(
                    select(DagModel.relative_fileloc, func.max(DagModel.last_parsed_time))
                    .where(DagModel.bundle_name == self.name, DagModel.relative_fileloc.in_(list(files)))
                    .group_by(DagModel.relative_fileloc)
                ).all()
        except Exception as exc:  # noqa: BLE001 - then every file waiting is asked for
            log.warning("dli bundle %s: could not read Airflow's parses of %s: %s", self.name, ", ".join(files), exc)
            return files
        stale = []
        for name, parsed_at in rows:
            try:
                changed = (self._path / str(name)).stat().st_mtime
            except OSError:
                continue
            if parsed_at is not None and _utc_seconds(parsed_at) > changed:
                stale.append(str(name))
        return stale

    def _request_parse(self, files: Sequence[str]) -> None:
        """Ask the DAG processor to parse ``files`` next (what ``PUT /api/v2/parseDagFile`` does):
        their new content was written while an older one was being parsed, or not noticed yet.

        Each file's mtime is set to now first: the processor re-sorts its queue newest first after
        the bundle refresh a request triggers (which would put a request behind every shard
        rewritten since), and its own rule then also sees the file as changed after its last parse.
        """
        now = time.time()
        for name in files:
            with contextlib.suppress(OSError):
                os.utime(self._path / name, (now, now))
        try:
            from airflow.models.dagbag import DagPriorityParsingRequest
            from airflow.utils.session import create_session
            from sqlalchemy import select

            with create_session() as session:
                for name in files:
                    asked = session.scalars(
                        select(DagPriorityParsingRequest).where(
                            DagPriorityParsingRequest.bundle_name == self.name,
                            DagPriorityParsingRequest.relative_fileloc == name,
                        )
                    ).first()
                    if asked is None:
                        session.add(DagPriorityParsingRequest(bundle_name=self.name, relative_fileloc=name))
        except Exception as exc:  # noqa: BLE001 - the next refresh asks again; parsing goes on meanwhile
            log.warning("dli bundle %s: could not ask Airflow to parse %s: %s", self.name, ", ".join(files), exc)
            return
        log.info("dli bundle %s: asked Airflow to parse %s (rewritten, not parsed since)", self.name, ", ".join(files))

    def _ensure_shard_of(self, dag_id: str) -> None:
        """A worker parses only the shard file of the DAG it runs: write it if this host lacks it.

        An existing file is left alone (on a host shared with the DAG processor it carries the
        processor's digest: rewriting it would make Airflow re-parse it for nothing).
        """
        path = self._path / shard_file(shard_of(dag_id, self.shards), self.shards)
        if path.exists():
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        tmp.write_text(render_shard(shard_of(dag_id, self.shards), self.shards, store_url=self.store_url))
        try:
            os.link(tmp, path)  # never replaces a file another process wrote meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
