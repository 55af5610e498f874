"""`teams`: list, create and delete the teams that own services (create/delete: admin only)."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when

teams_app = typer.Typer(help="List teams; create or delete one (admin).")

COLUMNS = (
    Column("NAME", lambda t: t["name"]),
    Column("DESCRIPTION", lambda t: t.get("description") or ""),
    Column("CREATED", lambda t: when(t.get("created_at"))),
)


@teams_app.callback(invoke_without_command=True)
def list_teams(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """List the teams you can see."""
    if ctx.invoked_subcommand is not None:
        return
    answer = session(ctx).client().get("/teams")
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no teams yet"))


@teams_app.command("create")
def create_team(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Team name: lowercase letters, digits and '-'.")],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    output: Output = OutputFormat.TABLE,
) -> None:
    """Create a team."""
    body = {"name": name, "description": description} if description else {"name": name}
    team = session(ctx).client().post("/teams", body)
    show(team, output, lambda t: say(f"team {t['name']} created"))


@teams_app.command("delete")
def delete_team(ctx: typer.Context, *, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a team that has no services left."""
    session(ctx).client().delete(api_path("teams", name))
    say(f"team {name} deleted")


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")
