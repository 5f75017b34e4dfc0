"""Port decorators that report every call to a dependency (the spec store, the orchestrator).

The composition root wraps the real adapters in these when the server measures itself (metrics,
traces): the adapters stay unaware of it, and every adapter of a port is measured the same way.
What is done with a call (a Prometheus histogram, an OpenTelemetry span) is the observer's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from dli.adapters.stores._shared import StoreDecorator
from dli.ports.change_feed import ChangeFeed

if TYPE_CHECKING:
    from dli.domain.model.enums import SourceType
    from dli.domain.model.spec import SpecDocument
    from dli.ports.change_feed import SpecChange
    from dli.ports.orchestrator import Orchestrator
    from dli.ports.spec_store import SpecStore, VersionedDocument

__all__ = ["CallObserver", "InstrumentedOrchestrator", "combined", "instrumented_store", "no_observer"]


class CallObserver(Protocol):
    """Watches one call: entered before it, left after it (with its exception, if it raised)."""

    def __call__(self, dependency: str, kind: str, operation: str) -> AbstractContextManager[object]:
        """``dependency``: ``store`` or ``orchestrator``; ``kind``: ``s3``, ``file``, ``airflow``, ``memory``..."""
        ...


@contextlib.contextmanager
def _nothing(dependency: str, kind: str, operation: str) -> Iterator[None]:
    del dependency, kind, operation
    yield


no_observer: CallObserver = _nothing
"""An observer that does nothing."""


def store_kind(url: str) -> str:
    """``s3``, ``file``, ``memory``...: the scheme of a store URL."""
    return url.partition("://")[0] or "unknown"


class InstrumentedStore(StoreDecorator):
    """A spec store whose every call is reported to ``observe``."""

    def __init__(self, inner: SpecStore, observe: CallObserver, *, kind: str | None = None) -> None:
        self._inner = inner
        self._observe = observe
        self._kind = kind or store_kind(inner.url)

    def __repr__(self) -> str:
        return f"InstrumentedStore({self._inner!r})"

    def __getattr__(self, name: str) -> Any:
        # What the port does not name (an adapter's extras) is the inner store's, unmeasured.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def list_etags(self, source: SourceType) -> Mapping[str, str]:
        with self._observe("store", self._kind, "list"):
            return self._inner.list_etags(source)

    def read(self, source: SourceType, name: str) -> VersionedDocument | None:
        with self._observe("store", self._kind, "read"):
            return self._inner.read(source, name)

    def create(self, source: SourceType, document: SpecDocument) -> str:
        with self._observe("store", self._kind, "create"):
            return self._inner.create(source, document)

    def replace(self, source: SourceType, document: SpecDocument, *, etag: str) -> str:
        with self._observe("store", self._kind, "replace"):
            return self._inner.replace(source, document, etag=etag)

    def delete(self, source: SourceType, name: str) -> bool:
        with self._observe("store", self._kind, "delete"):
            return self._inner.delete(source, name)


class InstrumentedFeedStore(InstrumentedStore):
    """An instrumented store over one that records its writes (``ChangeFeed``): it still is one."""

    def recent_changes(self, *, seconds: float) -> Sequence[SpecChange]:
        with self._observe("store", self._kind, "recent_changes"):
            return self._inner.recent_changes(seconds=seconds)  # type: ignore[attr-defined]


def instrumented_store(inner: SpecStore, observe: CallObserver) -> InstrumentedStore:
    """``inner`` reporting its calls; a change feed stays a change feed (the index reads it)."""
    if isinstance(inner, ChangeFeed):
        return InstrumentedFeedStore(inner, observe)
    return InstrumentedStore(inner, observe)


class InstrumentedOrchestrator:
    """An orchestrator whose every call (every public method) is reported to ``observe``."""

    _UNMEASURED = frozenset({"close"})

    def __init__(self, inner: Orchestrator, observe: CallObserver, *, kind: str) -> None:
        self._inner = inner
        self._observe = observe
        self._kind = kind
        self._wrapped: dict[str, Callable[..., Any]] = {}

    @property
    def inner(self) -> Orchestrator:
        """The decorated orchestrator."""
        return self._inner

    def __repr__(self) -> str:
        return f"InstrumentedOrchestrator({self._inner!r})"

    def workflow_states(self, names: Collection[str]) -> Any:
        with self._observe("orchestrator", self._kind, "workflow_states"):
            return self._inner.workflow_states(names)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self._inner, name)
        if not callable(attribute) or name in self._UNMEASURED:
            return attribute
        wrapped = self._wrapped.get(name)
        if wrapped is None:
            observe, kind = self._observe, self._kind

            def call(*args: Any, **kwargs: Any) -> Any:
                with observe("orchestrator", kind, name):
                    return getattr(self._inner, name)(*args, **kwargs)

            self._wrapped[name] = wrapped = call
        return wrapped


def combined(*observers: CallObserver) -> CallObserver:
    """One observer reporting each call to every one of ``observers`` (the first outermost)."""
    if len(observers) == 1:
        return observers[0]

    @contextlib.contextmanager
    def observe(dependency: str, kind: str, operation: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for observer in observers:
                stack.enter_context(observer(dependency, kind, operation))
            yield

    return observe
