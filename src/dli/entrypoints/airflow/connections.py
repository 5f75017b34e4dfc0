"""Which Airflow connection a dataset's SQL runs on (pure: no Airflow import, unit-testable).

The spec's ``execution.conn_id`` wins. Otherwise its ``dialect`` picks the connection: the one the
factory's configuration maps it to (``DLI_DIALECT_CONNECTIONS='{"trino": "trino_prod"}'`` in the
environment of the Airflow processes), else ``<dialect>_default``, Airflow's naming convention.
A spec with neither runs on ``dli_default``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from dli.domain.model.errors import ConfigurationError
from dli.domain.model.execution import ExecutionSettings

__all__ = ["DEFAULT_CONN_ID", "DIALECT_CONNECTIONS_ENV", "Connection", "connection_for", "dialect_connections"]

DEFAULT_CONN_ID = "dli_default"
DIALECT_CONNECTIONS_ENV = "DLI_DIALECT_CONNECTIONS"
_EXAMPLE = f"""e.g. {DIALECT_CONNECTIONS_ENV}='{{"trino": "trino_prod", "sqlite": "dli_local"}}'"""


@attrs.frozen
class Connection:
    """The connection id of a dataset's SQL tasks and where it came from (for failure messages)."""

    conn_id: str
    """The Airflow connection id."""
    origin: str
    """How it was chosen, in words."""


def dialect_connections(environ: Mapping[str, str]) -> dict[str, str]:
    """The dialect -> connection id map of ``$DLI_DIALECT_CONNECTIONS`` (a JSON object; empty when unset).

    Raises:
        ConfigurationError: The variable is not a JSON object of names to connection ids (DLI-001).
    """
    raw = (environ.get(DIALECT_CONNECTIONS_ENV) or "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{DIALECT_CONNECTIONS_ENV} is not valid JSON: {exc}", hints=(_EXAMPLE,)) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{DIALECT_CONNECTIONS_ENV} must be a JSON object, got {raw!r}", hints=(_EXAMPLE,))
    bad = sorted(str(k) for k, v in data.items() if not isinstance(v, str) or not v.strip() or not str(k).strip())
    if bad:
        raise ConfigurationError(
            f"{DIALECT_CONNECTIONS_ENV}: dialect(s) {', '.join(map(repr, bad))} need a non-empty connection id",
            hints=(_EXAMPLE,),
        )
    # Dialects are matched without regard to case, as the spec's dialect is.
    return {str(k).strip().lower(): v.strip() for k, v in data.items()}


def connection_for(settings: ExecutionSettings, dialects: Mapping[str, str]) -> Connection:
    """The connection of a dataset's SQL tasks: ``conn_id``, the dialect's mapping, ``<dialect>_default``, ``dli_default``."""
    if settings.conn_id:
        return Connection(settings.conn_id, "execution.conn_id of the spec")
    dialect = settings.dialect
    if dialect is None:
        return Connection(DEFAULT_CONN_ID, "the default connection (the spec names no conn_id or dialect)")
    if dialect in dialects:
        return Connection(dialects[dialect], f"dialect {dialect!r}, mapped by {DIALECT_CONNECTIONS_ENV}")
    return Connection(
        f"{dialect}_default",
        f"dialect {dialect!r}, which {DIALECT_CONNECTIONS_ENV} does not map (Airflow's <dialect>_default)",
    )
