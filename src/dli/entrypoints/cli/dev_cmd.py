"""``dli dev up | down | status``: the whole system on a laptop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter

dev_app = App(name="dev", help="Run a local development stack (Airflow, spec store, Basecamp server).")

Home = Annotated[Path, Parameter(help="Folder of the stack's data, logs and state.", env_var="DLI_DEV_HOME")]


def _console():
    from rich.console import Console

    # No wrapping: a path cut in two cannot be copied; no markup: a path may hold [brackets].
    return Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


@dev_app.command
def up(
    *,
    home: Home = Path(".dli-dev"),
    airflow_venv: Annotated[
        str | None, Parameter(help="Virtualenv with Airflow 3 and dli.", env_var="DLI_AIRFLOW_VENV")
    ] = None,
    airflow_port: Annotated[
        int, Parameter(help="Port of Airflow's API server and UI.", env_var="DLI_DEV_AIRFLOW_PORT")
    ] = 8080,
    server_port: Annotated[int, Parameter(help="Port of the Basecamp server.", env_var="DLI_DEV_SERVER_PORT")] = 8081,
    user: str = os.environ.get("USER", "dev"),
    timeout: float = 300.0,
) -> int:
    """Start Airflow standalone with the DAG factory, the Basecamp server and a token; idempotent.

    Interrupted (Ctrl-C, kill, the terminal closing), it stops what it had started.
    """
    from dli.entrypoints.devstack.processes import signals_interrupt
    from dli.entrypoints.devstack.stack import DevStack, find_airflow_venv

    console = _console()
    stack = DevStack(home, user=user)
    with signals_interrupt():
        state = stack.up(
            airflow_venv=find_airflow_venv(airflow_venv),
            airflow_port=airflow_port,
            basecamp_port=server_port,
            progress=console.print,
            timeout_seconds=timeout,
        )
    airflow, basecamp = state["airflow"], state["basecamp"]
    # Every path ends its line, so that a terminal folding a long line leaves it whole to copy.
    print(f"Airflow UI:        {airflow['url']}  (user admin, password in the file below)")
    print(f"Password file:     {stack.home / 'airflow' / 'simple_auth_manager_passwords.json.generated'}")
    print(f"Basecamp server:   {basecamp['url']}")
    print(f"OpenAPI:           {basecamp['url']}/openapi.json")
    print(f"Web console:       {basecamp['url']}/ui/")
    print("                   (sign in with the server token of the client config below)")
    print(f"Spec store:        {stack.store_url}")
    print(f"SQL database:      {stack.database}")
    print("                   (Airflow connections dli_local, dli_default, sqlite_default)")
    print(f"Logs:              {stack.home / 'logs'}")
    if state.get("user_config"):
        print(f"Client config:     {state['user_config']}")
        print("                   (dli workflow ... now talks to this stack)")
    else:
        print(f"Client config:     {stack.client_config}")
        print(f"Use it with:       export DLI_CONFIG={stack.client_config}")
    return 0


@dev_app.command
def down(*, home: Home = Path(".dli-dev")) -> int:
    """Stop what 'dli dev up' started (only that); the data stays in the home folder."""
    from dli.entrypoints.devstack.stack import DevStack

    stopped = DevStack(home).down(progress=_console().print)
    print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


@dev_app.command
def status(*, home: Home = Path(".dli-dev")) -> int:
    """Show each component, its URL, health and log; exit 1 unless all are healthy."""
    from dli.entrypoints.devstack.stack import DevStack

    components = DevStack(home).status()
    for c in components:
        state = "healthy" if c.healthy else "running, not healthy" if c.running else "stopped"
        print(f"{c.name:<9} {state:<22} {c.url or '-':<28} {c.log or ''}")
    return 0 if all(c.healthy for c in components) else 1
