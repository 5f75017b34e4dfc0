"""State of one ``dli`` invocation: resolved settings, the WorkflowAPI (built once, on first use),
the output streams and the clock used while following runs.

The meta launcher in ``app.py`` opens the session; commands fetch it with ``current()``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import attrs

from dli.entrypoints.context import ExecutionContext

if TYPE_CHECKING:
    from rich.console import Console

    from dli.entrypoints.api import WorkflowAPI
    from dli.entrypoints.cli.settings import Resolved

__all__ = ["ApiFactory", "Session", "current", "open_session"]

ApiFactory = Callable[[ExecutionContext], "WorkflowAPI"]


def default_api_factory(context: ExecutionContext) -> WorkflowAPI:
    """The facade, wired by the composition root for ``context``."""
    from dli.entrypoints.api import WorkflowAPI

    return WorkflowAPI(context)


@attrs.define(kw_only=True)
class Session:
    """Everything a command needs besides its own arguments."""

    settings: Callable[[], Resolved]
    """Resolves the settings, on first use: ``dli dev`` and ``completion`` never read a config file
    (``dev up`` writes the one ``DLI_CONFIG`` may point at)."""
    verbose: bool = False
    """``--verbose``: tracebacks on errors."""
    api_factory: ApiFactory = default_api_factory
    """Builds the WorkflowAPI (tests pass one wired to fakes)."""
    stdout: TextIO | None = None
    """Output stream (``None``: ``sys.stdout`` at the time of writing)."""
    stderr: TextIO | None = None
    """Error and progress stream (``None``: ``sys.stderr``)."""
    sleep: Callable[[float], None] = time.sleep
    """Used between polls of ``--wait``."""
    monotonic: Callable[[], float] = time.monotonic
    """Used for ``--timeout``."""
    now: Callable[[], dt.datetime] = attrs.field(factory=lambda: _utc_now)
    """The current time (``register --dry-run`` counts fire times from it)."""
    _context: ExecutionContext | None = None
    _api: WorkflowAPI | None = None
    _console: Console | None = None
    _err_console: Console | None = None

    @property
    def context(self) -> ExecutionContext:
        """The resolved settings; their warnings (e.g. a token ignored in dli.yaml) are printed once."""
        if self._context is None:
            resolved = self.settings()
            self._context = resolved.context
            for warning in resolved.warnings:
                self.warn(warning)
        return self._context

    @property
    def api(self) -> WorkflowAPI:
        """The WorkflowAPI of this invocation (MOCK mode state lives as long as it does)."""
        if self._api is None:
            self._api = self.api_factory(self.context)
        return self._api

    @property
    def out(self) -> TextIO:
        """Where results go."""
        return self.stdout or sys.stdout

    @property
    def err(self) -> TextIO:
        """Where errors, warnings and progress go."""
        return self.stderr or sys.stderr

    def write(self, text: str = "") -> None:
        """Write a line of plain text to the output."""
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        """Write ``Warning: text`` to the error stream."""
        self.err.write(f"Warning: {text}\n")

    @property
    def console(self) -> Console:
        """A rich console on the output (wide and colourless when it is not a terminal)."""
        if self._console is None:
            self._console = _make_console(self.out)
        return self._console

    @property
    def err_console(self) -> Console:
        """A rich console on the error stream, for spinners and progress bars."""
        if self._err_console is None:
            self._err_console = _make_console(self.err)
        return self._err_console

    def err_is_terminal(self) -> bool:
        """Whether progress may be drawn (an interactive terminal on stderr)."""
        return self.err_console.is_terminal


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _make_console(stream: TextIO) -> Console:
    from rich.console import Console

    console = Console(file=stream, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        # Piped output is for scripts and files: never wrap or truncate a table row.
        console = Console(file=stream, highlight=False, width=max(console.width, 200), no_color=True)
    return console


_current: Session | None = None


def open_session(session: Session) -> Session:
    """Make ``session`` the current one."""
    global _current
    _current = session
    return session


def close_session() -> None:
    """Close the current session's backends and forget it."""
    global _current
    if _current is not None and _current._api is not None:
        _current._api.close()
    _current = None


def current() -> Session:
    """The session of the running invocation."""
    if _current is None:  # pragma: no cover - only when a command module is called outside the app
        raise RuntimeError("no dli CLI session is open")
    return _current
