"""Ports: the interfaces the use-cases need from the outside world."""

from dli.ports.clock import Clock
from dli.ports.local_specs import LocalSpecs
from dli.ports.orchestrator import BackfillHandle, Orchestrator, RunRecord
from dli.ports.spec_store import SpecStore, VersionedDocument
from dli.ports.sql_analyzer import SqlAnalyzer

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
