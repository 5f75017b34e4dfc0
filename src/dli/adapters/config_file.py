"""Configuration files of the CLI, read from YAML.

Two files feed the CLI's settings (flags and environment variables come first; docs/cli.md,
"Configuration", gives the order):

- the user's config file (``$DLI_CONFIG`` or ``$XDG_CONFIG_HOME/dli/config.yaml``), private to the
  user, so it may hold the API token and the Airflow password;
- the project's ``dli.yaml``, whose ``server:`` section may name the server URL (read by
  ``dli.adapters.project_config``; a token found there is ignored, as the file is committed to Git).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from dli.domain.model.errors import ConfigurationError

__all__ = ["ConfigValues", "read_project_server", "read_user_config"]

_USER_KEYS = {"mode", "server", "local", "timeout_seconds"}
_SERVER_KEYS = {"url", "token"}
_LOCAL_KEYS = {"store_url", "airflow_url", "airflow_username", "airflow_password"}


@attrs.frozen(kw_only=True)
class ConfigValues:
    """Settings found in one configuration file; ``None`` means "not set here"."""

    source: str
    """Where the values come from (a path), for messages."""
    mode: str | None = None
    """Execution mode: ``mock``, ``server`` or ``local``."""
    server_url: str | None = None
    """Basecamp server URL."""
    api_token: str | None = attrs.field(default=None, repr=False)
    """Bearer token for the Basecamp server (user config file only)."""
    store_url: str | None = None
    """Spec store URL for LOCAL mode."""
    airflow_url: str | None = None
    """Airflow API server URL for LOCAL mode."""
    airflow_username: str | None = None
    """Airflow user for LOCAL mode."""
    airflow_password: str | None = attrs.field(default=None, repr=False)
    """Airflow password for LOCAL mode (user config file only)."""
    timeout_seconds: float | None = None
    """Timeout of each request to a server."""
    warnings: tuple[str, ...] = ()
    """Things the user should know about the file (e.g. an ignored token)."""


def _load(path: Path) -> Any:
    # Imported here: the common case has no user config file, and the CLI's start does not pay for YAML.
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read config file {path}: {exc.strerror}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"Config file {path} is not valid YAML{at}") from None


def _section(data: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{path}: '{key}' must be a mapping")
    return value


def _string(section: Mapping[str, Any], key: str, where: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in section if k not in allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}",
            hints=(f"Known keys: {', '.join(sorted(allowed))}.",),
        )


def read_user_config(path: Path) -> ConfigValues:
    """The user's config file; a missing file is an empty configuration.

    Example file::

        mode: server
        server:
          url: https://basecamp.example.com
          token: <api token>
        local:
          store_url: s3://bucket/specs
          airflow_url: http://localhost:8080
          airflow_username: admin
          airflow_password: admin
        timeout_seconds: 30

    Raises:
        ConfigurationError: Unreadable file, invalid YAML, unknown keys or wrong types (DLI-001).
    """
    if not path.is_file():
        return ConfigValues(source=str(path))
    data = _load(path)
    if data is None:
        return ConfigValues(source=str(path))
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    # A typo in a private config file would otherwise be silently ignored: refuse unknown keys.
    _check_keys(data, _USER_KEYS, str(path))
    server = _section(data, "server", path)
    local = _section(data, "local", path)
    _check_keys(server, _SERVER_KEYS, f"{path} [server]")
    _check_keys(local, _LOCAL_KEYS, f"{path} [local]")
    timeout = data.get("timeout_seconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigurationError(f"{path}: 'timeout_seconds' must be a positive number")
    return ConfigValues(
        source=str(path),
        mode=_string(data, "mode", str(path)),
        server_url=_string(server, "url", f"{path} [server]"),
        api_token=_string(server, "token", f"{path} [server]"),
        store_url=_string(local, "store_url", f"{path} [local]"),
        airflow_url=_string(local, "airflow_url", f"{path} [local]"),
        airflow_username=_string(local, "airflow_username", f"{path} [local]"),
        airflow_password=_string(local, "airflow_password", f"{path} [local]"),
        timeout_seconds=float(timeout) if timeout is not None else None,
    )


def read_project_server(project_path: Path) -> ConfigValues:
    """What the CLI's settings take from the project's ``dli.yaml`` (empty without one): ``server.url``,
    and the warnings about ``server`` (keys that look misspelt, a committed token that is ignored).

    Raises:
        ConfigurationError: A malformed ``server:`` section (DLI-001).
        SpecInvalidError: Another key dli reads is malformed (DLI-203).
    """
    from dli.adapters.project_config import PROJECT_FILE, read_project_config

    path = project_path / PROJECT_FILE
    if not path.is_file():
        return ConfigValues(source=str(path))
    config = read_project_config(project_path)
    return ConfigValues(source=str(path), server_url=config.server_url, warnings=config.server_warnings)
