"""``dli completion SHELL``: print (or install) the shell completion script."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from cyclopts import Parameter

__all__ = ["completion"]


def completion(
    shell: Annotated[Literal["bash", "zsh", "fish"], Parameter(help="Shell to complete in.")],
    /,
    *,
    install: Annotated[
        bool, Parameter(negative="", help="Write the script where the shell finds it (and source it from the rc file).")
    ] = False,
    output: Annotated[Path | None, Parameter(help="With --install: write the script here instead.")] = None,
) -> int:
    """Shell completion for bash, zsh or fish.

    Print the script (e.g. ``dli completion bash > ~/.local/share/bash-completion/completions/dli``)
    or let dli install it with ``--install``.
    """
    from dli.entrypoints.cli.app import app
    from dli.entrypoints.cli.session import current

    session = current()
    if install:
        path = app.install_completion(shell=shell, output=output)
        session.write(f"Installed {shell} completion in {path}; open a new shell to use it.")
    else:
        session.out.write(app.generate_completion(prog_name="dli", shell=shell))
    return 0
