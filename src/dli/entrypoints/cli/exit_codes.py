"""Exit statuses of ``dli`` and how errors are shown (docs/cli.md, "Exit codes")."""

from __future__ import annotations

import enum
import sys
import traceback
from typing import TextIO

from dli.domain.model.errors import DLIError, ErrorCode

__all__ = ["ExitCode", "exit_code_for", "print_error", "print_unexpected"]


class ExitCode(enum.IntEnum):
    """Process exit statuses; stable, scripts rely on them."""

    OK = 0
    """Success (and, with ``--wait``, every run completed)."""
    FAILED = 1
    """The operation failed (server unreachable, not found, permission denied, conflict...)."""
    USAGE = 2
    """The command line or its input is wrong: parse errors, bad names, cron, dates, parameters, config."""
    RUN_FAILED = 3
    """``--wait``: a run failed."""
    RUN_KILLED = 4
    """``--wait``: a run was killed (stopped), none failed."""
    WAIT_TIMEOUT = 5
    """``--wait``: ``--timeout`` passed before every run finished."""
    INTERRUPTED = 130
    """Ctrl-C."""


# Codes that mean "fix what you typed (or the file you wrote)"; everything else is an operation failure.
_USAGE_CODES = frozenset(
    {
        ErrorCode.CONFIG_INVALID,
        ErrorCode.SPEC_INVALID,
        ErrorCode.PARAMETER_INVALID,
        ErrorCode.WORKFLOW_INVALID_CRON,
    }
)

_HINT_INDENT = " " * 7


def exit_code_for(error: DLIError) -> ExitCode:
    """The exit status of a DLI error."""
    return ExitCode.USAGE if error.code in _USAGE_CODES else ExitCode.FAILED


def print_error(error: DLIError, *, stream: TextIO | None = None, verbose: bool = False) -> None:
    """``Error [DLI-xxx]: message`` then one indented line per hint; the traceback only when verbose."""
    stream = stream or sys.stderr
    if verbose:
        traceback.print_exception(error, file=stream)
    lines = [f"Error [{error.code.value}]: {error.message}"]
    lines.extend(f"{_HINT_INDENT}{hint}" for hint in error.hints)
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def print_unexpected(error: BaseException, *, stream: TextIO | None = None, verbose: bool = False) -> None:
    """A bug or an unforeseen failure: one line, the traceback only when verbose."""
    stream = stream or sys.stderr
    if verbose:
        traceback.print_exception(error, file=stream)
    stream.write(f"Error: unexpected {type(error).__name__}: {error}\n")
    if not verbose:
        stream.write(f"{_HINT_INDENT}Run again with --verbose for the traceback.\n")
    stream.flush()
