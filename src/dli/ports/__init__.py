"""Ports: the interfaces the use-cases need from the outside world."""

from typing import TYPE_CHECKING, Any

from dli.ports.clock import Clock
from dli.ports.local_specs import LocalSpecs
from dli.ports.orchestrator import Orchestrator, RunRecord
from dli.ports.spec_store import SpecStore, VersionedDocument
from dli.ports.sql_analyzer import SqlAnalyzer

if TYPE_CHECKING:
    from dli.ports.orchestrator import BackfillHandle

__all__ = [
    "BackfillHandle",
    "Clock",
    "LocalSpecs",
    "Orchestrator",
    "RunRecord",
    "SpecStore",
    "SqlAnalyzer",
    "VersionedDocument",
]


def __getattr__(name: str) -> Any:
    if name != "BackfillHandle":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dli.ports import orchestrator  # built there on first use

    return orchestrator.BackfillHandle


def __dir__() -> list[str]:
    return sorted({*globals(), "BackfillHandle"})
