"""What the CLI takes from the adapters besides the facade: its configuration files, and the JSON
shape of results (the one the server sends)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.adapters.config_file import ConfigValues

__all__ = ["json_ready", "read_project_server", "read_user_config"]


def json_ready(result: Any) -> Any:
    """A result model as JSON-ready data: the shape the server sends and ``--format json`` prints."""
    from dli.adapters.codecs.results import to_jsonable

    return to_jsonable(result)


def read_user_config(path: Path) -> ConfigValues:
    """The user's config file; a missing file is an empty configuration."""
    from dli.adapters.config_file import read_user_config

    return read_user_config(path)


def read_project_server(project_path: Path) -> ConfigValues:
    """What the CLI's settings take from the project's ``dli.yaml`` (``server.url`` and its warnings)."""
    from dli.adapters.config_file import read_project_server

    return read_project_server(project_path)
