"""The change feed of the S3 store (``ChangeFeed``): ``<prefix>/.dli/changes/``.

Each write that persisted is recorded by an object whose key says when, and what:

- ``<stamp>-<8 hex>-<source>-<name>``, empty: one write (a single ``create``, ``replace``, ``delete``);
- ``<stamp>-<8 hex>-batch-<count>``, whose body lists ``count`` writes (JSON
  ``{"changes": [[source, name], ...]}``): the writes of one bulk call (``run_all``, what publish
  uses), recorded together, up to ``BATCH_SIZE`` a record, so that 1,000 creates cost 1,000 PUTs and
  a few records rather than 2,000 PUTs.

A record is written after its writes persisted and names only those (a write that failed, or was
refused, is not in it). A reader lists the records of its window (one LIST) and reads each batch
record once (they never change: this store keeps what it read). Readers of an earlier dli ignore the
batch records and see those writes at their next full listing.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from dli.adapters.stores._s3_calls import S3Calls, valid_name
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError
from dli.ports.change_feed import SpecChange

BATCH_SIZE = 250
"""Writes one batch record names at most: a bulk call records its writes every ``BATCH_SIZE`` (and
at its end), so that a publisher that dies half-way has recorded most of what it wrote."""
_SOURCE_VALUES = frozenset(s.value for s in SourceType)
_BATCH = "batch"


class _PendingChanges:
    """The writes of one bulk call not recorded yet (its threads add to it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changes: list[tuple[SourceType, str]] = []

    def add(self, source: SourceType, name: str) -> list[tuple[SourceType, str]]:
        """Add a write; the writes to record now, when ``BATCH_SIZE`` are pending."""
        with self.lock:
            self.changes.append((source, name))
            if len(self.changes) < BATCH_SIZE:
                return []
            due, self.changes = self.changes, []
            return due

    def take(self) -> list[tuple[SourceType, str]]:
        with self.lock:
            due, self.changes = self.changes, []
            return due


class S3ChangeFeed(S3Calls):
    """``recent_changes`` and the recording of writes of ``S3SpecStore``."""

    # The bulk call the current thread works for (its writes are recorded together).
    _pending: threading.local
    # Batch records read, by key (they never change), as of the last listing.
    _batches: dict[str, tuple[SpecChange, ...]]

    def recent_changes(self, *, seconds: float) -> Sequence[SpecChange]:
        """The writes recorded under ``<prefix>/.dli/changes/`` in about the last ``seconds``.

        One listing that starts after the window's first key, plus one GET per batch record not read
        before: on S3 it costs the changes, not the store.
        """
        folder = self._changes_folder()
        since = f"{folder}{_stamp(time.time() - max(seconds, 0.0))}"

        def run() -> list[str]:
            keys: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder, StartAfter=since):
                keys.extend(item["Key"][len(folder) :] for item in page.get("Contents", ()))
            return keys

        changes: list[SpecChange] = []
        batches: dict[str, tuple[SpecChange, ...]] = {}
        for marker in self._call("list", run):
            if _is_batch(marker):
                batch = self._batches.get(marker)
                if batch is None:
                    batch = self._read_batch(folder, marker)
                batches[marker] = batch
                changes.extend(batch)
            else:
                change = _change_of(marker)
                if change is not None:
                    changes.append(change)
        self._batches = batches  # what the window still covers: the cache stays as small as the window
        return changes

    def _read_batch(self, folder: str, marker: str) -> tuple[SpecChange, ...]:
        """The writes a batch record lists, each with a marker of its own (``<record>/<index>``)."""
        fetched = self._get(f"{folder}{marker}")
        if fetched is None:
            return ()  # expired between the listing and now: older than any reader's window
        try:
            listed = json.loads(fetched[0])["changes"]
            pairs = [(str(source), str(name)) for source, name in listed]
        except (ValueError, TypeError, KeyError):
            pairs = []
        changes = tuple(
            SpecChange(marker=f"{marker}/{index:05d}", source=SourceType(source), name=name)
            for index, (source, name) in enumerate(pairs)
            if source in _SOURCE_VALUES and valid_name(name)
        )
        if len(changes) != len(pairs) or not pairs:
            structlog.get_logger("dli.s3_store").warning("spec_change_batch_unreadable", store=self.url, record=marker)
        return changes

    @contextmanager
    def _recording_together(self, pending: _PendingChanges) -> Iterator[None]:
        """The writes this thread makes in the block are recorded in ``pending``'s batch records."""
        previous = getattr(self._pending, "changes", None)
        self._pending.changes = pending
        try:
            yield
        finally:
            self._pending.changes = previous

    def _record(self, source: SourceType, name: str) -> None:
        """Record a write that persisted (or add it to the bulk call's next batch record)."""
        pending: _PendingChanges | None = getattr(self._pending, "changes", None)
        if pending is not None:
            due = pending.add(source, name)
            if due:
                self._record_batch(due)
            return
        key = f"{self._changes_folder()}{_stamp(time.time())}-{uuid.uuid4().hex[:8]}-{source.value}-{name}"
        self._put_record(key, b"", [(source, name)])

    def _record_batch(self, changes: list[tuple[SourceType, str]]) -> None:
        """One record of ``changes`` (writes that persisted); a single write gets a record of its own."""
        if not changes:
            return
        if len(changes) == 1:
            key = f"{self._changes_folder()}{_stamp(time.time())}-{uuid.uuid4().hex[:8]}-{changes[0][0].value}-{changes[0][1]}"
            self._put_record(key, b"", changes)
            return
        body = json.dumps({"changes": [[s.value, n] for s, n in changes]}, separators=(",", ":")).encode()
        key = f"{self._changes_folder()}{_stamp(time.time())}-{uuid.uuid4().hex[:8]}-{_BATCH}-{len(changes)}"
        self._put_record(key, body, changes)

    def _put_record(self, key: str, body: bytes, changes: list[tuple[SourceType, str]]) -> None:
        """Write a record; a failure is logged, never reported as the writes' failure (they persisted).

        Readers that miss the record see the writes at their next full listing. One attempt, as a
        write (a repeat could only record the writes twice, which readers tolerate, but would delay
        the caller for a record that is only a shortcut).
        """
        try:
            self._call("write", lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body))
        except (ClientError, BotoCoreError, DLIError) as exc:
            structlog.get_logger("dli.s3_store").warning(
                "spec_change_not_recorded",
                store=self.url,
                changes=len(changes),
                datasets=[f"{s.value}/{n}" for s, n in changes[:20]],
                error=type(exc).__name__,
            )


def _stamp(seconds: float) -> str:
    """A fixed-width UTC time that sorts as it reads (change keys start with it)."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def _is_batch(marker: str) -> bool:
    parts = marker.split("-", 3)
    return len(parts) == 4 and parts[2] == _BATCH and parts[3].isdigit()


def _change_of(marker: str) -> SpecChange | None:
    """The change a key under ``.dli/changes/`` records (``<stamp>-<random>-<source>-<name>``), if well formed."""
    parts = marker.split("-", 3)
    if len(parts) != 4 or parts[2] not in _SOURCE_VALUES or not valid_name(parts[3]):
        return None
    return SpecChange(marker=marker, source=SourceType(parts[2]), name=parts[3])
