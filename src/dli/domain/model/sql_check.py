"""The SQL check: what the parser said about each statement of a spec, and what dli makes of it.

The parsing is an adapter's (``ports/sql_analyzer.py``: sqlglot); this module decides. Each
statement (pre statements, query, post statements) is rendered with sample values
(``sample_variables``) and parsed in the spec's dialect; then, per statement:

- a syntax error is an **error** (DLI-203, nothing is written), or a **warning** when the statement
  has ``continue_on_error: true`` (its failure would not fail the run either);
- a statement the parser does not know (a vendor command such as ``ALTER TABLE ... EXECUTE optimize``)
  or one that cannot be rendered without Airflow's run context gets a **note**: not checked, never refused;
- no dialect (neither ``execution.dialect`` nor ``dli.yaml`` ``defaults.dialect``): a **warning**,
  the SQL is parsed in the generic dialect.

The tables each statement reads and writes are matched to dataset names (a dataset named
``catalog.schema.table`` is that table): a read dataset that dli manages but ``depends_on`` does
not name, and a ``depends_on`` entry no statement reads, are warnings.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import attrs

from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.spec import DatasetSpec

__all__ = [
    "SAMPLE_EXECUTION_DATE",
    "SQL_HINT",
    "ColumnLineage",
    "DatasetNames",
    "Finding",
    "Severity",
    "SpecStatement",
    "SpecValidation",
    "SqlEdge",
    "SqlReport",
    "StatementAnalysis",
    "StatementReport",
    "SyntaxProblem",
    "ValidationResult",
    "WorkflowLineageResult",
    "dependency_findings",
    "finding_lines",
    "inferred_upstreams",
    "judge_statement",
    "match_dataset",
    "no_dialect_finding",
    "sample_variables",
    "spec_statements",
    "sql_error",
    "validation_error",
]

SAMPLE_EXECUTION_DATE = "2025-01-01"
"""The ``execution_date`` statements are rendered with for the check (any valid date parses alike)."""
_SAMPLES: Mapping[str, Any] = {
    "string": "x",
    "integer": 1,
    "float": 0.5,
    "boolean": True,
    "date": SAMPLE_EXECUTION_DATE,
}
SQL_HINT = (
    "The SQL is parsed in the spec's dialect (execution.dialect, else dli.yaml defaults.dialect) after its "
    "Jinja is rendered with the parameters' defaults; fix the statement, or set the dialect it is written in."
)
_SHOWN_LINE = 160


class Severity(str, enum.Enum):
    """How much a finding matters."""

    ERROR = "error"
    """The spec is refused (DLI-203)."""
    WARNING = "warning"
    """Told, the spec is accepted."""
    NOTE = "note"
    """For information (a statement the parser does not check)."""


@attrs.frozen(kw_only=True)
class SyntaxProblem:
    """Where the parser gave up on a statement."""

    message: str
    """The parser's words."""
    line: int | None = None
    """1-based line of the rendered statement, when known."""
    column: int | None = None
    """1-based column where the offending token starts, when known."""


@attrs.frozen(kw_only=True)
class StatementAnalysis:
    """What the analyzer found in one statement: parsed, refused, or not checked; its tables."""

    rendered: str = ""
    """The statement as parsed (its Jinja rendered)."""
    problem: SyntaxProblem | None = None
    """The syntax error, if any."""
    unchecked: str | None = None
    """Why the statement was not checked (a command the parser does not know, a template that
    needs Airflow's run context, no parser installed); ``None`` when it was."""
    reads: tuple[str, ...] = ()
    """Tables read, as ``catalog.schema.table`` (as many parts as written), lower case unless quoted."""
    writes: tuple[str, ...] = ()
    """Tables written (INSERT, MERGE, CREATE, DELETE, UPDATE ... targets)."""


@attrs.frozen(kw_only=True)
class SpecStatement:
    """One statement of a spec, as the DAG runs it."""

    label: str
    """``pre_statements[0] (name)``, ``query_statement``, ``post_statements[1]``."""
    sql: str
    """The Jinja template."""
    continue_on_error: bool = False
    """Whether its failure lets the run go on."""


@attrs.frozen(kw_only=True)
class Finding:
    """One thing the check tells about a spec."""

    severity: Severity
    message: str
    """What, in one line (the statement and position included)."""
    statement: str | None = None
    """The statement's label; ``None`` for the spec as a whole."""
    line: int | None = None
    column: int | None = None
    excerpt: str = ""
    """The offending line and a caret under the column (two lines), when known."""
    hint: str | None = None
    """What to do about it."""


