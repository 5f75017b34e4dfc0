"""An indexed spec store: a SpecStore decorator that keeps every document in memory.

The Basecamp server wraps its store in an ``IndexedSpecStore`` and calls ``check()`` periodically
(the override check, docs/server.md). A check lists the etags of code/ and manual/, re-reads only the keys whose etag changed,
resolves code-over-manual with ``resolve_override`` and logs every transition. ``list_etags`` and
``read`` are then answered from the index, so ``dli workflow list`` does not read every spec.

Costs: a check lists the keys (one listing per source, unavoidable to see changes made behind the
server's back, e.g. by CI) and reads only what changed. Writes go through to the store and update
the index at once, so a client sees its own writes immediately; changes made by others are seen
within one check interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import attrs
import structlog

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, ServerError, WorkflowRegistrationError
from dli.domain.model.override import Resolution, Transition, diff_resolutions, resolve_override
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import SpecStore, VersionedDocument

__all__ = ["CheckReport", "IndexedSpecStore"]

_SOURCES = (SourceType.CODE, SourceType.MANUAL)


@attrs.frozen(kw_only=True)
class CheckReport:
    """What one check found."""

    listed: int
    """Keys listed (both sources)."""
    reread: int
    """Documents read because they were new or changed."""
    removed: int
    """Keys gone since the previous check."""
    transitions: tuple[Transition, ...]
    """Changes of resolution since the previous check."""


class IndexedSpecStore:
    """Serves ``list_etags`` and ``read`` from an index refreshed by ``check()``; writes go through."""

    def __init__(self, inner: SpecStore, *, logger: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self._inner = inner
        self._log = logger or structlog.get_logger("dli.spec_index")
        self._lock = threading.RLock()
        self._check_lock = threading.RLock()  # _ensure_loaded checks while holding it
        self._docs: dict[SourceType, dict[str, VersionedDocument]] | None = None
        self._resolutions: dict[str, Resolution] | None = None
        # Keys written through this instance while a check was listing: the check must not
        # overwrite them with what it saw before the write.
        self._touched: set[tuple[SourceType, str]] = set()
        self._unreadable: dict[tuple[SourceType, str], str] = {}
        # When a check last found the store failing, and how: callers that waited for that check
        # share its answer rather than each waiting once more for a hung store.
        self._failed: tuple[float, ServerError] | None = None

    @property
    def inner(self) -> SpecStore:
        """The decorated store."""
        return self._inner

    @property
    def url(self) -> str:
        return self._inner.url

    def __repr__(self) -> str:
        return f"IndexedSpecStore({self._inner.url!r})"

    # -- the periodic check --------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Bring the index up to date with the store and log every override transition.

        Raises:
            StoreUnavailableError: The store cannot be listed (the index is left as it was).
        """
        with self._check_lock:
            started = time.perf_counter()
            with self._lock:
                self._touched.clear()
                before = {s: dict(self._docs[s]) for s in _SOURCES} if self._docs is not None else None
            listings = {source: dict(self._list_for_check(source)) for source in _SOURCES}
            fresh: dict[SourceType, dict[str, VersionedDocument]] = {}
            reread = removed = 0
            for source, etags in listings.items():
                known = before[source] if before is not None else {}
                removed += len(set(known) - set(etags))
                current: dict[str, VersionedDocument] = {}
                for name, etag in etags.items():
                    cached = known.get(name)
                    if cached is not None and cached.etag == etag:
                        current[name] = cached
                        continue
                    reread += 1
                    versioned = self._read_for_check(source, name, etag)
                    if versioned is not None:
                        current[name] = versioned
                fresh[source] = current
            with self._lock:
                if self._docs is not None:
                    for source, name in self._touched:
                        if name in self._docs[source]:
                            fresh[source][name] = self._docs[source][name]
                        else:
                            fresh[source].pop(name, None)
                self._docs = fresh
                resolutions = resolve_override(code=fresh[SourceType.CODE], manual=fresh[SourceType.MANUAL])
                transitions = diff_resolutions(self._resolutions, resolutions) if self._resolutions is not None else []
                first = self._resolutions is None
                self._resolutions = resolutions
            for transition in transitions:
                self._log_transition(transition)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            listed = sum(len(e) for e in listings.values())
            if first:
                self._log.info(
                    "spec_index_loaded",
                    store=self._inner.url,
                    workflows=len(resolutions),
                    overridden=sum(1 for r in resolutions.values() if r.manual_overridden),
                    duration_ms=duration_ms,
                )
            else:
                self._log.debug(
                    "override_check", listed=listed, reread=reread, removed=removed, duration_ms=duration_ms
                )
            return CheckReport(listed=listed, reread=reread, removed=removed, transitions=tuple(transitions))

    def _list_for_check(self, source: SourceType) -> Mapping[str, str]:
        try:
            return self._inner.list_etags(source)
        except ServerError as exc:
            self._failed = (time.monotonic(), exc)
            raise

    def _read_for_check(self, source: SourceType, name: str, etag: str) -> VersionedDocument | None:
        try:
            versioned = self._inner.read(source, name)
        except ServerError as exc:
            self._failed = (time.monotonic(), exc)
            raise  # the store itself failed: abort the check, keep the index as it was
        except DLIError as exc:
            # A broken spec must not break listing for everyone: leave it out and say so once.
            if self._unreadable.get((source, name)) != etag:
                self._unreadable[(source, name)] = etag
                self._log.error(
                    "spec_unreadable", source=source.value, dataset_name=name, code=exc.code.value, error=exc.message
                )
            return None
        self._unreadable.pop((source, name), None)
        return versioned

    def _log_transition(self, transition: Transition) -> None:
        before, after = transition.before, transition.after
        self._log.info(
            "override_transition",
            dataset_name=transition.name,
            transition=transition.kind.value,
            active_before=before.active.value if before else None,
            active_after=after.active.value if after else None,
            manual_overridden=after.manual_overridden if after else False,
        )

    def _ensure_loaded(self) -> dict[SourceType, dict[str, VersionedDocument]]:
        if self._docs is None:
            asked = time.monotonic()
            with self._check_lock:  # a check under way (the periodic one, another request's) is waited for
                failed = self._failed
                if self._docs is None and failed is not None and failed[0] >= asked:
                    # The check this caller waited for found the store failing: that is the answer, not
                    # a reason to wait once more (a hung store would cost the caller two timeouts).
                    error = failed[1]
                    raise type(error)(error.message, hints=error.hints, details=error.details)
                if self._docs is None:
                    self.check()
        assert self._docs is not None
        return self._docs

    # -- SpecStore -------------------------------------------------------------------------------

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        docs = self._ensure_loaded()
        with self._lock:
            return {name: v.etag for name, v in sorted(docs[source].items())}

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        docs = self._ensure_loaded()
        with self._lock:
            cached = docs[source].get(name)
        if cached is not None:
            return cached
        # Not indexed: it may have been written behind our back since the last check.
        versioned = self._inner.read(source, name)
        if versioned is not None:
            with self._lock:
                if self._docs is not None:
                    self._docs[source].setdefault(name, versioned)
        return versioned

    def create(self, source: SourceType, document: SpecDocument) -> str:
        try:
            etag = self._inner.create(source, document)
        except DLIError:
            self._refresh_key(source, document.name)
            raise
        self._refresh_key(source, document.name)
        return etag

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        try:
            new_etag = self._inner.replace(source, document, etag=etag)
        except WorkflowRegistrationError:
            self._refresh_key(source, document.name)  # the index was stale: fix it for the retry
            raise
        self._refresh_key(source, document.name)
        return new_etag

    def delete(self, source: SourceType, name: str) -> bool:
        existed = self._inner.delete(source, name)
        self._set(source, name, None)
        return existed

    def _refresh_key(self, source: SourceType, name: str) -> None:
        # Read back what was written: the index holds exactly what the store returns.
        try:
            versioned = self._inner.read(source, name)
        except DLIError:
            versioned = None
        self._set(source, name, versioned)

    def _set(self, source: SourceType, name: str, versioned: VersionedDocument | None) -> None:
        with self._lock:
            self._touched.add((source, name))
            if self._docs is None:
                return
            if versioned is None:
                self._docs[source].pop(name, None)
            else:
                self._docs[source][name] = versioned
