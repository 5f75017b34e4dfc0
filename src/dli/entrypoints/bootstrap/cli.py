"""What the CLI takes from the adapters besides the facade: its configuration files, and the JSON
shape of results (the one the server sends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli.adapters.config_file import ConfigValues
    from dli.adapters.oidc_login import StoredLogin

__all__ = [
    "json_ready",
    "login_token",
    "read_project_server",
    "read_user_config",
    "sign_in",
    "sign_out",
    "signed_in",
]


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


def sign_in(
    *,
    issuer: str,
    client_id: str,
    path: Path,
    show_url: Callable[[str], None],
    open_browser: Callable[[str], bool] | None,
    client_secret: str | None = None,
) -> StoredLogin:
    """``dli auth login``: the authorization-code flow with PKCE; the tokens are kept in ``path`` (mode 0600)."""
    from dli.adapters.oidc_login import LoginStore, OIDCLogin

    client = OIDCLogin(issuer, client_id, client_secret=client_secret)
    try:
        login = client.login(show_url=show_url, open_browser=open_browser)
    finally:
        client.close()
    LoginStore(path).save(login)
    return login


def signed_in(path: Path) -> StoredLogin | None:
    """What ``dli auth login`` kept, if anything."""
    from dli.adapters.oidc_login import LoginStore

    return LoginStore(path).load()


def sign_out(path: Path) -> bool:
    """Forget the kept sign-in; whether there was one."""
    from dli.adapters.oidc_login import LoginStore

    return LoginStore(path).delete()


def login_token(path: Path, *, now: Callable[[], float] = time.time) -> str | None:
    """The ID token of the kept sign-in, refreshed (and kept) first when it has expired; ``None``: not signed in."""
    if not path.exists():
        return None
    from dli.adapters.oidc_login import LoginStore, OIDCLogin

    store = LoginStore(path)
    login = store.load()
    if login is None:
        return None
    if login.expired(now()):
        client = OIDCLogin(login.issuer, login.client_id, client_secret=login.client_secret)
        try:
            login = client.refresh(login)
        finally:
            client.close()
        store.save(login)
    return login.id_token
