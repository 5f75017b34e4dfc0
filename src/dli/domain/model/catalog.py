"""The catalog: every stored spec as a list row needs it, resolved and in list order.

``dli workflow list`` shows a page of rows sorted by name (code before manual). Building every row
of the store for each request costs what the store holds (a cron evaluation per spec); a
``Catalog`` is built once per change of the store instead, and a request only slices it:

- the entries are sorted once, so a page is a slice found by bisection (``after`` a cursor);
- a selection by source, name pattern or overridden-ness is computed once per catalog and kept;
- next fire times are computed only for the rows shown, and kept until the spec changes or the
  time passes (``FireTimes``).

The server's index keeps a catalog up to date (``dli.adapters.stores.indexed``); elsewhere the list
handler builds one from the store (``Catalog.build``), so both paths list the same rows.
"""

from __future__ import annotations

import bisect
import datetime as dt
import fnmatch
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, ErrorCode, ParameterInvalidError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import next_run
from dli.domain.model.spec import SpecDocument
from dli.domain.model.workflow import BrokenSpec

__all__ = [
    "Catalog",
    "CatalogEntry",
    "FireTimes",
    "Selection",
    "broken_spec",
    "cursor_key",
    "cursor_of",
    "misnamed",
    "stored_key",
]

_RANK = {SourceType.CODE: 0, SourceType.MANUAL: 1}
_MAX_SELECTIONS = 64  # selections kept per catalog (each is a tuple of references into it)
_CURSOR = re.compile(r"(?P<name>[^/]+)/(?P<source>code|manual)")

_T = TypeVar("_T")


def stored_key(source: SourceType, name: str) -> str:
    """The key of a document in any store, relative to the store's URL."""
    return f"{source.value}/{name}.yaml"


def broken_spec(source: SourceType, name: str, error: BaseException) -> BrokenSpec:
    """A document that could not be read, and why."""
    if isinstance(error, DLIError):
        reason, code = error.message, error.code.value
    else:  # a parser's own exception: name it rather than fail the listing
        reason, code = f"{type(error).__name__}: {error}", ErrorCode.SPEC_INVALID.value
    return BrokenSpec(dataset_name=name, source_type=source, key=stored_key(source, name), reason=reason, code=code)


def misnamed(source: SourceType, name: str, document: SpecDocument) -> BrokenSpec | None:
    """A document whose ``name:`` differs from its key: it would be listed, run and resolved under two names."""
    if document.name == name:
        return None
    key = stored_key(source, name)
    return BrokenSpec(
        dataset_name=name,
        source_type=source,
        key=key,
        reason=f"{key}: the spec is named {document.name!r}, not {name!r}",
        code=ErrorCode.SPEC_INVALID.value,
    )


def cursor_of(name: str, source: SourceType) -> str:
    """The cursor of a row: the next page starts after it."""
    return f"{name}/{source.value}"


def cursor_key(cursor: object) -> tuple[str, int]:
    """The sort key a cursor stands for (DLI-204 for one no page ever returned)."""
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is not None:
        try:
            validate_dataset_name(match["name"])
        except DLIError:
            match = None
    if match is None:
        raise ParameterInvalidError(
            f"Invalid cursor {cursor!r}",
            hints=("Pass the next_cursor of the previous page as it was returned.",),
        )
    return match["name"], _RANK[SourceType(match["source"])]


@attrs.frozen(kw_only=True)
class CatalogEntry:
    """One readable stored document and what its row needs besides the orchestrator's state."""

    document: SpecDocument
    """The document."""
    etag: str
    """Its version (next fire times are kept per version)."""
    overridden: bool = False
    """A manual document whose name also has a code document (which wins)."""

    @property
    def name(self) -> str:
        """The dataset name."""
        return self.document.name

    @property
    def source_type(self) -> SourceType:
        """Where it is stored."""
        return self.document.source_type

    @property
    def sort_key(self) -> tuple[str, int]:
        """List order: by name, code before manual."""
        return self.document.name, _RANK[self.document.source_type]


