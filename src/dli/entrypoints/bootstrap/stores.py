"""Spec stores for every entrypoint: LOCAL mode, the server, publish, the DAG factory and the dev stack.

The registry of store URLs is the stores' own (``dli.adapters.stores.registry``); this module checks
the timeouts and is the entrypoints' one door to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dli.entrypoints.bootstrap.timeouts import check_timeout

if TYPE_CHECKING:
    from dli.domain.model.enums import SourceType
    from dli.ports import SpecStore

__all__ = ["build_factory_store", "build_store", "warm_factory"]


def build_store(
    url: str, *, connect_timeout_seconds: float | None = None, read_timeout_seconds: float | None = None
) -> SpecStore:
    """The spec store for ``memory://``, ``file:///path`` or ``s3://bucket/prefix`` (DLI-001 otherwise).

    The timeouts (seconds; ``None``: the adapter's, 3 s to connect and 10 s to read) bound what a
    hung or unreachable S3 endpoint costs a request.
    """
    from dli.adapters.stores.registry import open_store

    return open_store(
        url,
        connect_timeout_seconds=check_timeout(connect_timeout_seconds, "The store's connect timeout"),
        read_timeout_seconds=check_timeout(read_timeout_seconds, "The store's read timeout"),
    )


def build_factory_store(
    url: str,
    *,
    cache_dir: Path | None = None,
    listed: Mapping[SourceType, Mapping[str, str]] | None = None,
    full_listing_interval_seconds: float = 300.0,
) -> SpecStore:
    """The store as the DAG factory reads it: ``s3://`` through a disk cache refreshed by ETag
    (``dli.adapters.stores.registry.open_factory_store``)."""
    from dli.adapters.stores.registry import open_factory_store

    return open_factory_store(
        url, cache_dir=cache_dir, listed=listed, full_listing_interval_seconds=full_listing_interval_seconds
    )


def warm_factory() -> None:
    """Do in this process what the DAG factory's first spec read would (the spec codec builds its
    converters, ~70 ms), so that the processes forked from it (the DAG processor's parsers) do not."""
    from dli.adapters.codecs.specs import warm_up

    warm_up()