@attrs.frozen(kw_only=True)
class StatementReport:
    """A statement's outcome: checked or not, and the tables it touches."""

    statement: str
    checked: bool
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class SqlReport:
    """The SQL check of one spec."""

    dataset_name: str
    dialect: str | None
    """The dialect parsed with; ``None``: sqlglot's generic one."""
    statements: tuple[StatementReport, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def notes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.NOTE)

    @property
    def reads(self) -> tuple[str, ...]:
        """Every table read by some statement, minus the dataset's own (in first-read order)."""
        own = self.dataset_name.lower()
        return tuple(dict.fromkeys(t for s in self.statements for t in s.reads if t != own))


def spec_statements(spec: DatasetSpec, *, query_label: str | None = None) -> Iterator[SpecStatement]:
    """Every statement of ``spec`` in the order the DAG runs them (pre, query, post)."""
    for index, statement in enumerate(spec.pre_statements):
        yield SpecStatement(
            label=_label("pre_statements", index, statement.name),
            sql=statement.sql,
            continue_on_error=statement.continue_on_error,
        )
    if spec.query_statement is not None:
        label = query_label or "query_statement" + (f" (from query_file {spec.query_file})" if spec.query_file else "")
        yield SpecStatement(label=label, sql=spec.query_statement)
    for index, statement in enumerate(spec.post_statements):
        yield SpecStatement(
            label=_label("post_statements", index, statement.name),
            sql=statement.sql,
            continue_on_error=statement.continue_on_error,
        )


def _label(key: str, index: int, name: str | None) -> str:
    return f"{key}[{index}]" + (f" ({name})" if name else "")


def sample_variables(spec: DatasetSpec, *, execution_date: str = SAMPLE_EXECUTION_DATE) -> dict[str, Any]:
    """The Jinja variables a statement is rendered with for the check.

    What a run has too: ``execution_date`` (and Airflow's ``ds``, ``ds_nodash``), each parameter
    (its default, else a sample value of its type: a required date parameter gets the sample date),
    and ``params`` holding them.
    """
    values: dict[str, Any] = {}
    for parameter in spec.parameters:
        value = parameter.default
        if isinstance(value, dt.date):
            value = value.isoformat()
        if value is None:
            value = execution_date if parameter.name == "execution_date" else _SAMPLES.get(parameter.type, "x")
        values[parameter.name] = value
    date = str(values.get("execution_date", execution_date))
    return {
        "ds": date,
        "ds_nodash": date.replace("-", ""),
        **values,
        "execution_date": date,
        "params": dict(values),
    }


