"""The files of dli's DAG bundle: the store's DAGs split into shard files (no Airflow import).

Airflow's DAG processor parses a file as a whole: with every DAG in one file, one changed spec
re-parses every DAG. The bundle (``bundle.py``) keeps one small Python file per non-empty shard
(``dli_shard_007_of_064.py``; a dataset's shard is ``shard_of(name, shards)``), and rewrites a file
only when a spec of its shard changed, so the processor (which re-parses a file whose mtime is newer
than its last parse) re-parses that shard only. A shard emptied by an unregister loses its file, and
Airflow retires its DAGs.

Each shard file names its specs (name -> source, ETag and, for a spec scheduled after its
upstreams, those the store holds): its parse reads them without listing the store, a spec
downloaded once (S3) is served from the disk cache, and the file's text changes exactly when one
of them does. The upstreams are there because a downstream DAG's schedule names the Assets of the
upstreams the store holds: registering an upstream rewrites the shard of its downstream datasets
too. ``dli_bundle.json`` keeps the last listing (with the upstreams read from each version), so a
refresh reads only the specs whose version is new.

A shard rewritten while Airflow parses its previous version would be lost until
``min_file_process_interval``: Airflow 3's DAG processor re-parses a file whose mtime is newer than
its last parse *finished* (``DagFileProcessorManager._sort_by_mtime``), and that stale parse finished
after the rewrite. So each parse records the digest of the content it read (``record_parse``, at its
start, in ``.dli_parsed/``), and ``ParseWatch`` names the rewritten shards no parse of the new
content has started on a little after the rewrite: the bundle asks Airflow to parse them.

Why content, not times: the digest is of the very text the parse runs, so no clock, mtime
resolution or ordering of the rewrite against the parse's start and end can fool it; Airflow parses
one file in one process at a time, so the last digest recorded is that of the parse whose DAGs
Airflow stores last. The orderings (tests/unit/entrypoints/airflow/test_parse_watch.py models them,
tests/integration/bundle/test_parse_race.py runs them on a real DAG processor):

- rewritten during its own parse: the stale parse's digest is the old one, and once it is stored
  Airflow holds the file as parsed after the rewrite (the bundle reads its DAGs'
  ``last_parsed_time``): asked after the grace;
- rewritten twice (during a parse, or before any): only the last digest is awaited;
- still being parsed (stale) when the grace runs out: not asked yet, since Airflow 3.3 claims a
  request for a file it is parsing (its row is deleted) and drops it (``_start_new_processes``
  skips it); asked once that parse is stored, again every grace until a parse of the current
  content starts;
- waiting in Airflow's queue (its mtime is newer than its last parse): left to Airflow, asked only
  after ``fallback_seconds`` (Airflow's record unreadable, a parse that stored no DAG);
- rewritten back to content a running parse started on: that parse's DAGs are the current ones;
- a parse only to run callbacks (it loads the file, stores no DAGs) records a digest too, but
  Airflow then forgets the file's finish time and parses it again in its next round on its own.

What the watch cannot see is a parse of the current content that fails after it started (killed
at ``dag_file_processor_timeout``, or its result not stored): Airflow reports that as an import
error of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

from dli.adapters.airflow.runs import shard_file, shard_of, shard_of_file
from dli.domain.model.enums import SourceType
from dli.domain.model.override import resolve_override
from dli.ports.spec_store import SpecStore

__all__ = [
    "INDEX_FILE",
    "PARSED_DIR",
    "BundleIndex",
    "IndexEntry",
    "ParseWatch",
    "SyncReport",
    "parsed_digest",
    "read_index",
    "record_parse",
    "render_shard",
    "shard_digest",
    "sync_bundle",
]

INDEX_FILE = "dli_bundle.json"
PARSED_DIR = ".dli_parsed"
"""Next to the shard files: ``<shard file>.digest``, the content the last parse of it started on."""
_FORMAT = 1
READERS = 16
"""Spec reads a refresh keeps in flight (new versions only)."""


@attrs.frozen(kw_only=True)
class IndexEntry:
    """One dataset of the index: the version of its active spec."""

    source: SourceType
    """Source of the active spec (code wins over manual)."""
    etag: str
    """ETag of that version."""
    upstreams: tuple[str, ...] | None = None
    """The datasets it depends on when it is scheduled after its upstreams, else ``None``."""


@attrs.frozen(kw_only=True)
class BundleIndex:
    """The store as the bundle last listed it."""

    store_url: str
    """The store listed."""
    shards: int
    """How many shards the datasets are spread over."""
    specs: Mapping[str, IndexEntry]
    """Every dataset of the store, by name."""

    def members(self, index: int) -> dict[str, IndexEntry]:
        """The datasets of shard ``index``."""
        return {name: entry for name, entry in self.specs.items() if shard_of(name, self.shards) == index}


@attrs.frozen(kw_only=True)
class SyncReport:
    """What one sync changed in the bundle folder."""

    written: tuple[str, ...]
    """Shard files written (new or changed)."""
    removed: tuple[str, ...]
    """Shard files removed (their shard has no dataset left)."""
    datasets: int
    """Datasets in the store."""
    index: BundleIndex
    """The listing the folder now reflects (pass it as ``last`` to the next sync)."""
    digests: Mapping[str, str] = attrs.field(factory=dict)
    """``shard_digest`` of each file written, by file name."""


def shard_digest(specs: Mapping[str, tuple[str, str, Sequence[str]]]) -> str:
    """What a shard file says (its ``specs``), as a hash: the bundle's and the parse's agree."""
    canonical = {name: [source, etag, list(upstreams)] for name, (source, etag, upstreams) in specs.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record_parse(shard_path: str, specs: Mapping[str, tuple[str, str, Sequence[str]]]) -> None:
    """At the start of a shard file's parse: record the content it parses (best effort; a failure
    only costs a re-parse the bundle asks for)."""
    path = Path(shard_path)
    folder = path.parent / PARSED_DIR
    with contextlib.suppress(OSError):
        folder.mkdir(exist_ok=True)
        _write_if_changed(folder / f"{path.name}.digest", shard_digest(specs))


def parsed_digest(folder: Path, file_name: str) -> str | None:
    """The digest the last parse of ``file_name`` in ``folder`` started on, if any was recorded."""
    try:
        return (folder / PARSED_DIR / f"{file_name}.digest").read_text().strip() or None
    except OSError:
        return None


@attrs.define
class ParseWatch:
    """The shard files rewritten that no parse of their new content has been seen to start on.

    ``due`` names those whose grace (``grace_seconds`` after the rewrite, or after the last request)
    ran out and that Airflow will not parse on its own: its last parse of them finished after the
    rewrite (``stale``), or nothing has parsed their content for ``fallback_seconds`` whatever
    Airflow says. A file stays watched until a parse of its current content starts, so a request
    lost or answered by a parse of older content is repeated.
    """

    grace_seconds: float
    """How long Airflow is left to notice a rewrite by its mtime before being asked."""
    fallback_seconds: float = 0.0
    """After this long unparsed (at least ``grace_seconds``), a file is asked for even when
    ``stale`` does not name it (Airflow's record of the parse could not be read, or it made no DAG)."""
    _pending: dict[str, tuple[str, float, float]] = attrs.field(factory=dict, init=False)

    @property
    def pending(self) -> dict[str, str]:
        """File name -> the digest awaited."""
        return {name: digest for name, (digest, _, _) in self._pending.items()}

    def rewritten(self, digests: Mapping[str, str], removed: Sequence[str], *, now: float) -> None:
        """Files just written (with their digests) and removed."""
        for name, digest in digests.items():
            self._pending[name] = (digest, now + self.grace_seconds, now + self._fallback)
        for name in removed:
            self._pending.pop(name, None)

    @property
    def _fallback(self) -> float:
        return max(self.fallback_seconds, self.grace_seconds)

    def due(
        self,
        parsed: Callable[[str], str | None],
        *,
        now: float,
        stale: Callable[[Sequence[str]], Collection[str]] | None = None,
    ) -> list[str]:
        """The files to ask a parse of now.

        ``parsed(name)``: the digest the last parse started on. ``stale(names)``: of ``names``, those
        whose last parse Airflow finished after their rewrite (its mtime rule will not parse them
        again); ``None``: all of them.
        """
        waiting = []
        for name, (digest, due_at, _) in sorted(self._pending.items()):
            if parsed(name) == digest:
                del self._pending[name]
            elif now >= due_at:
                waiting.append(name)
        if not waiting:
            return []
        lost = set(waiting if stale is None else stale(waiting))
        asked = []
        for name in waiting:
            digest, _, fallback_at = self._pending[name]
            if name in lost or now >= fallback_at:
                asked.append(name)
                self._pending[name] = (digest, now + self.grace_seconds, now + self._fallback)
        return asked


def render_shard(
    index: int, shards: int, *, store_url: str, specs: Mapping[str, tuple[str, str, tuple[str, ...]]] | None = None
) -> str:
    """The source of one shard file.

    ``specs`` (name -> source, ETag, managed upstreams of a spec scheduled after them) is what the
    file's parse builds, without listing the store; it is also what makes the file change, and
    Airflow re-parse it, when one of its specs does. ``None``: a worker's copy, which builds only the
    DAG it runs.
    """
    lines = [
        f"# dli DAG bundle: shard {index} of {shards}. Generated; do not edit.",
        "# Rewritten when one of its specs changes, so that Airflow re-parses this file only.",
        "from dli.entrypoints.airflow.dag_factory import load_shard",
    ]
    if specs is None:
        lines.append(f"load_shard(globals(), __file__, store_url={store_url!r})")
    else:
        lines.append(f"load_shard(globals(), __file__, store_url={store_url!r}, specs={{")
        lines += [f"    {name!r}: {tuple(entry)!r}," for name, entry in sorted(specs.items())]
        lines.append("})")
    return "\n".join(lines) + "\n"


def read_index(folder: Path) -> BundleIndex | None:
    """The index in ``folder``, or ``None`` when there is none (or it cannot be read)."""
    try:
        raw = json.loads((folder / INDEX_FILE).read_bytes())
        if raw.get("format") != _FORMAT:
            return None
        specs = {
            name: IndexEntry(
                source=SourceType(source), etag=etag, upstreams=None if upstreams is None else tuple(upstreams)
            )
            for name, (source, etag, upstreams) in raw["specs"].items()
        }
        return BundleIndex(store_url=raw["store_url"], shards=int(raw["shards"]), specs=specs)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _upstreams(store: SpecStore, name: str, source: SourceType) -> tuple[str, ...] | None:
    try:
        versioned = store.read(source, name)
    except Exception:  # noqa: BLE001 - a broken spec becomes a broken DAG when its shard is parsed
        return None
    if versioned is None or not versioned.document.schedule.after_upstream:
        return None
    return tuple(versioned.document.spec.depends_on)


def _read_upstreams(store: SpecStore, new: Sequence[tuple[str, SourceType, str]]) -> list[tuple[str, ...] | None]:
    """``_upstreams`` of each new version, ``READERS`` reads at a time: the refresh that follows a
    publish of 1,000 specs holds the DAG processor's loop (no file is parsed meanwhile) for as long
    as it reads, and on S3 each read is a request's latency."""
    if len(new) <= 1:
        return [_upstreams(store, name, source) for name, source, _ in new]
    with ThreadPoolExecutor(min(READERS, len(new)), thread_name_prefix="dli-bundle-read") as pool:
        return list(pool.map(lambda item: _upstreams(store, item[0], item[1]), new))


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds it: an untouched file keeps its
    mtime, so Airflow does not re-parse it."""
    data = text.encode()
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def sync_bundle(
    folder: Path, store: SpecStore, *, store_url: str, shards: int, last: BundleIndex | None = None
) -> SyncReport:
    """List ``store`` once and bring ``folder`` (index and shard files) up to date with it.

    A spec is read only when its version is new to the index (for its upstreams; on S3 this also
    downloads it into the disk cache the shard parses read). ``last``: the index of the previous
    sync in this process (``SyncReport.index``), which spares reading it from disk and, when the
    listing is the same, writing anything.

    Raises:
        DLIError: The store cannot be listed (the files stay as they were).
    """
    if not 1 <= shards <= 999:
        raise ValueError(f"shards must be between 1 and 999, not {shards}")
    folder.mkdir(parents=True, exist_ok=True)
    code, manual = dict(store.list_etags(SourceType.CODE)), dict(store.list_etags(SourceType.MANUAL))
    previous = last if last is not None else read_index(folder)
    if previous is not None and (previous.store_url != store_url or previous.shards != shards):
        previous = None
    known = previous.specs if previous is not None else {}
    specs: dict[str, IndexEntry] = {}
    unchanged = last is not None and previous is not None
    new: list[tuple[str, SourceType, str]] = []
    for name, resolution in sorted(resolve_override(code=set(code), manual=set(manual)).items()):
        source = resolution.active
        etag = (code if source is SourceType.CODE else manual)[name]
        entry = known.get(name)
        if entry is None or entry.source is not source or entry.etag != etag:
            new.append((name, source, etag))
            unchanged = False
        else:
            specs[name] = entry
    for (name, source, etag), upstreams in zip(new, _read_upstreams(store, new), strict=True):
        specs[name] = IndexEntry(source=source, etag=etag, upstreams=upstreams)
    specs = dict(sorted(specs.items()))
    if unchanged and previous is not None and len(specs) == len(known):
        present = {path.name for path in folder.glob("dli_shard_*.py")}
        if present == {shard_file(shard_of(name, shards), shards) for name in specs}:
            return SyncReport(written=(), removed=(), datasets=len(specs), index=previous)
    index = {
        "format": _FORMAT,
        "store_url": store_url,
        "shards": shards,
        "specs": {
            name: [e.source.value, e.etag, None if e.upstreams is None else list(e.upstreams)]
            for name, e in specs.items()
        },
    }
    _write_if_changed(folder / INDEX_FILE, json.dumps(index, separators=(",", ":"), sort_keys=True))

    by_shard: dict[int, list[str]] = defaultdict(list)
    for name in specs:
        by_shard[shard_of(name, shards)].append(name)
    written = []
    digests = {}
    for number, names in sorted(by_shard.items()):
        members = {}
        for name in names:
            entry = specs[name]
            managed = tuple(sorted(u for u in entry.upstreams or () if u in specs))
            members[name] = (entry.source.value, entry.etag, managed)
        text = render_shard(number, shards, store_url=store_url, specs=members)
        if _write_if_changed(folder / shard_file(number, shards), text):
            written.append(shard_file(number, shards))
            digests[shard_file(number, shards)] = shard_digest(members)
    removed = []
    for path in folder.glob("dli_shard_*.py"):
        parsed = shard_of_file(path.name)
        if parsed is None or parsed[1] != shards or parsed[0] not in by_shard:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return SyncReport(
        written=tuple(written),
        removed=tuple(sorted(removed)),
        datasets=len(specs),
        index=BundleIndex(store_url=store_url, shards=shards, specs=specs),
        digests=digests,
    )
