"""Timeouts handed to the adapters: checked once here, whichever way they came (flags, environment)."""

from __future__ import annotations

import os

from dli.domain.model.errors import ConfigurationError

__all__ = ["check_timeout", "env_seconds"]


def check_timeout(value: float | None, what: str) -> float | None:
    """``value`` if it is a usable timeout in seconds (or ``None``: the default), else DLI-001 naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigurationError(
            f"{what} must be a positive number of seconds, got {value!r}",
            hints=("Keep each dependency's timeouts well below the clients' own (30 s by default).",),
        )
    return float(value)


def env_seconds(name: str) -> float | None:
    """A timeout from the environment (LOCAL mode reads what ``basecamp serve`` reads), or ``None``."""
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}") from None