def _excerpt(sql: str, line: int | None, column: int | None) -> str:
    if line is None:
        return ""
    lines = sql.splitlines()
    if not 0 < line <= len(lines):
        return ""
    text = lines[line - 1].rstrip()
    caret_at = max((column or 1) - 1, 0)
    if len(text) > _SHOWN_LINE:  # keep the caret's part of a long line in view
        start = max(0, min(caret_at - _SHOWN_LINE // 2, len(text) - _SHOWN_LINE))
        text = ("..." if start else "") + text[start : start + _SHOWN_LINE]
        caret_at = caret_at - start + (3 if start else 0)
    if column is None:
        return text
    return f"{text}\n{' ' * caret_at}^"


def judge_statement(
    statement: SpecStatement, analysis: StatementAnalysis, *, unknown_dialect: str | None = None
) -> list[Finding]:
    """What one statement's analysis means: an error, a warning (``continue_on_error``, or parsed as
    generic SQL because the parser knows no ``unknown_dialect``), a note, or nothing."""
    if analysis.problem is not None:
        problem = analysis.problem
        where = statement.label
        if problem.line is not None:
            where += f", line {problem.line}"
            if problem.column is not None:
                where += f", column {problem.column}"
        why = None
        if statement.continue_on_error:
            why = "the statement has continue_on_error: true, so each run would log its failure and go on"
        elif unknown_dialect is not None:
            why = f"parsed as generic SQL: sqlglot knows no dialect '{unknown_dialect}', so this may be valid there"
        # A reason to doubt the error makes it a warning, and the message says the reason.
        severity, doubt = (Severity.ERROR, "") if why is None else (Severity.WARNING, f" ({why})")
        return [
            Finding(
                severity=severity,
                statement=statement.label,
                message=f"{where}: SQL syntax error{doubt}: {problem.message}",
                line=problem.line,
                column=problem.column,
                excerpt=_excerpt(analysis.rendered, problem.line, problem.column),
                hint=SQL_HINT,
            )
        ]
    if analysis.unchecked is not None:
        return [
            Finding(
                severity=Severity.NOTE,
                statement=statement.label,
                message=f"{statement.label}: not checked ({analysis.unchecked})",
            )
        ]
    return []


def no_dialect_finding(unknown: str | None = None) -> Finding:
    """The warning of a spec whose dialect nothing names (or names one the parser does not know)."""
    if unknown is not None:
        return Finding(
            severity=Severity.WARNING,
            message=f"sqlglot knows no SQL dialect '{unknown}': the statements were checked as generic SQL, "
            "and a syntax error is only a warning",
            hint="If the dialect has another name in sqlglot (e.g. postgres, tsql, spark, hive), use that one.",
        )
    return Finding(
        severity=Severity.WARNING,
        message="no SQL dialect: the statements were checked with the generic SQL dialect only",
        hint="Set execution.dialect in the spec (e.g. trino, bigquery, spark, postgres), or defaults.dialect in dli.yaml.",
    )


@attrs.frozen
class DatasetNames:
    """The datasets dli manages, indexed for matching table names (built once per check of many specs)."""

    exact: Mapping[str, str]
    """Lower-case name -> the dataset."""
    suffixes: Mapping[str, str | None]
    """``schema.table`` (a name without its catalog) -> the one dataset it can be (``None``: several)."""

    @classmethod
    def of(cls, names: Iterable[str]) -> DatasetNames:
        exact: dict[str, str] = {}
        suffixes: dict[str, str | None] = {}
        for name in names:
            lowered = name.lower()
            exact[lowered] = name
            parts = lowered.split(".")
            for start in range(1, len(parts) - 1):  # at least two parts: a bare table name is too vague
                key = ".".join(parts[start:])
                suffixes[key] = name if suffixes.get(key, name) == name else None
        return cls(exact, suffixes)

    def match(self, table: str, *, besides: str | None = None) -> str | None:
        """The dataset ``table`` is (``besides``: never that one), as ``match_dataset`` says."""
        table = table.lower()
        found = self.exact.get(table)
        if found is None and "." in table:
            found = self.suffixes.get(table)
        if found is not None and besides is not None and found.lower() == besides.lower():
            return None
        return found


def match_dataset(table: str, datasets: Collection[str] | DatasetNames) -> str | None:
    """The dataset ``table`` is, when it is one: the same name (case aside), or the one dataset whose
    name ends with the table's parts when the SQL leaves out the catalog (``analytics.daily_clicks``
    for ``iceberg.analytics.daily_clicks``). A bare table name (``orders``) matches only a dataset of
    that very name: too many datasets end in ``.orders``."""
    names = datasets if isinstance(datasets, DatasetNames) else DatasetNames.of(datasets)
    return names.match(table)


def dependency_findings(
    spec: DatasetSpec, statements: Iterable[StatementReport], *, managed: Collection[str] | DatasetNames
) -> list[Finding]:
    """Warnings comparing what the SQL reads with ``depends_on``.

    ``managed`` are the datasets dli knows (the project's, the store's). A table read that is one of
    them and not in ``depends_on`` would run without waiting for its data; a ``depends_on`` entry
    that no statement reads is suspect (only said when every statement was checked: a statement
    not parsed may be the one that reads it).
    """
    reports = list(statements)
    reads = [t for s in reports for t in s.reads]
    declared = {name.lower() for name in spec.depends_on}
    findings = []
    names = managed if isinstance(managed, DatasetNames) else DatasetNames.of(managed)
    for dataset in dict.fromkeys(d for t in reads if (d := names.match(t, besides=spec.name)) is not None):
        if dataset.lower() not in declared:
            findings.append(
                Finding(
                    severity=Severity.WARNING,
                    message=f"the SQL reads dataset '{dataset}', which depends_on does not name: "
                    "runs would not wait for its data",
                    hint=f"Add '{dataset}' to depends_on.",
                )
            )
    if reports and all(s.checked for s in reports):
        own = spec.name.lower()
        for name in spec.depends_on:
            if name.lower() == own:
                continue
            # Lenient here (a bare table name may be the dataset): a warning only when nothing could be it.
            wanted = name.lower()
            if not any(wanted == t or wanted.endswith("." + t) for t in reads):
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        message=f"depends_on names '{name}', which no statement reads",
                        hint=f"Remove '{name}' from depends_on if the dataset does not need it, "
                        "or check the table names in the SQL.",
                    )
                )
    return findings


