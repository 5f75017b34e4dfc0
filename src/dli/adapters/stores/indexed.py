"""An indexed spec store: a SpecStore decorator that keeps every document, and the listing catalog, in memory.

The Basecamp server wraps its store in an ``IndexedSpecStore`` and calls ``check()`` periodically
(the override check, docs/server.md). A check finds the keys that changed, re-reads only those,
resolves code-over-manual with ``resolve_override`` and logs every transition. ``list_etags`` and
``read`` are then answered from the index, and ``catalog()`` gives ``list`` its rows in list order
(``dli.domain.model.catalog``), so a listing costs its page, not the store.

Costs: over a store that records its writes (``ChangeFeed``: S3, where every dli writer, CI's
publish included, leaves a record), a check reads the records since the previous check and then
only the keys they name, splicing those names into the catalog: it costs the changes, not the
store. It lists every key (one listing per source) the first time, at least every
``full_check_interval_seconds``, and over stores without a feed, to see writes made around dli;
such a check reads only what changed, and rebuilds the catalog only when something did. Writes go through to the store and update the index and the catalog at once (a splice of
the one name, not a rebuild), so a client sees its own writes immediately; changes made by others
are seen within one check interval.

A document that cannot be read (invalid YAML or fields, a cron that never fires, a ``name:`` that
differs from its key) is kept as *broken*: listed with its reason by ``catalog().broken`` (and so by
``list`` and ``/health``), answered by ``read`` with that reason (DLI-203), logged once per version,
and never hides the other documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import attrs
import structlog

from dli.adapters.stores._feed import FeedFollower, FeedRead
from dli.adapters.stores._shared import StoreDecorator
from dli.domain.model.catalog import Catalog, FireTimes, broken_spec, misnamed
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, ServerError, SpecInvalidError, WorkflowRegistrationError
from dli.domain.model.override import Resolution, Transition, diff_resolutions, resolve_override
from dli.domain.model.spec import SpecDocument
from dli.domain.model.workflow import BrokenSpec
from dli.ports.change_feed import ChangeFeed
from dli.ports.spec_store import BulkSpecStore, ListedReads, NotStarted, SpecStore, VersionedDocument

__all__ = ["CheckReport", "IndexedSpecStore"]

_T = TypeVar("_T")

_SOURCES = (SourceType.CODE, SourceType.MANUAL)
_READERS = 8  # keys a check reads at once (boto3 keeps 10 connections per client)
_PARALLEL_FROM = 16  # fewer keys are read one after another: threads would cost more than they save
_LISTED_FROM = 64  # from this many keys, a store with ListedReads reads them (S3: its snapshot, then GETs)


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
    broken: int = 0
    """Documents that cannot be read."""
    full: bool = True
    """Whether the check listed every key (else it read the store's change feed)."""


@attrs.frozen
class _Broken:
    etag: str
    spec: BrokenSpec


def _take(mine: dict[str, _T], theirs: Mapping[str, _T], name: str) -> None:
    """Make ``mine[name]`` what ``theirs[name]`` is, or absent."""
    if name in theirs:
        mine[name] = theirs[name]
    else:
        mine.pop(name, None)


@attrs.define
class _Index:
    """Everything known about the store's keys: readable documents and broken ones, per source."""

    docs: dict[SourceType, dict[str, VersionedDocument]]
    broken: dict[SourceType, dict[str, _Broken]]

    @classmethod
    def empty(cls) -> _Index:
        return cls(docs={s: {} for s in _SOURCES}, broken={s: {} for s in _SOURCES})

    def copy(self) -> _Index:
        return _Index(
            docs={s: dict(d) for s, d in self.docs.items()}, broken={s: dict(b) for s, b in self.broken.items()}
        )

    def keys(self, source: SourceType) -> set[str]:
        return set(self.docs[source]) | set(self.broken[source])

    def take(self, other: _Index, source: SourceType, name: str) -> None:
        """Make ``name`` under ``source`` what it is in ``other``."""
        _take(self.docs[source], other.docs[source], name)
        _take(self.broken[source], other.broken[source], name)


class IndexedSpecStore(StoreDecorator):
    """Serves ``list_etags``, ``read`` and ``catalog`` from an index refreshed by ``check()``; writes go through."""

    def __init__(
        self,
        inner: SpecStore,
        *,
        logger: structlog.typing.FilteringBoundLogger | None = None,
        now: Callable[[], dt.datetime] | None = None,
        full_check_interval_seconds: float = 300.0,
        clock_skew_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``now`` tells the time next fire times are computed from (the server passes its clock).

        Over a store that records its writes (a ``ChangeFeed``: S3), a check reads the recent
        changes rather than listing every key, and lists every key at least every
        ``full_check_interval_seconds`` (writes made around dli are seen then).
        ``clock_skew_seconds``: how far the writers' clocks may be behind this host's.
        """
        self._inner = inner
        self._feed = (
            FeedFollower(
                inner,
                full_interval_seconds=full_check_interval_seconds,
                clock_skew_seconds=clock_skew_seconds,
                monotonic=monotonic,
            )
            if isinstance(inner, ChangeFeed)
            else None
        )
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._log = logger or structlog.get_logger("dli.spec_index")
        self._lock = threading.RLock()
        self._check_lock = threading.Lock()
        self._index: _Index | None = None
        self._catalog: Catalog | None = None
        self._fires = FireTimes()
        self._resolutions: dict[str, Resolution] | None = None
        # Keys written through this instance while a check was listing: the check must not
        # overwrite them with what it saw before the write.
        self._touched: set[tuple[SourceType, str]] = set()
        self._logged_broken: dict[tuple[SourceType, str], str] = {}
        self._version = 0
        # When a check last found the store failing, and how: callers that waited for that check
        # share its answer rather than each waiting once more for a hung store.
        self._failed: tuple[float, ServerError] | None = None

    def __repr__(self) -> str:
        return f"IndexedSpecStore({self._inner.url!r})"

    @property
    def version(self) -> int:
        """Changes whenever the catalog does (a check found changes, or a write went through)."""
        return self._version

    # -- the periodic check --------------------------------------------------------------------

    def check(self, *, full: bool = False) -> CheckReport:
        """Bring the index up to date with the store and log every override transition.

        ``full``: list every key even where the store's change feed would do.

        Then compute the next fire times that are missing or have passed, once the new index is
        already answering requests (at 10,000 specs the first load computes them all).

        Raises:
            StoreUnavailableError: The store cannot be listed (the index is left as it was).
        """
        report = self._check(full=full)
        with self._lock:
            catalog = self._catalog
        if catalog is not None:
            started = time.perf_counter()
            # Here rather than in the requests that show them: a cron evaluation costs about as
            # much as the rest of a row.
            computed = self._fires.fill(catalog.entries, self._now())
            if computed:
                self._log.debug(
                    "fire_times_computed", count=computed, duration_ms=round((time.perf_counter() - started) * 1000, 1)
                )
        return report

    def _check(self, *, full: bool = True) -> CheckReport:
        with self._check_lock:
            quick = not full and self._feed is not None and self._index is not None and not self._feed.listing_due()
            return self._quick_check() if quick else self._full_check()

    def _read_feed(self) -> FeedRead | None:
        if self._feed is None:
            return None
        try:
            return self._feed.read()
        except ServerError as exc:
            self._failed = (time.monotonic(), exc)
            raise

    def _quick_check(self) -> CheckReport:
        """Read the keys the change feed names since the previous check."""
        assert self._feed is not None
        started = time.perf_counter()
        read = self._read_feed()
        assert read is not None
        changes, wanted = read.changes, read.keys
        with self._lock:
            self._touched.clear()
        fresh = _Index.empty()
        self._read_for_check(fresh, [(source, name, "") for source, name in wanted])
        names = sorted({name for _, name in wanted})
        with self._lock:
            assert self._index is not None and self._resolutions is not None
            index = self._index
            removed = 0
            for source, name in wanted:
                if (source, name) not in self._touched:  # a write through this instance is newer
                    had = name in index.docs[source] or name in index.broken[source]
                    index.take(fresh, source, name)
                    removed += had and name not in index.docs[source] and name not in index.broken[source]
            self._splice(*names)
            before = {n: self._resolutions[n] for n in names if n in self._resolutions}
            after = resolve_override(
                code=[n for n in names if n in index.docs[SourceType.CODE] or n in index.broken[SourceType.CODE]],
                manual=[n for n in names if n in index.docs[SourceType.MANUAL] or n in index.broken[SourceType.MANUAL]],
            )
            for name in names:
                self._resolutions.pop(name, None)
            self._resolutions.update(after)
            transitions = diff_resolutions(before, after)
            broken = sum(len(b) for b in index.broken.values())
        self._feed.applied(read)
        if fresh.broken[SourceType.CODE] or fresh.broken[SourceType.MANUAL]:
            # A read that fails tells no etag: the next check lists the store for it, so that a
            # conditional write can replace the broken document (register --force).
            self._feed.list_next_time()
        for transition in transitions:
            self._log_transition(transition)
        self._log.debug(
            "override_check",
            full=False,
            changes=len(changes),
            reread=len(wanted),
            broken=broken,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return CheckReport(
            listed=len(changes),
            reread=len(wanted),
            removed=removed,
            transitions=tuple(transitions),
            broken=broken,
            full=False,
        )

    def _full_check(self) -> CheckReport:
        started = time.perf_counter()
        # Read before listing: a change is recorded after its write persisted, so the listing
        # below sees every write recorded here, and the next feed read can skip them.
        read = self._read_feed()
        with self._lock:
            self._touched.clear()
            before = self._index.copy() if self._index is not None else _Index.empty()
            first = self._index is None
        listings = {source: dict(self._list_for_check(source)) for source in _SOURCES}
        fresh = _Index.empty()
        removed = 0
        changed_keys: list[tuple[SourceType, str, str]] = []
        for source, etags in listings.items():
            removed += len(before.keys(source) - set(etags))
            for name, etag in etags.items():
                cached = before.docs[source].get(name)
                if cached is not None and cached.etag == etag:
                    fresh.docs[source][name] = cached
                    continue
                known_broken = before.broken[source].get(name)
                if known_broken is not None and known_broken.etag == etag:
                    fresh.broken[source][name] = known_broken
                    continue
                changed_keys.append((source, name, etag))
        reread = len(changed_keys)
        self._read_for_check(fresh, changed_keys)
        # The catalog and the resolutions are built here, without the lock: requests read the
        # index as it was meanwhile, and the new one is swapped in whole below. At 10,000 specs
        # building them costs tens of milliseconds that no request should wait for.
        with self._lock:
            rebuild = first or reread > 0 or removed > 0 or bool(self._touched) or self._catalog is None
        catalog = self._build_catalog(fresh) if rebuild else None
        # Always: writes through this instance changed the index, not the resolutions, whose
        # transitions the check logs.
        resolutions = resolve_override(code=fresh.keys(SourceType.CODE), manual=fresh.keys(SourceType.MANUAL))
        with self._lock:
            touched = sorted({name for _, name in self._touched})
            if self._index is not None:
                # Writes made through this instance while the check read the store are newer.
                for source, name in self._touched:
                    fresh.take(self._index, source, name)
            self._index = fresh
            if catalog is not None:
                self._catalog = catalog
                self._version += 1
            if touched:
                self._splice(*touched)
                code = [n for n in touched if n in fresh.docs[SourceType.CODE] or n in fresh.broken[SourceType.CODE]]
                manual = [
                    n for n in touched if n in fresh.docs[SourceType.MANUAL] or n in fresh.broken[SourceType.MANUAL]
                ]
                for name in touched:
                    resolutions.pop(name, None)
                resolutions.update(resolve_override(code=code, manual=manual))
            transitions = diff_resolutions(self._resolutions, resolutions) if self._resolutions is not None else []
            self._resolutions = resolutions
            broken = sum(len(b) for b in fresh.broken.values())
        if read is not None:
            assert self._feed is not None
            self._feed.applied(read, listed=True)
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
                broken=broken,
                duration_ms=duration_ms,
            )
        else:
            self._log.debug(
                "override_check",
                full=True,
                listed=listed,
                reread=reread,
                removed=removed,
                broken=broken,
                duration_ms=duration_ms,
            )
        return CheckReport(listed=listed, reread=reread, removed=removed, transitions=tuple(transitions), broken=broken)

    def _list_for_check(self, source: SourceType) -> Mapping[str, str]:
        try:
            return self._inner.list_etags(source)
        except ServerError as exc:
            self._failed = (time.monotonic(), exc)
            raise

    def _read_for_check(self, index: _Index, keys: Sequence[tuple[SourceType, str, str]]) -> None:
        """Read new or changed ``(source, name, etag)`` keys into ``index``: documents, broken ones,
        or nothing (deleted since).

        Many keys are read a few at a time: a replica starting on 10,000 S3 specs waits for one
        GET after another otherwise.
        """

        def fetch(key: tuple[SourceType, str, str]) -> VersionedDocument | DLIError | None:
            try:
                return self._inner.read(key[0], key[1])
            except ServerError:
                raise
            except DLIError as exc:
                return exc

        try:
            if len(keys) < _PARALLEL_FROM:
                fetched = [fetch(key) for key in keys]
            elif len(keys) >= _LISTED_FROM and isinstance(self._inner, ListedReads):
                # A first load: one snapshot of the documents, checked against the listing, then the rest.
                fetched = list(self._inner.read_listed(keys))
            elif isinstance(self._inner, BulkSpecStore):
                # The store's own bound (S3: 32 GETs in flight, a connection each).
                outcomes = self._inner.run_all([functools.partial(fetch, key) for key in keys])
                failed = next((o for o in outcomes if isinstance(o, ServerError)), None)
                if failed is not None:
                    raise failed
                # NOT_STARTED follows only a failure of the store, raised above.
                fetched = [o for o in outcomes if not isinstance(o, NotStarted)]
            else:
                with ThreadPoolExecutor(_READERS, thread_name_prefix="dli-index-read") as pool:
                    fetched = list(pool.map(fetch, keys))
        except ServerError as exc:
            self._failed = (time.monotonic(), exc)
            raise  # the store itself failed: abort the check, keep the index as it was
        for (source, name, etag), outcome in zip(keys, fetched, strict=True):
            self._index_read(index, source, name, etag, outcome)

    def _index_read(
        self, index: _Index, source: SourceType, name: str, etag: str, versioned: VersionedDocument | DLIError | None
    ) -> None:
        if isinstance(versioned, DLIError):
            self._mark_broken(index, source, name, etag, broken_spec(source, name, versioned))
            return
        if versioned is None:  # deleted between listing and reading
            return
        wrong = misnamed(source, name, versioned.document)
        if wrong is not None:
            self._mark_broken(index, source, name, versioned.etag, wrong)
            return
        self._logged_broken.pop((source, name), None)
        index.docs[source][name] = versioned

    def _mark_broken(self, index: _Index, source: SourceType, name: str, etag: str, spec: BrokenSpec) -> None:
        index.broken[source][name] = _Broken(etag=etag, spec=spec)
        # A broken spec must not break listing for everyone: keep it aside and say so once per version.
        if self._logged_broken.get((source, name)) != etag:
            self._logged_broken[(source, name)] = etag
            self._log.error(
                "spec_unreadable",
                source=source.value,
                dataset_name=name,
                key=spec.key,
                code=spec.code,
                error=spec.reason,
            )

    def _build_catalog(self, index: _Index) -> Catalog:
        catalog = Catalog.build(
            code={n: (v.document, v.etag) for n, v in index.docs[SourceType.CODE].items()},
            manual={n: (v.document, v.etag) for n, v in index.docs[SourceType.MANUAL].items()},
            broken=[b.spec for by_name in index.broken.values() for b in by_name.values()],
            fires=self._fires,
        )
        self._fires.keep_only((s, n) for s in _SOURCES for n in index.docs[s])
        return catalog

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

    def _ensure_loaded(self) -> _Index:
        if self._index is None:
            asked = time.monotonic()
            with self._check_lock:  # a check under way (the periodic one, another request's) is waited for
                failed = self._failed
                if self._index is None and failed is not None and failed[0] >= asked:
                    # The check this caller waited for found the store failing: that is the answer, not
                    # a reason to wait once more (a hung store would cost the caller two timeouts).
                    error = failed[1]
                    raise type(error)(error.message, hints=error.hints, details=error.details)
            if self._index is None:
                self._check()
        assert self._index is not None
        return self._index

    # -- the catalog (SpecCatalog) ---------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The listing catalog, as of the last check and every write made through this instance."""
        self._ensure_loaded()
        with self._lock:
            assert self._catalog is not None
            return self._catalog

    def broken(self) -> tuple[BrokenSpec, ...]:
        """The documents that cannot be read, as of the last check (none before the first)."""
        with self._lock:
            return self._catalog.broken if self._catalog is not None else ()

    # -- SpecStore -------------------------------------------------------------------------------

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        """Every key of ``source``, readable or broken (as the store itself would list them)."""
        index = self._ensure_loaded()
        with self._lock:
            etags = {name: v.etag for name, v in index.docs[source].items()}
            etags.update({name: b.etag for name, b in index.broken[source].items()})
        return dict(sorted(etags.items()))

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        index = self._ensure_loaded()
        with self._lock:
            cached = index.docs[source].get(name)
            broken = index.broken[source].get(name)
        if cached is not None:
            return cached
        if broken is not None:
            fix = (
                f"Replace it with 'dli workflow register {name} --force', or remove it with 'dli workflow unregister {name}'."
                if source is SourceType.MANUAL
                else "Fix the spec in Git and publish the project to replace it."
            )
            raise SpecInvalidError(
                broken.spec.reason,
                hints=(fix,),
                details={"dataset_name": name, "key": broken.spec.key},
            )
        # Not indexed: it may have been written behind our back since the last check.
        versioned = self._inner.read(source, name)
        if versioned is None:
            return None
        wrong = misnamed(source, name, versioned.document)
        if wrong is not None:
            raise SpecInvalidError(wrong.reason, details={"dataset_name": name, "key": wrong.key})
        with self._lock:
            if self._index is not None and name not in self._index.docs[source]:
                self._index.docs[source][name] = versioned
                self._splice(name)
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
            if self._index is None:
                return
            self._index.broken[source].pop(name, None)
            if versioned is None:
                self._index.docs[source].pop(name, None)
            else:
                self._index.docs[source][name] = versioned
            self._splice(name)

    def _splice(self, *names: str) -> None:
        """Update the catalog for these names, in one new catalog (the lock is held)."""
        assert self._index is not None
        if self._catalog is None or not names:
            return
        index = self._index
        changes = {}
        for name in names:
            code = index.docs[SourceType.CODE].get(name)
            manual = index.docs[SourceType.MANUAL].get(name)
            changes[name] = (
                (code.document, code.etag) if code is not None else None,
                (manual.document, manual.etag) if manual is not None else None,
                [b.spec for s in _SOURCES if (b := index.broken[s].get(name)) is not None],
            )
        self._catalog = self._catalog.replace_names(changes)
        self._version += 1
        now = self._now()
        for name in names:
            self._fires.fill(self._catalog.entries_of(name), now)
