"""GetDependencies, and reading the dependency graph of the active specs out of the store.

The graph is always the one of the *active* specs (code over manual): an overridden manual spec's
``depends_on`` does not count. On the Basecamp server the store is the ``IndexedSpecStore``, whose
listing and reads answer from memory, so building the graph reads no document from the backing store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from dli.domain.model.catalog import Catalog
from dli.domain.model.dependencies import (
    DependencyEdge,
    DependencyGraph,
    DependencyNode,
    WorkflowDependenciesResult,
)
from dli.domain.model.enums import DependencyDirection, SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.override import resolve_override
from dli.domain.model.rules import checked
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.domain.model.sql_check import SqlEdge, inferred_upstreams
from dli.domain.usecases._workflows import not_found
from dli.domain.usecases.message import DEPTH, Route, WorkflowMessage, flag, handles, to_enum
from dli.ports.spec_store import SpecCatalog, SpecStore
from dli.ports.sql_analyzer import SqlAnalyzer

if TYPE_CHECKING:
    from dli.domain.usecases.authorization import Visibility

__all__ = ["ActiveSpecs", "GetDependencies", "get_dependencies", "load_active_specs"]


def _direction(value: object) -> DependencyDirection:
    return to_enum(DependencyDirection, "direction", value) or DependencyDirection.BOTH


@attrs.frozen(kw_only=True, repr=False)
class GetDependencies(WorkflowMessage[WorkflowDependenciesResult]):
    """The upstream and/or downstream datasets of a workflow (its active spec's ``depends_on`` and theirs)."""

    query = True
    route = Route(path="/api/v1/workflows/{dataset_name}/deps", tag="workflows")

    direction: DependencyDirection = attrs.field(default=DependencyDirection.BOTH, converter=_direction)
    """``upstream``, ``downstream`` or ``both``."""
    depth: int | None = checked(DEPTH, request=True, default=None)
    """At most this many steps away (``None``: all)."""
    from_sql: bool = flag(default=False)
    """Also the tables the dataset's SQL reads (parsed in its dialect), beside its ``depends_on``."""


@attrs.frozen(kw_only=True)
class ActiveSpecs:
    """The active document of every stored dataset, and their dependency graph."""

    documents: Mapping[str, SpecDocument | None]
    """Dataset name -> its active document (``None`` when it cannot be read)."""
    graph: DependencyGraph
    """The graph of their ``depends_on``."""

    def spec(self, name: str) -> DatasetSpec | None:
        """The active spec of ``name``, if readable."""
        document = self.documents.get(name)
        return document.spec if document is not None else None


def load_active_specs(store: SpecStore, *, overlay: Mapping[str, DatasetSpec] | None = None) -> ActiveSpecs:
    """The active specs of ``store`` (code over manual); ``overlay`` replaces (or adds) some, as a
    write about to happen would.

    A stored document that cannot be read keeps its name in the graph (it is managed) without upstreams.
    A store that keeps a catalog (the server's) builds them once per version of the store, not per call.
    """
    if overlay is None and isinstance(store, SpecCatalog):
        return store.catalog().derived("active_specs", _active_of_catalog)
    code, manual = store.list_etags(SourceType.CODE), store.list_etags(SourceType.MANUAL)
    documents: dict[str, SpecDocument | None] = {}
    for name, resolution in resolve_override(code=code, manual=manual).items():
        try:
            versioned = store.read(resolution.active, name)
        except SpecInvalidError:
            documents[name] = None
            continue
        if versioned is not None:  # else deleted since it was listed
            documents[name] = versioned.document
    specs: dict[str, DatasetSpec | None] = {n: d.spec if d is not None else None for n, d in documents.items()}
    for name, spec in (overlay or {}).items():
        specs[name] = spec
    return ActiveSpecs(documents=documents, graph=DependencyGraph.of_specs(specs))


def _active_of_catalog(catalog: Catalog) -> ActiveSpecs:
    """``load_active_specs`` of a catalog: code over manual, a broken active document kept as ``None``
    (a broken code document overrides a readable manual one, as ``resolve_override`` of the keys does)."""
    documents: dict[str, SpecDocument | None] = {}
    for broken in catalog.broken:
        if broken.source_type is SourceType.CODE or broken.dataset_name not in documents:
            documents[broken.dataset_name] = None
    for entry in catalog.entries:
        if entry.source_type is SourceType.CODE or (entry.name not in documents and not entry.overridden):
            documents[entry.name] = entry.document
    specs = {n: d.spec if d is not None else None for n, d in documents.items()}
    return ActiveSpecs(documents=documents, graph=DependencyGraph.of_specs(specs))


def _node(active: ActiveSpecs, name: str, relation: str, distance: int) -> DependencyNode:
    if not active.graph.is_managed(name):
        return DependencyNode(name=name, relation=relation, distance=distance, external=True)
    document = active.documents.get(name)
    return DependencyNode(
        name=name,
        relation=relation,
        distance=distance,
        source_type=document.source_type if document is not None else None,
        trigger=document.schedule.trigger if document is not None else None,
    )


@handles(GetDependencies)
def get_dependencies(
    message: GetDependencies,
    *,
    store: SpecStore,
    sql_analyzer: SqlAnalyzer | None = None,
    visible: Visibility | None = None,
) -> WorkflowDependenciesResult:
    """The upstreams and/or downstreams of a workflow, as nodes and edges (DLI-800 when no store knows it).

    ``from_sql``: also the tables its active spec's statements read, each matched to a managed
    dataset and to ``depends_on``, with the SQL check's warnings about them.
    """
    name = message.dataset_name
    active = load_active_specs(store)
    graph = active.graph
    if not graph.is_managed(name):
        raise not_found(name)
    sides = (
        (DependencyDirection.UPSTREAM, DependencyDirection.DOWNSTREAM)
        if message.direction is DependencyDirection.BOTH
        else (message.direction,)
    )
    nodes = [_node(active, name, "root", 0)]
    edges: dict[tuple[str, str], DependencyEdge] = {}
    for side in sides:
        distances = graph.walk(name, side, depth=message.depth)
        for other, distance in sorted(distances.items(), key=lambda item: (item[1], item[0])):
            if other != name:
                nodes.append(_node(active, other, side.value, distance))
            if message.depth is not None and distance >= message.depth:
                continue  # not expanded: its own neighbours are beyond the depth
            for neighbour in graph.direct(other, side):
                upstream, downstream = (
                    (neighbour, other) if side is DependencyDirection.UPSTREAM else (other, neighbour)
                )
                edges[(upstream, downstream)] = DependencyEdge(upstream=upstream, downstream=downstream)
    if visible is not None and not visible.everything:  # leave out the workflows the caller may not view
        hidden = {
            n.name for n in nodes if not n.external and not visible(getattr(active.spec(n.name), "team", None))
        } - {name}
        nodes = [n for n in nodes if n.name not in hidden]
        edges = {k: e for k, e in edges.items() if not hidden & set(k)}
    from_sql, sql_warnings = _from_sql(active, name, sql_analyzer) if message.from_sql else (None, ())
    return WorkflowDependenciesResult(
        dataset_name=name,
        direction=message.direction,
        depth=message.depth,
        nodes=tuple(nodes),
        edges=tuple(edges[key] for key in sorted(edges)),
        from_sql=from_sql,
        sql_warnings=sql_warnings,
    )


def _from_sql(
    active: ActiveSpecs, name: str, analyzer: SqlAnalyzer | None
) -> tuple[tuple[SqlEdge, ...], tuple[str, ...]]:
    from dli.domain.usecases.validate import check_spec_sql

    spec = active.spec(name)
    if analyzer is None or spec is None:
        why = "no SQL analyzer here (pip install 'dli[sql]')" if analyzer is None else "its stored spec cannot be read"
        return (), (f"The SQL of '{name}' was not read: {why}",)
    managed = list(active.graph.upstreams)
    report = check_spec_sql(spec, analyzer, managed=managed)
    warnings = tuple(f.message + (f" ({f.hint})" if f.hint else "") for f in (*report.errors, *report.warnings))
    return inferred_upstreams(spec, report, managed=managed), warnings