class FireTimes:
    """The next fire time of each stored document, computed when first shown and kept until it passes.

    Evaluating a cron expression is the costly part of a row; kept per ``(source, name)`` with the
    etag it was computed for, so a changed spec is recomputed and a removed one can be forgotten.
    """

    def __init__(self) -> None:
        self._times: dict[tuple[SourceType, str], tuple[str, dt.datetime | None]] = {}
        self._lock = threading.Lock()

    def next_fire(self, entry: CatalogEntry, now: dt.datetime) -> dt.datetime | None:
        """The first fire time of ``entry`` after ``now``, in its timezone (``None``: it never fires)."""
        key = (entry.source_type, entry.name)
        cached = self._times.get(key)
        if cached is not None and cached[0] == entry.etag and (cached[1] is None or cached[1] > now):
            return cached[1]
        fire = next_run(entry.document.schedule, now=now)
        with self._lock:
            self._times[key] = (entry.etag, fire)
        return fire

    def fill(self, entries: Iterable[CatalogEntry], now: dt.datetime) -> int:
        """Compute what is missing or has passed for ``entries`` (not overridden ones: they show none).

        The server's index calls it off the request path, after each check, so that a page seldom
        evaluates a cron expression itself. Returns how many were computed.
        """
        computed = 0
        for entry in entries:
            if entry.overridden:
                continue
            cached = self._times.get((entry.source_type, entry.name))
            if cached is not None and cached[0] == entry.etag and (cached[1] is None or cached[1] > now):
                continue
            self.next_fire(entry, now)
            computed += 1
        return computed

    def keep_only(self, keys: Iterable[tuple[SourceType, str]]) -> None:
        """Forget the documents that are gone."""
        wanted = set(keys)
        with self._lock:
            for key in [k for k in self._times if k not in wanted]:
                del self._times[key]

    def __len__(self) -> int:
        return len(self._times)


@attrs.frozen
class Selection:
    """Catalog entries matching the store-side filters, in list order, with their sort keys."""

    entries: tuple[CatalogEntry, ...]
    keys: tuple[tuple[str, int], ...]

    def start_after(self, cursor: str | None) -> int:
        """Index of the first entry after ``cursor`` (0 without one)."""
        if cursor is None:
            return 0
        return bisect.bisect_right(self.keys, cursor_key(cursor))


def _name_matcher(pattern: str | None) -> re.Pattern[str] | str | None:
    if not pattern:
        return None
    if any(ch in pattern for ch in "*?["):
        return re.compile(fnmatch.translate(pattern))
    return pattern


def _matches(name: str, matcher: re.Pattern[str] | str | None) -> bool:
    if matcher is None:
        return True
    if isinstance(matcher, str):
        return matcher in name
    return matcher.match(name) is not None


