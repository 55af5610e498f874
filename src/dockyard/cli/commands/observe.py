"""`instances` and `events`: what runs, and what happened to it."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.commands.services import service_path
from dockyard.cli.context import session
from dockyard.cli.options import Env, Output, Team
from dockyard.cli.output import Column, OutputFormat, print_table, show, when
from dockyard.domain.environment import Environment

Service = Annotated[str, typer.Argument(metavar="SVC", help="The service.")]

INSTANCE_COLUMNS = (
    Column("ID", lambda i: i["id"]),
    Column("REVISION", lambda i: i.get("revision"), "right"),
    Column("STATE", lambda i: i.get("state")),
    Column("HEALTH", lambda i: i.get("health")),
    Column("RESTARTS", lambda i: i.get("restarts"), "right"),
    Column("IP", lambda i: i.get("ip")),
    Column("STARTED", lambda i: when(i.get("started_at"))),
    Column("READY", lambda i: when(i.get("ready_at"))),
    Column("LAST LOG", lambda i: _last_line(i.get("last_log"))),
)

EVENT_COLUMNS = (
    Column("AT", lambda e: when(e.get("at"))),
    Column("ENV", lambda e: e.get("env")),
    Column("KIND", lambda e: e.get("kind")),
    Column("MESSAGE", lambda e: e.get("message")),
)


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def instances(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List the instances of the service in ENV, with their health."""
    current = session(ctx)
    path = service_path(current, team, service, "envs", env.value, "instances")
    answer = current.client().get(path)
    show(answer, output, lambda a: print_table(a["items"], INSTANCE_COLUMNS, empty="no instances"))


def events(
    ctx: typer.Context,
    *,
    service: Service,
    env: Annotated[
        Environment | None, typer.Option("--env", "-e", help="Only this environment.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List what happened to the service (rollouts, crashes, scaling), newest first."""
    current = session(ctx)
    path = service_path(current, team, service, "events")
    params = {"env": env.value if env else None, "limit": limit}
    answer = current.client().get(path, params=params)
    show(answer, output, lambda a: print_table(a["items"], EVENT_COLUMNS, empty="no events yet"))


def register(app: typer.Typer) -> None:
    app.command()(instances)
    app.command()(events)
