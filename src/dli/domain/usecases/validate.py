"""ValidateSpecs: the SQL of the project's specs checked before anything is stored.

``check_spec_sql`` is the one check: ``register``, ``publish``, ``register --dry-run``, the server
(on what it is sent) and ``dli workflow validate`` all run it. The analyzer parses; the verdicts are
``domain/model/sql_check.py``'s.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import attrs

from dli.domain.model.errors import DatasetNotFoundError, SpecInvalidError
from dli.domain.model.execution import execution_settings
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.sql_check import (
    DatasetNames,
    Finding,
    Severity,
    SpecValidation,
    SqlReport,
    StatementReport,
    ValidationResult,
    dependency_findings,
    judge_statement,
    no_dialect_finding,
    sample_variables,
    spec_statements,
    sql_error,
)
from dli.domain.usecases.message import Message, flag, handles
from dli.ports.local_specs import LocalSpecs
from dli.ports.sql_analyzer import SqlAnalyzer

__all__ = ["ValidateSpecs", "check_spec_sql", "refuse_sql_errors", "sql_warnings", "validate_specs"]


def check_spec_sql(
    spec: DatasetSpec, analyzer: SqlAnalyzer, *, managed: Collection[str] | DatasetNames = ()
) -> SqlReport:
    """Every statement of ``spec`` rendered with sample values and parsed in its dialect; the verdicts.

    ``managed``: the datasets dli knows, for the ``depends_on`` warnings (none: not compared); a
    ``DatasetNames`` built once when checking many specs.

    A dialect the analyzer does not know is parsed as generic SQL, its syntax errors only warnings.
    """
    dialect = execution_settings(spec).dialect
    unknown = None
    if dialect is not None and not analyzer.knows_dialect(dialect):
        # The dialect also names the Airflow connection: a name sqlglot lacks is no reason to refuse.
        unknown, dialect = dialect, None
    variables = sample_variables(spec)
    findings: list[Finding] = [] if dialect else [no_dialect_finding(unknown)]
    reports = []
    for statement in spec_statements(spec):
        analysis = analyzer.analyze(statement.sql, variables=variables, dialect=dialect)
        findings += judge_statement(statement, analysis, unknown_dialect=unknown)
        reports.append(
            StatementReport(
                statement=statement.label,
                checked=analysis.problem is None and analysis.unchecked is None,
                reads=analysis.reads,
                writes=analysis.writes,
            )
        )
    if managed:
        findings += dependency_findings(spec, reports, managed=managed)
    return SqlReport(dataset_name=spec.name, dialect=dialect, statements=tuple(reports), findings=tuple(findings))


def refuse_sql_errors(
    reports: Iterable[SqlReport], *, where: str | None = None, files: Mapping[str, str | None] | None = None
) -> None:
    """Raise DLI-203 when some report has an error.

    Raises:
        SpecInvalidError: Each syntax error, with its statement, line and column; the lines with carets as hints.
    """
    error = sql_error(reports, where=where, files=files)
    if error is not None:
        raise error


def sql_warnings(report: SqlReport) -> tuple[str, ...]:
    """The report's warnings as the lines ``register`` and ``publish`` tell."""
    return tuple(f"{report.dataset_name}: {f.message}" + (f" ({f.hint})" if f.hint else "") for f in report.warnings)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(validate_dataset_name(name) for name in value)


@attrs.frozen(kw_only=True, repr=False)
class ValidateSpecs(Message[ValidationResult]):
    """Check the SQL (and Jinja) of the local project's specs; write nothing (the project is local: not served)."""

    query = True

    names: tuple[str, ...] = attrs.field(default=(), converter=_names)
    """The datasets to check; none: every spec of the project."""
    strict: bool = flag(default=False)
    """Count warnings as errors."""


@handles(ValidateSpecs)
def validate_specs(message: ValidateSpecs, *, local_specs: LocalSpecs, sql_analyzer: SqlAnalyzer) -> ValidationResult:
    """The SQL check of the named specs (every spec when none is named).

    Raises:
        DatasetNotFoundError: A named dataset has no spec in the project (DLI-101).
        SpecInvalidError: A spec file cannot be read as a spec (its YAML, its fields, its Jinja) (DLI-203).
    """
    project = list(local_specs.all()) if not message.names else []
    specs: list[DatasetSpec] = []
    if message.names:
        for name in dict.fromkeys(message.names):
            spec = local_specs.find(name)
            if spec is None:
                raise DatasetNotFoundError(f"Dataset '{name}' not found", details={"dataset_name": name})
            specs.append(spec)
        try:
            project = list(local_specs.all())
        except SpecInvalidError:  # another spec's problem is not this check's: compare with the readable ones
            project = specs
    else:
        specs = project
    managed = DatasetNames.of(s.name for s in project)
    checked = []
    for spec in specs:
        report = check_spec_sql(spec, sql_analyzer, managed=managed)
        findings = report.findings
        if message.strict:
            findings = tuple(
                attrs.evolve(f, severity=Severity.ERROR) if f.severity is Severity.WARNING else f for f in findings
            )
        checked.append(
            SpecValidation(
                dataset_name=spec.name,
                file=local_specs.location(spec.name),
                dialect=report.dialect,
                valid=not any(f.severity is Severity.ERROR for f in findings),
                findings=findings,
                statements=report.statements,
            )
        )
    every = [f for c in checked for f in c.findings]
    return ValidationResult(
        specs=tuple(checked),
        errors=sum(f.severity is Severity.ERROR for f in every),
        warnings=sum(f.severity is Severity.WARNING for f in every),
        notes=sum(f.severity is Severity.NOTE for f in every),
        project_warnings=local_specs.warnings(),
    )
