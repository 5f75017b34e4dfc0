"""Where the CLI's settings come from: flags, environment, project ``dli.yaml``, user config, defaults.

Files are read only when a setting is still unresolved after the layers above them, so
``dli workflow list --mode mock`` touches no file and imports no YAML parser.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.context import DEFAULT_SERVER_URL, ExecutionContext, ExecutionMode

if TYPE_CHECKING:
    from dli.adapters.config_file import ConfigValues

__all__ = ["Flags", "Resolved", "credentials_path", "resolve_context", "user_config_path"]

ENV_MODE = "DLI_MODE"
ENV_SERVER_URL = "DLI_SERVER_URL"
ENV_API_TOKEN = "DLI_API_TOKEN"
ENV_CONFIG = "DLI_CONFIG"
ENV_STORE_URL = "DLI_STORE_URL"
ENV_AIRFLOW_URL = "DLI_AIRFLOW_URL"
ENV_AIRFLOW_USERNAME = "DLI_AIRFLOW_USERNAME"
ENV_AIRFLOW_PASSWORD = "DLI_AIRFLOW_PASSWORD"


@attrs.frozen(kw_only=True)
class Flags:
    """Global options given on the command line (``None``: not given)."""

    mode: str | None = None
    """``--mode``."""
    server_url: str | None = None
    """``--server``."""
    project_path: Path | None = None
    """``--path``."""


@attrs.frozen(kw_only=True)
class Resolved:
    """The execution context, and what the user should be told about how it was resolved."""

    context: ExecutionContext
    """Settings for the WorkflowAPI."""
    warnings: tuple[str, ...] = ()
    """Warnings to print on stderr (e.g. a token ignored in dli.yaml)."""


def user_config_path(env: Mapping[str, str]) -> Path:
    """``$DLI_CONFIG``, else ``$XDG_CONFIG_HOME/dli/config.yaml``, else ``~/.config/dli/config.yaml``."""
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "dli" / "config.yaml"


def _mode(value: str, where: str) -> ExecutionMode:
    try:
        return ExecutionMode(value.strip().lower())
    except ValueError:
        raise ConfigurationError(
            f"Invalid execution mode {value!r} ({where})",
            hints=("Use one of: mock, server, local.",),
        ) from None


class _Files:
    """Reads each configuration file at most once, and only when asked."""

    def __init__(self, env: Mapping[str, str], project: Path) -> None:
        self._env = env
        self._project = project
        self._user: ConfigValues | None = None
        self._server: ConfigValues | None = None

    def user(self) -> ConfigValues:
        if self._user is None:
            from dli.entrypoints.bootstrap import read_user_config

            path = user_config_path(self._env)
            if self._env.get("DLI_CONFIG") and not path.exists():
                raise ConfigurationError(
                    f"DLI_CONFIG points at {path}, which does not exist",
                    hints=("Fix or unset DLI_CONFIG; 'dli dev up' writes .dli-dev/client.yaml.",),
                )
            self._user = read_user_config(path)
        return self._user

    def project(self) -> ConfigValues:
        if self._server is None:
            from dli.entrypoints.bootstrap import read_project_server

            self._server = read_project_server(self._project)
        return self._server


def credentials_path(env: Mapping[str, str]) -> Path:
    """Where ``dli auth login`` keeps its tokens: ``$DLI_CREDENTIALS``, else next to the user config file."""
    if env.get("DLI_CREDENTIALS"):
        return Path(env["DLI_CREDENTIALS"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "dli" / "credentials.json"


def _signed_in_token(env: Mapping[str, str]) -> str | None:
    path = credentials_path(env)
    if not path.exists():
        return None
    from dli.entrypoints.bootstrap import login_token

    return login_token(path)


def _first(*getters: Callable[[], str | None]) -> str | None:
    for get in getters:
        value = get()
        if value:
            return value
    return None


def resolve_context(flags: Flags, env: Mapping[str, str] | None = None) -> Resolved:
    """Resolve every setting in the order flags > environment > dli.yaml > user config > defaults.

    The API token and the Airflow password come only from the environment or the user config file.

    Raises:
        ConfigurationError: An invalid mode or a malformed configuration file (DLI-001).
    """
    env = os.environ if env is None else env
    project = (flags.project_path or Path.cwd()).expanduser()
    if flags.project_path is not None and not project.is_dir():
        raise ConfigurationError(f"Project path {str(project)!r} is not a directory", hints=("Check --path.",))
    files = _Files(env, project)

    if flags.mode:
        mode = _mode(flags.mode, "--mode")
    elif env.get(ENV_MODE):
        mode = _mode(env[ENV_MODE], ENV_MODE)
    elif files.user().mode:
        mode = _mode(files.user().mode or "", files.user().source)
    else:
        mode = ExecutionMode.SERVER

    warnings: list[str] = []
    server_url = api_token = None
    store_url = airflow_url = airflow_username = airflow_password = None
    if mode is ExecutionMode.SERVER:
        server_url = (
            _first(
                lambda: flags.server_url,
                lambda: env.get(ENV_SERVER_URL),
                lambda: files.project().server_url,
                lambda: files.user().server_url,
            )
            or DEFAULT_SERVER_URL
        )
        api_token = _first(
            lambda: env.get(ENV_API_TOKEN), lambda: files.user().api_token, lambda: _signed_in_token(env)
        )
        warnings.extend(files.project().warnings)
    elif mode is ExecutionMode.LOCAL:
        store_url = _first(lambda: env.get(ENV_STORE_URL), lambda: files.user().store_url)
        airflow_url = _first(lambda: env.get(ENV_AIRFLOW_URL), lambda: files.user().airflow_url)
        airflow_username = _first(lambda: env.get(ENV_AIRFLOW_USERNAME), lambda: files.user().airflow_username)
        airflow_password = _first(lambda: env.get(ENV_AIRFLOW_PASSWORD), lambda: files.user().airflow_password)

    timeout = 30.0
    if mode is not ExecutionMode.MOCK and files.user().timeout_seconds:
        timeout = files.user().timeout_seconds or timeout

    context = ExecutionContext(
        execution_mode=mode,
        server_url=server_url,
        api_token=api_token,
        project_path=project,
        store_url=store_url,
        airflow_url=airflow_url,
        airflow_username=airflow_username,
        airflow_password=airflow_password,
        timeout_seconds=timeout,
    )
    return Resolved(context=context, warnings=tuple(warnings))
