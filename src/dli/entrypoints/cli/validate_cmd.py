"""``dli workflow validate``: the SQL of the project's specs checked in its dialect; nothing is written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.session import Session, current

if TYPE_CHECKING:
    from dli.domain.model.sql_check import ValidationResult

__all__ = ["render_validation", "validate"]

_MARKS = {"error": "error  ", "warning": "warning", "note": "note   "}


def validate(
    names: Annotated[
        tuple[str, ...],
        Parameter(name="NAME", show_default=False, help=r"Datasets to check. \[default: every spec of the project]"),
    ] = (),
    /,
    *,
    all_specs: Annotated[
        bool, Parameter(name="--all", negative="", show_default=False, help="Check every spec of the project.")
    ] = False,
    strict: Annotated[bool, Parameter(negative="", show_default=False, help="Count warnings as errors.")] = False,
    format: Annotated[Literal["table", "json"], Parameter(name=["--format", "-f"], help="table or json.")] = "table",
) -> int:
    """Parse every statement of the specs in their SQL dialect, as register and publish do; write nothing.

    Exit 0 when register/publish would accept the SQL, 2 (DLI-203) when some statement has a syntax error.
    """
    from dli.domain.model.sql_check import validation_error
    from dli.entrypoints.cli.exit_codes import ExitCode
    from dli.entrypoints.cli.render import print_json

    session = current()
    result = session.api.validate(() if all_specs else names, strict=strict)
    if format == "json":
        print_json(session, result)
        return 0 if result.valid else int(ExitCode.USAGE)
    render_validation(session, result)
    error = validation_error(result)
    if error is not None:
        raise error  # shown as DLI-203 with each offending line and its caret
    return 0


def render_validation(session: Session, result: ValidationResult) -> None:
    """Each spec (valid or not, its dialect and file), its findings, then the counts."""
    for warning in result.project_warnings:
        session.warn(warning)
    for spec in result.specs:
        mark = "ok  " if spec.valid else "FAIL"
        dialect = spec.dialect or "generic SQL"
        checked = sum(s.checked for s in spec.statements)
        session.write(
            f"{mark} {spec.dataset_name} ({dialect}; {checked} of {len(spec.statements)} statement(s) checked)"
            + (f"  {spec.file}" if spec.file else "")
        )
        for finding in spec.findings:
            session.write(f"       {_MARKS[finding.severity.value]} {finding.message}")
            for line in finding.excerpt.splitlines():
                session.write(f"                 | {line}")
            if finding.hint and finding.severity.value != "note":
                session.write(f"                 hint: {finding.hint}")
    count = len(result.specs)
    session.write()
    session.write(
        f"{count} spec{'s' if count != 1 else ''} checked: {result.errors} error(s), "
        f"{result.warnings} warning(s), {result.notes} note(s)"
    )