class Catalog:
    """The readable stored documents in list order, the unreadable ones, and their fire times.

    Immutable once built (a change of the store builds a new one, see ``replace_name``), so a
    request works on one consistent snapshot without holding a lock.
    """

    def __init__(
        self,
        entries: Sequence[CatalogEntry] = (),
        broken: Sequence[BrokenSpec] = (),
        *,
        fires: FireTimes | None = None,
    ) -> None:
        ordered = tuple(sorted(entries, key=lambda e: e.sort_key))
        self._all = Selection(ordered, tuple(e.sort_key for e in ordered))
        self.broken: tuple[BrokenSpec, ...] = tuple(
            sorted(broken, key=lambda b: (b.dataset_name, _RANK[b.source_type]))
        )
        self.fires = fires if fires is not None else FireTimes()
        self._selections: dict[tuple[SourceType | None, str | None, bool | None], Selection] = {}
        self._derived: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._deriving = threading.Lock()

    @classmethod
    def build(
        cls,
        *,
        code: Mapping[str, tuple[SpecDocument, str]],
        manual: Mapping[str, tuple[SpecDocument, str]],
        broken: Sequence[BrokenSpec] = (),
        fires: FireTimes | None = None,
    ) -> Catalog:
        """The catalog of readable documents (``name -> (document, etag)`` per source) and broken ones.

        A broken code document still overrides the manual one of its name, as it does in Airflow,
        where the DAG factory resolves keys, not contents.
        """
        broken_code = {b.dataset_name for b in broken if b.source_type is SourceType.CODE}
        entries = [CatalogEntry(document=doc, etag=etag) for doc, etag in code.values()]
        entries.extend(
            CatalogEntry(document=doc, etag=etag, overridden=name in code or name in broken_code)
            for name, (doc, etag) in manual.items()
        )
        return cls(entries, broken, fires=fires)

    @property
    def entries(self) -> tuple[CatalogEntry, ...]:
        """Every readable document, in list order."""
        return self._all.entries

    def __len__(self) -> int:
        return len(self._all.entries)

    def derived(self, key: str, build: Callable[[Catalog], _T]) -> _T:
        """What ``build`` makes of this catalog (e.g. the dependency graph), built once per catalog —
        once per version of the store — by one caller while the others wait for it."""
        found = self._derived.get(key)
        if found is None:
            with self._deriving:
                found = self._derived.get(key)
                if found is None:
                    found = self._derived[key] = build(self)
        result: _T = found
        return result

    def entries_of(self, name: str) -> tuple[CatalogEntry, ...]:
        """The entries of one name (code first)."""
        keys = self._all.keys
        low = bisect.bisect_left(keys, (name, 0))
        high = bisect.bisect_right(keys, (name, len(_RANK)))
        return self._all.entries[low:high]

    def select(
        self, *, source: SourceType | None = None, pattern: str | None = None, overridden: bool | None = None
    ) -> Selection:
        """The entries of ``source``, whose name matches ``pattern`` (substring, or glob with ``*?[``),
        overridden or not; computed once per catalog."""
        if source is None and not pattern and overridden is None:
            return self._all
        key = (source, pattern or None, overridden)
        cached = self._selections.get(key)
        if cached is not None:
            return cached
        matcher = _name_matcher(pattern)
        chosen = tuple(
            e
            for e in self._all.entries
            if (source is None or e.source_type is source)
            and (overridden is None or e.overridden is overridden)
            and _matches(e.name, matcher)
        )
        selection = Selection(chosen, tuple(e.sort_key for e in chosen))
        with self._lock:
            if len(self._selections) >= _MAX_SELECTIONS:
                self._selections.clear()
            self._selections[key] = selection
        return selection

    def broken_matching(self, *, source: SourceType | None = None, pattern: str | None = None) -> list[BrokenSpec]:
        """The broken documents of ``source`` whose name matches ``pattern``."""
        matcher = _name_matcher(pattern)
        return [
            b for b in self.broken if (source is None or b.source_type is source) and _matches(b.dataset_name, matcher)
        ]

    def replace_names(
        self,
        changes: Mapping[
            str, tuple[tuple[SpecDocument, str] | None, tuple[SpecDocument, str] | None, Sequence[BrokenSpec]]
        ],
    ) -> Catalog:
        """A new catalog in which each name of ``changes`` has exactly its ``(code, manual, broken)``.

        One copy of the entry references for the lot: a check that found many changes costs one
        pass over the catalog, not one per name.
        """
        if len(changes) == 1:
            ((name, (code, manual, broken)),) = changes.items()
            return self.replace_name(name, code=code, manual=manual, broken=broken)
        entries = [e for e in self._all.entries if e.name not in changes]
        others = [b for b in self.broken if b.dataset_name not in changes]
        for code, manual, broken in changes.values():
            code_broken = any(b.source_type is SourceType.CODE for b in broken)
            if code is not None:
                entries.append(CatalogEntry(document=code[0], etag=code[1]))
            if manual is not None:
                entries.append(
                    CatalogEntry(document=manual[0], etag=manual[1], overridden=code is not None or code_broken)
                )
            others.extend(broken)
        return Catalog(entries, others, fires=self.fires)

    def replace_name(
        self,
        name: str,
        *,
        code: tuple[SpecDocument, str] | None,
        manual: tuple[SpecDocument, str] | None,
        broken: Sequence[BrokenSpec] = (),
    ) -> Catalog:
        """A new catalog in which ``name`` has exactly these documents (a write through the server).

        Costs a copy of the entry references, not a rebuild: the other entries are kept as they are.
        """
        keys = self._all.keys
        low = bisect.bisect_left(keys, (name, 0))
        high = bisect.bisect_right(keys, (name, len(_RANK)))
        code_broken = any(b.source_type is SourceType.CODE for b in broken)
        replacement = []
        if code is not None:
            replacement.append(CatalogEntry(document=code[0], etag=code[1]))
        if manual is not None:
            replacement.append(
                CatalogEntry(document=manual[0], etag=manual[1], overridden=code is not None or code_broken)
            )
        entries = [*self._all.entries[:low], *replacement, *self._all.entries[high:]]
        others = [b for b in self.broken if b.dataset_name != name]
        return Catalog(entries, [*others, *broken], fires=self.fires)
