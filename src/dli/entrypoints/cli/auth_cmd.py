"""``dli auth login | status | logout``: sign in with the company's identity provider (OIDC).

``login`` runs the authorization-code flow with PKCE through a loopback redirect (RFC 8252): the
browser opens the issuer's page (``--no-browser``: the URL is printed, to open anywhere on this
machine), and the tokens are kept in the user config folder (``$DLI_CREDENTIALS``, else
``$XDG_CONFIG_HOME/dli/credentials.json``), mode 0600. Commands then send the ID token, refreshed
when it has expired; ``DLI_API_TOKEN`` (or the config file's token) still wins.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Annotated

from cyclopts import App, Parameter

auth_app = App(name="auth", help="Sign in to Basecamp with your identity provider (OIDC).")


@auth_app.command
def login(
    *,
    issuer: Annotated[str, Parameter(env_var="DLI_OIDC_ISSUER", help="The OpenID Connect issuer URL.")],
    client_id: Annotated[str, Parameter(env_var="DLI_OIDC_CLIENT_ID", help="dli's client id at the issuer.")] = "dli",
    no_browser: Annotated[
        bool, Parameter(negative="", help="Print the sign-in URL instead of opening a browser.")
    ] = False,
    client_secret: Annotated[
        str | None,
        Parameter(env_var="DLI_OIDC_CLIENT_SECRET", show=False),
    ] = None,
) -> int:
    """Sign in: open the issuer's page, keep the tokens it gives (mode 0600)."""
    from dli.entrypoints.bootstrap import sign_in
    from dli.entrypoints.cli.settings import credentials_path

    def show(url: str) -> None:
        print(
            "Open this URL in a browser on this machine to sign in:" if no_browser else "Opening the browser at:",
            file=sys.stderr,
        )
        print(url, file=sys.stderr, flush=True)

    def browser(url: str) -> bool:
        import webbrowser

        return webbrowser.open(url)

    path = credentials_path(os.environ)
    # Some issuers give native apps a client "secret" (RFC 8252 8.5: it is not one); from the environment only.
    login = sign_in(
        issuer=issuer,
        client_id=client_id,
        path=path,
        show_url=show,
        open_browser=None if no_browser else browser,
        client_secret=client_secret,
    )
    print(f"Signed in as {login.user or '?'} at {login.issuer}; tokens kept in {path}.", file=sys.stderr)
    return 0


@auth_app.command
def status() -> int:
    """Show who you are signed in as, and until when (1 when not signed in)."""
    from dli.entrypoints.bootstrap import signed_in
    from dli.entrypoints.cli.settings import credentials_path

    if os.environ.get("DLI_API_TOKEN"):
        print("DLI_API_TOKEN is set: commands send it, whatever the sign-in below.")
    path = credentials_path(os.environ)
    login = signed_in(path)
    if login is None:
        print("Not signed in (dli auth login).")
        return 1
    until = dt.datetime.fromtimestamp(login.expires_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    groups = f" (groups: {', '.join(login.groups)})" if login.groups else ""
    refresh = "renewable" if login.refresh_token else "not renewable: sign in again then"
    print(f"Signed in as {login.user or '?'}{groups} at {login.issuer}")
    print(f"Token valid until {until} ({refresh}); kept in {path}")
    return 0


@auth_app.command
def logout() -> int:
    """Forget the kept tokens."""
    from dli.entrypoints.bootstrap import sign_out
    from dli.entrypoints.cli.settings import credentials_path

    path = credentials_path(os.environ)
    print("Signed out." if sign_out(path) else "Not signed in.", file=sys.stderr)
    return 0
