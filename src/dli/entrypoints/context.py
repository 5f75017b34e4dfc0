"""Execution context: which mode the library runs in and where its servers are."""

from __future__ import annotations

import enum
import getpass
from pathlib import Path

import attrs

__all__ = ["DEFAULT_SERVER_URL", "ExecutionContext", "ExecutionMode"]

DEFAULT_SERVER_URL = "http://localhost:8081"


class ExecutionMode(str, enum.Enum):
    """Where operations run: in process over sample data (MOCK), through a Basecamp server (SERVER), or in
    process over a real store and Airflow (LOCAL)."""

    MOCK = "mock"
    """In process, over in-memory adapters seeded with sample workflows."""
    SERVER = "server"
    """Through a Basecamp server."""
    LOCAL = "local"
    """In process, over a real spec store and an Airflow URL."""


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "unknown"


@attrs.frozen(kw_only=True)
class ExecutionContext:
    """Everything the library needs to know to reach its backends.

    Secrets are kept out of ``repr`` so that contexts can be logged.
    """

    execution_mode: ExecutionMode = attrs.field(default=ExecutionMode.SERVER, converter=ExecutionMode)
    """MOCK, SERVER or LOCAL."""
    server_url: str | None = None
    """Basecamp server URL (SERVER mode)."""
    api_token: str | None = attrs.field(default=None, repr=False)
    """Bearer token for the Basecamp server (SERVER mode)."""
    project_path: Path = attrs.field(factory=Path.cwd, converter=Path)
    """Project whose dataset specs ``register`` reads."""
    store_url: str | None = None
    """Spec store (LOCAL mode): ``file:///path`` or ``s3://bucket/prefix``."""
    airflow_url: str | None = None
    """Airflow API server (LOCAL mode)."""
    airflow_username: str | None = None
    """Airflow user (LOCAL mode)."""
    airflow_password: str | None = attrs.field(default=None, repr=False)
    """Airflow password (LOCAL mode)."""
    timeout_seconds: float = 30.0
    """Timeout of each request to a server."""
    user: str = attrs.field(factory=_default_user)
    """Who operations are recorded as in MOCK and LOCAL modes (the server uses the token's user)."""
