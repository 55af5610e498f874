"""`login` and `whoami`: who the CLI speaks as, and to which server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import ApiClient
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import OutputFormat, print_fields, say, show
from dockyard.settings import ClientCredentials, write_credentials


def login(
    ctx: typer.Context,
    *,
    url: Annotated[str, typer.Argument(help="Server URL, e.g. http://dockyard.example:8420")],
    token: Annotated[str, typer.Option("--token", help="An API token from your platform team.")],
) -> None:
    """Check the token against the server, then store both for later commands (mode 0600)."""
    current = session(ctx)
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("use http://HOST:PORT or https://HOST", param_hint="URL")
    probe = ApiClient(url, token, transport=current.env.transport)
    try:
        me = probe.get("/whoami")
    finally:
        probe.close()
    path = current.settings.client.config_file
    write_credentials(path, ClientCredentials(url=url, token=token))
    say(f"logged in to {url} as {_identity(me)}; saved to {path}")


def whoami(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """Show the server and the identity your token stands for."""
    current = session(ctx)
    me = current.whoami()
    url = current.client().url
    show(me, output, lambda m: print_fields([("server", url), ("identity", _identity(m))]))


def _identity(me: dict[str, Any]) -> str:
    if me.get("admin"):
        return f"{me.get('name', 'admin')} (platform admin)"
    return f"{me.get('name')} (team {me.get('team')})"


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(whoami)