def sql_error(
    reports: Iterable[SqlReport], *, where: str | None = None, files: Mapping[str, str | None] | None = None
) -> SpecInvalidError | None:
    """DLI-203 listing every error of ``reports`` (the offending lines with their carets as hints), or ``None``.

    Each error is prefixed with its spec's file (``files``: dataset name -> file), else ``where``.
    """
    errors: list[tuple[str, Finding]] = []
    for report in reports:
        origin = (files or {}).get(report.dataset_name) or where
        prefix = f"{origin}: " if origin else ""
        errors.extend((f"{prefix}{report.dataset_name}", finding) for finding in report.errors)
    return _error_of(errors)


def _error_of(errors: Iterable[tuple[str, Finding]]) -> SpecInvalidError | None:
    """DLI-203 for the SQL errors given, each after the place it is in (file and dataset), or ``None``."""
    lines: list[str] = []
    shown: list[str] = []
    for place, finding in errors:
        lines.append(f"{place}: {finding.message}")
        if finding.excerpt:
            shown.append(f"{finding.statement} line {finding.line}:\n{finding.excerpt}")
    if not lines:
        return None
    return SpecInvalidError("; ".join(lines), hints=(*shown, SQL_HINT), details={"problems": lines, "sql": True})


@attrs.frozen(kw_only=True)
class ColumnLineage:
    """One output column of a query and the upstream columns that feed it."""

    column: str
    """The output column."""
    sources: tuple[str, ...] = ()
    """``table.column`` of each upstream column (as the SQL names the table); empty for a constant."""


@attrs.frozen(kw_only=True)
class SpecValidation:
    """The check of one spec of the project."""

    dataset_name: str
    file: str | None
    """The spec file, when known."""
    dialect: str | None
    valid: bool
    """No errors."""
    findings: tuple[Finding, ...] = ()
    statements: tuple[StatementReport, ...] = ()


@attrs.frozen(kw_only=True)
class ValidationResult:
    """``dli workflow validate``: every spec checked."""

    specs: tuple[SpecValidation, ...]
    errors: int
    warnings: int
    notes: int
    project_warnings: tuple[str, ...] = ()
    """What reading the project found (near-miss keys ...)."""

    @property
    def valid(self) -> bool:
        return self.errors == 0


def validation_error(result: ValidationResult) -> SpecInvalidError | None:
    """DLI-203 for the errors of a ``validate`` result (as register and publish would refuse), or ``None``."""
    return _error_of(
        (f"{spec.file or spec.dataset_name}: {spec.dataset_name}", finding)
        for spec in result.specs
        for finding in spec.findings
        if finding.severity is Severity.ERROR
    )


def finding_lines(findings: Iterable[Finding], *, severity: Severity) -> tuple[str, ...]:
    """The findings of one severity as lines to tell (the hint in parentheses)."""
    return tuple(f.message + (f" ({f.hint})" if f.hint else "") for f in findings if f.severity is severity)


@attrs.frozen(kw_only=True)
class SqlEdge:
    """A table a dataset's SQL reads, beside what its ``depends_on`` declares."""

    table: str
    """The table as the SQL names it (lower case)."""
    dataset: str | None = None
    """The managed dataset it is, if any."""
    declared: bool = False
    """Whether ``depends_on`` names it."""


def inferred_upstreams(
    spec: DatasetSpec, report: SqlReport, *, managed: Collection[str] | DatasetNames
) -> tuple[SqlEdge, ...]:
    """The tables ``spec``'s statements read (its own table aside), each matched to a managed dataset
    and to ``depends_on``."""
    declared = {name.lower() for name in spec.depends_on}
    names = managed if isinstance(managed, DatasetNames) else DatasetNames.of(managed)
    edges = []
    for table in report.reads:
        dataset = names.match(table, besides=spec.name)
        named = (dataset or table).lower()
        is_declared = named in declared or any(d.endswith("." + table) for d in declared)
        edges.append(SqlEdge(table=table, dataset=dataset, declared=is_declared))
    return tuple(edges)


@attrs.frozen(kw_only=True)
class WorkflowLineageResult:
    """Result of ``lineage`` (``dli workflow lineage``): the columns of a workflow's query and their sources."""

    dataset_name: str
    dialect: str | None
    """The dialect the query was parsed in."""
    columns: tuple[ColumnLineage, ...] = ()
    """Each output column (in the query's order) with the upstream columns feeding it."""
