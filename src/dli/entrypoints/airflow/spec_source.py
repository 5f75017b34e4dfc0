"""What the DAG factory reads: the resolved spec documents of a store (no Airflow import).

The store comes from the composition root's registry of URL schemes (``build_factory_store``):
``file://`` is read directly; ``s3://`` goes through a disk cache refreshed by ETag, so a parse of
1,000 unchanged specs makes two LIST calls and no per-spec download, and the last copies keep
serving while S3 is unreachable. One unreadable document is reported for its dataset only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError
from dli.domain.model.override import resolve_override
from dli.domain.model.spec import SpecDocument
from dli.ports.spec_store import SpecStore

__all__ = ["LoadedSpec", "load_specs", "read_named", "read_specs"]


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


def _load(store: SpecStore, name: str, source: SourceType) -> LoadedSpec | None:
    where = f"{store.url}/{source.value}/{name}.yaml"
    try:
        versioned = store.read(source, name)
    except DLIError as exc:
        return LoadedSpec(name=name, source=source, error=exc.message, where=where)
    except Exception as exc:  # noqa: BLE001 - one broken document must not break the others
        return LoadedSpec(name=name, source=source, error=f"{type(exc).__name__}: {exc}", where=where)
    if versioned is None:  # deleted between listing and reading
        return None
    document = versioned.document
    if document.spec.name != name:
        return LoadedSpec(
            name=name,
            source=source,
            where=where,
            error=f"{where}: the spec is named {document.spec.name!r}, not {name!r}",
        )
    return LoadedSpec(name=name, source=source, document=document, where=where)


def read_named(store: SpecStore, sources: Mapping[str, SourceType]) -> list[LoadedSpec]:
    """The specs named in ``sources`` (name -> active source, from a listing made elsewhere), without listing."""
    return [loaded for name, source in sources.items() if (loaded := _load(store, name, source)) is not None]


def read_specs(store: SpecStore, *, only: str | None = None) -> list[LoadedSpec]:
    """The active spec of every dataset of ``store`` (only ``only`` when given, without listing), by name."""
    if only is not None:
        for source in (SourceType.CODE, SourceType.MANUAL):
            loaded = _load(store, only, source)
            if loaded is not None:
                return [loaded]
        return []
    code, manual = set(store.list_etags(SourceType.CODE)), set(store.list_etags(SourceType.MANUAL))
    out = []
    for name, resolution in resolve_override(code=code, manual=manual).items():
        loaded = _load(store, name, resolution.active)
        if loaded is not None:
            out.append(loaded)
    return out


def load_specs(store_url: str, *, only: str | None = None, cache_dir: Path | None = None) -> list[LoadedSpec]:
    """The active spec of every dataset in the store at ``store_url`` (only ``only`` when given), by name.

    Raises:
        DLIError: The store URL is invalid or the store cannot be listed.
    """
    from dli.entrypoints.bootstrap import build_factory_store

    return read_specs(build_factory_store(store_url, cache_dir=cache_dir), only=only)
