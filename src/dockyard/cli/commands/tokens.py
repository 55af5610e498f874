"""`tokens`: list API tokens, issue one for a team, revoke one (issue/revoke: admin only)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when

tokens_app = typer.Typer(help="List tokens; create one for a team or revoke one (admin).")

COLUMNS = (
    Column("ID", lambda t: t["id"]),
    Column("NAME", lambda t: t["name"]),
    Column("TEAM", lambda t: t.get("team") or "(admin)"),
    Column("CREATED", lambda t: when(t.get("created_at"))),
    Column("EXPIRES", lambda t: when(t.get("expires_at"))),
    Column("REVOKED", lambda t: when(t.get("revoked_at"))),
)


@tokens_app.callback(invoke_without_command=True)
def list_tokens(
    ctx: typer.Context,
    *,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Only this team's.")] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List tokens (never their secrets)."""
    if ctx.invoked_subcommand is not None:
        return
    answer = session(ctx).client().get("/tokens", params={"team": team})
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no tokens"))


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    *,
    team: Annotated[str, typer.Option("--team", "-t", help="The team the token acts for.")],
    name: Annotated[str, typer.Option("--name", "-n", help="What the token is for, e.g. ci.")],
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Expire after this many days.")
    ] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Issue a token for a team; its secret is shown this once."""
    body: dict[str, Any] = {"name": name}
    if expires_days is not None:
        body["expires_in_days"] = expires_days
    token = session(ctx).client().post(api_path("teams", team, "tokens"), body)
    show(token, output, _print_secret)


def _print_secret(token: dict[str, Any]) -> None:
    say(f"token {token['id']} ({token['name']}) for team {token['team']} created.")
    say("Its secret is shown only now; store it safely:")
    typer.echo(token["token"])  # bare, so it copies and pipes cleanly


@tokens_app.command("revoke")
def revoke_token(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(metavar="ID")]
) -> None:
    """Revoke a token at once; requests bearing it are refused from now on."""
    token = session(ctx).client().delete(api_path("tokens", token_id))
    say(f"token {token_id} revoked at {when(token.get('revoked_at') if token else None)}")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
