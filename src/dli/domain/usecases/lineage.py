"""GetLineage: which upstream columns feed each output column of a workflow's query.

The query of the workflow's active spec (code over manual) is rendered with sample values and
traced by the SQL analyzer in the spec's dialect (sqlglot's column lineage).
"""

from __future__ import annotations

import attrs

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.execution import execution_settings
from dli.domain.model.rules import Text, checked
from dli.domain.model.sql_check import WorkflowLineageResult, sample_variables
from dli.domain.usecases._workflows import not_found
from dli.domain.usecases.dependencies import load_active_specs
from dli.domain.usecases.message import Route, WorkflowMessage, handles
from dli.ports.spec_store import SpecStore
from dli.ports.sql_analyzer import SqlAnalyzer

__all__ = ["GetLineage", "get_lineage"]


@attrs.frozen(kw_only=True, repr=False)
class GetLineage(WorkflowMessage[WorkflowLineageResult]):
    """The column lineage of a workflow's query: each output column and the upstream columns feeding it."""

    query = True
    route = Route(path="/api/v1/workflows/{dataset_name}/lineage", tag="workflows")

    column: str | None = checked(Text(nullable=True, non_empty=True), request=True, default=None)
    """Only this output column (``None``: every one)."""


@handles(GetLineage)
def get_lineage(message: GetLineage, *, store: SpecStore, sql_analyzer: SqlAnalyzer) -> WorkflowLineageResult:
    """The lineage of the active spec's query (DLI-800 when no store knows it; DLI-203 when it cannot be traced)."""
    name = message.dataset_name
    active = load_active_specs(store)
    if not active.graph.is_managed(name):
        raise not_found(name)
    spec = active.spec(name)
    if spec is None:
        raise SpecInvalidError(f"The stored spec of '{name}' cannot be read", details={"dataset_name": name})
    if spec.query_statement is None:
        raise SpecInvalidError(f"'{name}' has no query statement to trace", details={"dataset_name": name})
    dialect = execution_settings(spec).dialect
    if dialect is not None and not sql_analyzer.knows_dialect(dialect):
        dialect = None  # traced as generic SQL
    columns = sql_analyzer.lineage(
        spec.query_statement, variables=sample_variables(spec), dialect=dialect, column=message.column
    )
    return WorkflowLineageResult(dataset_name=name, dialect=dialect, columns=columns)
