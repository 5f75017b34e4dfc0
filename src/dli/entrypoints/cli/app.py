"""The ``dli`` cyclopts application.

- The meta launcher parses the global options (``--mode``, ``--server``, ``--path``, ``--verbose``),
  resolves the settings and opens the invocation's session; the WorkflowAPI is built once, on first
  use, so ``--help`` builds nothing.
- Commands are registered by import path (cyclopts lazy loading): only the module of the command
  being run is imported, which keeps ``dli --help`` and MOCK mode free of httpx, boto3 and Airflow.
- Optional command modules owned elsewhere plug in by existing (see ``_OPTIONAL``).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO

from cyclopts import App, Group, Parameter

from dli._version import __version__
from dli.entrypoints.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from dli.entrypoints.cli.session import ApiFactory

__all__ = ["app", "invoke", "run", "workflow_app"]

_PKG = "dli.entrypoints.cli"

app = App(
    name="dli",
    help="dli: put datasets on a schedule in Apache Airflow without writing DAGs.",
    version=__version__,
    # Plain rich text: rendering docstrings as Markdown would import markdown-it on every start.
    help_format="rich",
    result_action="return_value",
    suppress_keyboard_interrupt=False,  # invoke() reports it (exit 130)
)
app.meta.suppress_keyboard_interrupt = False
workflow_app = App(name="workflow", help="Register, run, inspect and schedule workflows.")
app.command(workflow_app)

# (import path, name, help): the help is given here so that listing commands imports nothing.
_WORKFLOW_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("register_cmd:register", "register", "Register the local dataset spec as a MANUAL workflow."),
    ("register_cmd:unregister", "unregister", "Remove a MANUAL workflow."),
    ("run_cmds:run", "run", "Trigger an adhoc run."),
    ("run_cmds:backfill", "backfill", "Run a date range, in order, stopping at the first failure."),
    ("run_cmds:stop", "stop", "Stop (kill) a running run."),
    ("query_cmds:status", "status", "Show the status of one run."),
    ("query_cmds:list_workflows", "list", "List registered workflows."),
    ("query_cmds:history", "history", "Show execution history, newest first."),
    ("deps_cmd:deps", "deps", "Show a workflow's upstream and downstream datasets."),
    ("lineage_cmd:lineage", "lineage", "Show the upstream columns of each output column of a workflow's query."),
    ("schedule_cmds:pause", "pause", "Pause a workflow's schedule."),
    ("schedule_cmds:unpause", "unpause", "Resume a workflow's schedule."),
    ("run_cmds:logs", "logs", "Print the task logs of a run."),
    ("publish_cmd:publish", "publish", "Publish the project's specs as CODE workflows (CI/CD)."),
    ("audit_cmd:audit", "audit", "Show who changed (or was refused) what, newest first."),
    ("plan_cmd:plan", "plan", "Show what publish would change, explained (for a pull request)."),
    ("validate_cmd:validate", "validate", "Check the SQL of the project's specs in their dialect."),
)
for _path, _name, _help in _WORKFLOW_COMMANDS:
    workflow_app.command(f"{_PKG}.{_path}", name=_name, help=_help)

app.command(f"{_PKG}.completion_cmd:completion", name="completion", help="Print or install shell completion.")
app.command(f"{_PKG}.dev_cmd:dev_app", name="dev", help="Run a local development stack (Airflow, store, server).")
app.command(f"{_PKG}.auth_cmd:auth_app", name="auth", help="Sign in to Basecamp with your identity provider (OIDC).")

_GLOBAL = Group("Global options", sort_key=100)

# Set by ``invoke`` for the launcher (tests inject fakes through it).
_injected: dict[str, Any] = {}


@app.meta.default
def _launcher(
    *tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
    mode: Annotated[
        Literal["mock", "server", "local"] | None,
        Parameter(group=_GLOBAL, help=r"Execution mode. \[env: DLI_MODE] \[default: server]"),
    ] = None,
    server: Annotated[
        str | None,
        Parameter(
            group=_GLOBAL,
            metavar="URL",
            help=r"Basecamp server URL. \[env: DLI_SERVER_URL] \[default: http://localhost:8081]",
        ),
    ] = None,
    path: Annotated[
        Path | None, Parameter(group=_GLOBAL, metavar="DIR", help=r"Project folder. \[default: the current directory]")
    ] = None,
    verbose: Annotated[
        bool, Parameter(name=["--verbose", "-v"], negative="", group=_GLOBAL, help="Show tracebacks on errors.")
    ] = False,
) -> Any:
    from dli.entrypoints.cli.session import Session, default_api_factory, open_session
    from dli.entrypoints.cli.settings import Flags, resolve_context

    _injected["verbose"] = verbose
    flags = Flags(mode=mode, server_url=server, project_path=path)
    open_session(
        Session(
            settings=lambda: resolve_context(flags),
            verbose=verbose,
            api_factory=_injected.get("api_factory") or default_api_factory,
            stdout=_injected.get("stdout"),
            stderr=_injected.get("stderr"),
            **{k: v for k in ("sleep", "monotonic", "now") if (v := _injected.get(k)) is not None},
        )
    )
    return app(tokens)


def invoke(
    argv: Sequence[str] | None = None,
    *,
    api_factory: ApiFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    sleep: Callable[[float], None] | None = None,
    monotonic: Callable[[], float] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> int:
    """Run ``dli`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status; never raises."""
    from cyclopts import CycloptsError

    from dli.domain.model.errors import DLIError
    from dli.entrypoints.cli.exit_codes import exit_code_for, print_error, print_unexpected

    tokens = list(sys.argv[1:] if argv is None else argv)
    _injected.clear()
    _injected.update(api_factory=api_factory, stdout=stdout, stderr=stderr, sleep=sleep, monotonic=monotonic, now=now)
    consoles: dict[str, Any] = {}
    if stdout is not None or stderr is not None:
        from rich.console import Console

        if stdout is not None:
            consoles["console"] = Console(file=stdout, width=200)
        if stderr is not None:
            consoles["error_console"] = Console(file=stderr, width=200)
    err = stderr or sys.stderr
    try:
        result = app.meta(tokens, exit_on_error=False, print_error=True, **consoles)
    except CycloptsError:
        return ExitCode.USAGE  # cyclopts has printed what is wrong
    except DLIError as error:
        print_error(error, stream=err, verbose=bool(_injected.get("verbose")))
        return exit_code_for(error)
    except KeyboardInterrupt:
        err.write("Interrupted.\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `dli ... | head`
        return ExitCode.OK
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else ExitCode.FAILED
    except Exception as error:  # a bug, or a failure no adapter translated: no traceback unless asked
        print_unexpected(error, stream=err, verbose=bool(_injected.get("verbose")))
        return ExitCode.FAILED
    finally:
        # Only the launcher opens a session, and it imports the module: ``dli --help`` and usage
        # errors do not import it (nor the execution context) just to close nothing.
        session = sys.modules.get(f"{_PKG}.session")
        if session is not None:
            session.close_session()
        _injected.clear()
    return int(result) if isinstance(result, int) and not isinstance(result, bool) else ExitCode.OK


def run() -> None:
    """Entry point of the console script: ``sys.exit(invoke())``."""
    sys.exit(invoke())
