"""What the DAG factory reads: the resolved spec documents of a store (no Airflow import).

``file://`` stores are read directly. ``s3://`` stores go through a local cache refreshed by ETag:
each parse lists the two prefixes (two LIST calls) and downloads only the documents whose ETag
changed, so a parse of 1,000 unchanged specs makes no per-spec network call.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import attrs

from dli.adapters.codecs.specs import document_from_bytes, document_to_bytes
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.override import resolve_override
from dli.domain.model.spec import SpecDocument

__all__ = ["LoadedSpec", "load_specs"]

_SUFFIX = ".yaml"


@attrs.frozen(kw_only=True)
class LoadedSpec:
    """The active spec of one dataset, or why it could not be read."""

    name: str
    """Dataset name (the dag_id)."""
    source: SourceType
    """Source of the active spec (code wins over manual)."""
    document: SpecDocument | None = None
    """The parsed document; ``None`` when ``error`` is set."""
    error: str | None = None
    """Why the document could not be read or parsed."""
    where: str = ""
    """Where it was read from (for messages)."""


def _valid(name: str) -> bool:
    try:
        validate_dataset_name(name)
    except DLIError:
        return False
    return True


def _parse(raw: bytes, *, name: str, source: SourceType, where: str) -> LoadedSpec:
    try:
        document = document_from_bytes(raw, where=where, source=source)
    except DLIError as exc:
        return LoadedSpec(name=name, source=source, error=exc.message, where=where)
    except Exception as exc:  # noqa: BLE001 - one broken document must not break the others
        return LoadedSpec(name=name, source=source, error=f"{type(exc).__name__}: {exc}", where=where)
    if document.spec.name != name:
        return LoadedSpec(
            name=name, source=source, where=where,
            error=f"{where}: the spec is named {document.spec.name!r}, not {name!r}",
        )
    return LoadedSpec(name=name, source=source, document=document, where=where)


# -- file:// ---------------------------------------------------------------------------------------


def _list_dir(folder: Path) -> set[str]:
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return set()
    return {e[: -len(_SUFFIX)] for e in entries if e.endswith(_SUFFIX) and not e.startswith(".") and _valid(e[: -len(_SUFFIX)])}


def _load_file_store(root: Path, only: str | None) -> list[LoadedSpec]:
    if only is not None:
        code = {only} if (root / "code" / f"{only}{_SUFFIX}").is_file() else set()
        manual = {only} if not code and (root / "manual" / f"{only}{_SUFFIX}").is_file() else set()
    else:
        code, manual = _list_dir(root / "code"), _list_dir(root / "manual")
    out = []
    for name, resolution in resolve_override(code=code, manual=manual).items():
        path = root / resolution.active.value / f"{name}{_SUFFIX}"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # deleted between listing and reading
            continue
        out.append(_parse(raw, name=name, source=resolution.active, where=str(path)))
    return out


# -- s3:// -----------------------------------------------------------------------------------------


def default_cache_dir(store_url: str) -> Path:
    """``$DLI_CACHE_DIR`` or ``$AIRFLOW_HOME/dli_cache`` (else the temp dir), one folder per store."""
    base = os.environ.get("DLI_CACHE_DIR")
    if not base:
        home = os.environ.get("AIRFLOW_HOME")
        base = str(Path(home) / "dli_cache") if home else str(Path(tempfile.gettempdir()) / f"dli_cache_{os.getuid()}")
    return Path(base) / hashlib.sha256(store_url.encode()).hexdigest()[:16]


def _write_atomic(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cached(folder: Path) -> Iterator[tuple[str, str, Path]]:
    """``(name, etag, path)`` of the cache files ``<name>.<etag>.yaml`` in ``folder``."""
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.endswith(_SUFFIX) and not entry.startswith("."):
            name, _, etag = entry[: -len(_SUFFIX)].rpartition(".")
            if name:
                yield name, etag, folder / entry


def _load_s3_store(url: str, only: str | None, cache_dir: Path) -> list[LoadedSpec]:
    from dli.adapters.stores.s3 import S3SpecStore

    store = S3SpecStore.from_url(url, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    try:
        etags: dict[SourceType, Mapping[str, str]] = {s: store.list_etags(s) for s in SourceType}
    except DLIError:
        # S3 is unreachable: keep serving the last copies rather than failing the whole DAG file
        # (which would take every DAG of the store out of Airflow). No copy yet: fail loudly.
        cached = {s: {name: etag for name, etag, _ in _cached(cache_dir / s.value)} for s in SourceType}
        if not any(cached.values()):
            raise
        etags = cached
    code, manual = set(etags[SourceType.CODE]), set(etags[SourceType.MANUAL])
    if only is not None:
        code &= {only}
        manual &= {only}
    out = []
    for name, resolution in resolve_override(code=code, manual=manual).items():
        source = resolution.active
        etag = "".join(c for c in etags[source][name] if c.isalnum())
        path = cache_dir / source.value / f"{name}.{etag}{_SUFFIX}"
        where = f"{store.url}/{source.value}/{name}{_SUFFIX}"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            try:
                versioned = store.read(source, name)
            except DLIError as exc:
                out.append(LoadedSpec(name=name, source=source, error=exc.message, where=where))
                continue
            if versioned is None:
                continue
            raw = document_to_bytes(versioned.document)
            _write_atomic(path, raw)
        out.append(_parse(raw, name=name, source=source, where=where))
    if only is None:
        # Drop cache files of documents that changed or vanished.
        for source in SourceType:
            for name, etag, path in _cached(cache_dir / source.value):
                current = "".join(c for c in etags[source].get(name, "") if c.isalnum())
                if etag != current:
                    with contextlib.suppress(OSError):
                        path.unlink()
    return out


def load_specs(store_url: str, *, only: str | None = None, cache_dir: Path | None = None) -> list[LoadedSpec]:
    """The active spec of every dataset in the store (only ``only`` when given), sorted by name.

    Raises:
        DLIError: The store URL is invalid or the store cannot be listed.
    """
    parts = urlsplit(store_url)
    if parts.scheme == "file":
        from dli.adapters.stores.filesystem import FilesystemSpecStore

        FilesystemSpecStore.from_url(store_url)  # validates the URL the same way the server does
        return _load_file_store(Path(unquote(parts.path)), only)
    if parts.scheme == "s3":
        return _load_s3_store(store_url, only, cache_dir or default_cache_dir(store_url))
    from dli.entrypoints.bootstrap import build_store

    store = build_store(store_url)  # memory:// (tests) or a DLI-001 for anything else
    code, manual = set(store.list_etags(SourceType.CODE)), set(store.list_etags(SourceType.MANUAL))
    out = []
    for name, resolution in resolve_override(code=code, manual=manual).items():
        if only is not None and name != only:
            continue
        versioned = store.read(resolution.active, name)
        if versioned is not None:
            out.append(LoadedSpec(name=name, source=resolution.active, document=versioned.document))
    return out
