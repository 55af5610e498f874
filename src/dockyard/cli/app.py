"""The `dockyard` command: the root group, its global options, and one-line error reporting."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dockyard.cli.commands import (
    account,
    alarms,
    autoscale,
    drains,
    host,
    log_retention,
    logcenter,
    logs,
    names,
    observe,
    releases,
    services,
    teams,
    tokens,
    top,
)
from dockyard.cli.commands import agent as agent_command
from dockyard.cli.commands import balancer as balancer_command
from dockyard.cli.commands import builds as build_commands
from dockyard.cli.commands import endpoints as endpoint_commands
from dockyard.cli.commands import environments as environment_commands
from dockyard.cli.commands import images as image_commands
from dockyard.cli.commands import ipam as ipam_commands
from dockyard.cli.commands import promote as promote_commands
from dockyard.cli.commands import segments as segment_commands
from dockyard.cli.context import CliEnv, Session
from dockyard.cli.errors import CliError
from dockyard.cli.output import warn
from dockyard.domain.errors import DockyardError


class _ReportingGroup(TyperGroup):
    """Turns a CliError (or a domain error, e.g. a bad setting) into `error: <message>`."""

    def invoke(self, ctx: Any) -> Any:  # Any: the Context type lives in typer._click (private)
        try:
            return super().invoke(ctx)
        except CliError as exc:
            warn(f"error: {exc.message}")
            ctx.exit(exc.exit_code)
        except DockyardError as exc:
            warn(f"error: {exc.message}")
            ctx.exit(1)
        finally:
            found = ctx.find_object(Session)
            if found is not None:
                found.close()


app = typer.Typer(
    cls=_ReportingGroup,
    name="dockyard",
    help="Dockyard: build, run, promote, scale and roll back services in four environments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="Server URL (default: your login, or this host).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="API token (default: your login).")
    ] = None,
) -> None:
    """Talk to a Dockyard server, or run the platform on this host (`dockyard up`)."""
    env = ctx.obj if isinstance(ctx.obj, CliEnv) else CliEnv()
    ctx.obj = Session(env, url=url, token=token)


host.register(app)
account.register(app)
teams.register(app)
tokens.register(app)
services.register(app)
releases.register(app)
autoscale.register(app)
observe.register(app)
top.register(app)
logs.register(app)
endpoint_commands.register(app)
drains.register(app)
alarms.register(app)
segment_commands.register(app)
environment_commands.register(app)
agent_command.register(app)
balancer_command.register(app)
logcenter.register(app)
names.register(app)
log_retention.register(app)
ipam_commands.register(app)
build_commands.register(app)
image_commands.register(app)
promote_commands.register(app)


def main() -> None:
    """Entry point of the `dockyard` script."""
    app()
