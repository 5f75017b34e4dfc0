"""The composition root: the one package that chooses and wires adapters.

Every entrypoint gets its adapters from here (an import-linter contract keeps it so), one module a
concern:

- ``wiring``: the ``WorkflowAPI`` facade's ports for each execution mode (``bootstrap``), the
  bus of ``dli workflow publish`` (``build_publisher``), and a store's audit trail (``build_audit_log``);
- ``stores``: spec stores by URL (``build_store``; ``build_factory_store`` for the DAG factory);
- ``orchestrators``: Airflow or the simulation by URL (``build_orchestrator``);
- ``server``: what ``basecamp serve`` runs (``build_server``), its tokens file (``build_tokens``), and policy file (``read_policy_file``);
- ``cli``: the CLI's configuration files and the JSON shape it prints (``json_ready``);
- ``timeouts``: the dependency timeouts, checked once.

Nothing is built at import time, and heavy adapters (httpx, boto3, YAML) are imported only when a
mode needs them, so that ``dli --help`` and MOCK mode stay fast.
"""

from __future__ import annotations

from dli.entrypoints.bootstrap.cli import (
    json_ready,
    login_token,
    read_project_server,
    read_user_config,
    sign_in,
    sign_out,
    signed_in,
)
from dli.entrypoints.bootstrap.orchestrators import build_orchestrator, public_url
from dli.entrypoints.bootstrap.server import build_server, build_tokens, read_policy_file
from dli.entrypoints.bootstrap.stores import build_factory_store, build_store, warm_factory
from dli.entrypoints.bootstrap.timeouts import check_timeout
from dli.entrypoints.bootstrap.wiring import Wiring, bootstrap, build_audit_log, build_publisher

__all__ = [
    "Wiring",
    "bootstrap",
    "build_factory_store",
    "build_orchestrator",
    "build_publisher",
    "build_audit_log",
    "build_server",
    "build_store",
    "build_tokens",
    "check_timeout",
    "json_ready",
    "public_url",
    "login_token",
    "read_policy_file",
    "sign_in",
    "sign_out",
    "signed_in",
    "read_project_server",
    "read_user_config",
    "warm_factory",
]
